"""The emulator's other exchange shapes (``emulator/shapes.py``) and their flaws, over
real loopback servers: RFC 8693 token exchange, Stytch attest, Privy custom JWT, and
Dynamic's sign-in as a target of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from conformance.emulator.shapes import (
    ACCESS_TOKEN_TYPE,
    JWT_TOKEN_TYPE,
    PRIVY_APP_HEADER,
    PRIVY_PATH,
    TOKEN_EXCHANGE_GRANT,
)
from conformance.emulator.testing import DELETE, ENV_A, ENV_B, Harness, Keys, world

pytestmark = pytest.mark.slow

AUDIENCE = "https://app.example"


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def h(keys: Keys) -> Iterator[Harness]:
    with world(keys, audience=AUDIENCE) as harness:
        yield harness


def _token(h: Harness, **claims: Any) -> str:
    """A valid subject token for these shapes: no scope claim, audience set."""
    return h.assertion(**{"scope": DELETE, "aud": AUDIENCE, **claims})


def _exchange(h: Harness, token: str, **form: str | None) -> Any:
    fields: dict[str, str | None] = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": token,
        "subject_token_type": JWT_TOKEN_TYPE,
    }
    fields.update(form)
    data = {k: v for k, v in fields.items() if v is not None}
    return h.client.post(h.url("oauth/token"), data=data)


def _attest(h: Harness, token: Any, *, env: str = ENV_A, **body: Any) -> Any:
    payload = {"profile_id": env, "token": token, **body}
    return h.client.post(h.url("v1/sessions/attest", env=env), json=payload)


def _privy(h: Harness, token: str, *, app_id: str | None = ENV_A) -> Any:
    headers = {PRIVY_APP_HEADER: app_id} if app_id is not None else {}
    return h.client.post(f"{h.base_url}{PRIVY_PATH}", json={"token": token}, headers=headers)


def _signin(h: Harness, token: str) -> Any:
    return h.client.post(h.url("externalAuth/signin"), json={"jwt": token})


def _jwks_key(h: Harness) -> Any:
    jwks = h.client.get(h.url(".well-known/jwks")).json()
    return jwt.PyJWK(jwks["keys"][0]).key


# -- RFC 8693 ----------------------------------------------------------------------------


def test_token_exchange_issues_an_access_token_for_the_subject(h: Harness) -> None:
    reply = _exchange(h, _token(h, sub="carol"), scope="wallet:export")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    claims = jwt.decode(body["access_token"], _jwks_key(h), algorithms=["ES256"], audience=AUDIENCE)
    assert claims["sub"] == "carol"
    assert claims["scope"] == body["scope"] == "wallet:export"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"subject_token_type": ACCESS_TOKEN_TYPE}, "invalid_request"),
        ({"subject_token_type": None}, "invalid_request"),
        ({"subject_token": None}, "invalid_request"),
        ({"actor_token": "x"}, "invalid_request"),
        ({"scope": "wallet:everything"}, "invalid_scope"),
    ],
)
def test_token_exchange_refuses_bad_requests_with_oauth_errors(
    h: Harness, form: dict[str, str | None], error: str
) -> None:
    reply = _exchange(h, _token(h), **form)
    assert reply.status_code == 400, reply.text
    assert reply.json() == {"error": error}


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 300},
        {"aud": "https://other.example"},
        {"iss": "https://issuer-b.example"},
        {"sub": DELETE},
    ],
    ids=["expired", "wrong_aud", "wrong_iss", "no_sub"],
)
def test_token_exchange_refuses_bad_subject_tokens(h: Harness, claims: dict[str, Any]) -> None:
    reply = _exchange(h, _token(h, **claims))
    assert 400 <= reply.status_code < 500
    assert "access_token" not in reply.text


def test_token_exchange_refuses_a_replayed_subject_token(h: Harness) -> None:
    token = _token(h)
    assert _exchange(h, token).status_code == 200
    assert _exchange(h, token).status_code == 401


def test_token_exchange_accepts_a_subject_token_without_jti(h: Harness) -> None:
    assert _exchange(h, _token(h, jti=DELETE)).status_code == 200


# -- Stytch attest -------------------------------------------------------------------------


def test_attest_opens_a_session_for_the_tokens_subject(h: Harness) -> None:
    reply = _attest(h, _token(h, sub="dave"), session_duration_minutes=30)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["user"]["trusted_metadata"]["external_id"] == "dave"
    claims = jwt.decode(body["session_jwt"], _jwks_key(h), algorithms=["ES256"])
    assert claims["external_sub"] == "dave"
    # the session lasts 30 minutes; its JWT, as Stytch's, 5 (STYTCH_JWT_S)
    assert claims["exp"] - claims["iat"] == 5 * 60


@pytest.mark.parametrize(
    "body",
    [
        {"profile_id": ENV_B},
        {"session_duration_minutes": 1},
        {"session_duration_minutes": "60"},
        {"token": 7},
    ],
    ids=["other_profile", "too_short", "string_minutes", "token_not_string"],
)
def test_attest_refuses_bad_requests(h: Harness, body: dict[str, Any]) -> None:
    payload = {"profile_id": ENV_A, "token": _token(h), **body}
    reply = h.client.post(h.url("v1/sessions/attest"), json=payload)
    assert reply.status_code == 400, reply.text


def test_attest_refuses_wrong_audience_and_replay(h: Harness) -> None:
    assert _attest(h, _token(h, aud="https://other.example")).status_code == 401
    token = _token(h)
    assert _attest(h, token).status_code == 200
    assert _attest(h, token).status_code == 401


# -- Privy custom JWT ----------------------------------------------------------------------


def test_privy_authenticate_opens_a_session(h: Harness) -> None:
    reply = _privy(h, _token(h, sub="erin"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["user"]["linked_accounts"][0]["custom_user_id"] == "erin"
    claims = jwt.decode(body["token"], _jwks_key(h), algorithms=["ES256"])
    assert claims["external_sub"] == "erin"


def test_privy_needs_its_app_id_and_an_unexpired_token(h: Harness) -> None:
    assert _privy(h, _token(h), app_id=None).status_code == 400
    assert _privy(h, _token(h), app_id=str(uuid.uuid4())).status_code == 404
    assert _privy(h, _token(h, exp=int(time.time()) - 300)).status_code == 401
    assert _privy(h, _token(h, exp=DELETE)).status_code == 400


# -- the shape flaws -----------------------------------------------------------------------


def test_shape_flaws_each_break_their_check(keys: Keys) -> None:
    flaws = (
        "signin_aud_ignored",
        "subject_token_replayable",
        "attest_aud_ignored",
        "custom_jwt_exp_unchecked",
    )
    with world(keys, audience=AUDIENCE, flaws=flaws) as f:
        wrong_aud = {"aud": "https://other.example"}
        assert _signin(f, _token(f, **wrong_aud)).status_code == 200
        replayed = _token(f)
        assert _exchange(f, replayed).status_code == 200
        assert _exchange(f, replayed).status_code == 200
        assert _attest(f, _token(f, **wrong_aud)).status_code == 200
        assert _privy(f, _token(f, exp=int(time.time()) - 3600)).status_code == 200
        # each flaw stays on its own route: the verify call still checks aud
        session = f.signin("alice", aud=AUDIENCE)
        assert f.verify(session, f.assertion(aud="https://other.example")).status_code == 401


def test_the_clean_signin_checks_the_configured_audience(h: Harness) -> None:
    assert _signin(h, _token(h, aud="https://other.example")).status_code == 401
    assert _signin(h, _token(h)).status_code == 200


def test_refusal_status_variant_applies_to_the_shapes(keys: Keys) -> None:
    with world(keys, audience=AUDIENCE, refusal_status=403) as f:
        expired = _token(f, exp=int(time.time()) - 300)
        assert _exchange(f, expired).status_code == 403
        assert _attest(f, expired).status_code == 403
        assert _privy(f, expired).status_code == 403


def test_signin_refuses_a_replayed_jti_and_an_over_long_lifetime(h: Harness) -> None:
    token = _token(h)
    assert _signin(h, token).status_code == 200
    assert _signin(h, token).status_code == 401
    assert _signin(h, _token(h, jti=DELETE)).status_code == 200  # jti is not required
    far = int(time.time()) + 86400
    assert _signin(h, _token(h, exp=far)).status_code == 401
