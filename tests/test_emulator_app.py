"""The clean emulator follows the reference policy (real loopback servers)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from conformance.emulator.testing import (
    DELETE,
    ENV_A,
    ENV_B,
    ISSUER_B,
    Harness,
    Keys,
    sign,
    world,
)
from conformance.forge import b64url_encode, compact, split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def h(keys: Keys) -> Iterator[Harness]:
    with world(keys) as harness:
        yield harness


@pytest.fixture(scope="module")
def session(h: Harness) -> str:
    return h.signin("alice")


def _error_of(reply: Any) -> str:
    body = reply.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str)
    return str(body["error"])


def _assert_rejected(reply: Any) -> str:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:300])
    assert "elevatedAccessToken" not in reply.text
    return _error_of(reply)


def test_valid_assertion_is_accepted_and_token_is_well_formed(h: Harness, session: str) -> None:
    token = h.assertion(scope="wallet:export wallet:sign wallet:export")
    reply = h.verify(session, token)
    assert reply.status_code == 200, reply.text
    issued = reply.json()["elevatedAccessToken"]
    jwks = h.client.get(h.url(".well-known/jwks")).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims = jwt.decode(issued, key, algorithms=["ES256"])
    assert jwt.get_unverified_header(issued)["kid"] == jwks["keys"][0]["kid"]
    assert claims["sub"] == "alice"
    assert claims["environment_id"] == ENV_A
    assert claims["scope"] == "wallet:export wallet:sign"  # de-duplicated, request order
    assert claims["singleUse"] is True
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["iss"].endswith(f"/sdk/{ENV_A}")


@pytest.mark.parametrize("key", ["a-rsa", "a-ec", "a-ed", "a-p384"])
def test_every_published_key_type_is_accepted(h: Harness, session: str, key: str) -> None:
    assert h.verify(session, h.assertion(key=key)).status_code == 200


def test_kid_less_assertion_uses_the_single_matching_key(
    h: Harness, session: str, keys: Keys
) -> None:
    private, _, _ = keys.trusted["a-rsa"]
    body = {**_claims(), "sub": "alice"}
    assert h.verify(session, sign(private, "RS256", body)).status_code == 200
    # PS256 has no single match? It does: only one RSA key, whose JWK alg is RS256 -> none.
    reply = h.verify(session, sign(private, "PS256", {**_claims(), "sub": "alice"}))
    _assert_rejected(reply)


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "https://issuer-a.example",
        "sub": "alice",
        "scope": "wallet:export",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 120,
    }
    base.update(extra)
    return base


NOW = int(time.time())

# Each entry builds an assertion that a correct endpoint must refuse.
REJECTS: dict[str, Callable[[Harness], Any]] = {
    "exp_missing": lambda h: h.assertion(exp=DELETE),
    "exp_past": lambda h: h.assertion(exp=int(time.time()) - 300),
    "exp_just_beyond_leeway": lambda h: h.assertion(exp=int(time.time()) - 31),
    "exp_string": lambda h: h.assertion(exp=str(int(time.time()) + 60)),
    "exp_bool": lambda h: h.assertion(exp=True),
    "exp_huge_int": lambda h: h.assertion(exp=10**400),
    "exp_milliseconds": lambda h: h.assertion(exp=int(time.time() * 1000) + 60000),
    "exp_far_future": lambda h: h.assertion(exp=int(time.time()) + 86400),
    "lifetime_from_old_iat": lambda h: h.assertion(iat=int(time.time()) - 3600),
    "nbf_future": lambda h: h.assertion(nbf=int(time.time()) + 600),
    "nbf_not_before_exp": lambda h: h.assertion(
        nbf=int(time.time()) + 20, exp=int(time.time()) + 20
    ),
    "iat_future": lambda h: h.assertion(iat=int(time.time()) + 62),
    "all_times_shifted_62s": lambda h: h.assertion(
        iat=int(time.time()) + 62, nbf=int(time.time()) + 62, exp=int(time.time()) + 182
    ),
    "iss_missing": lambda h: h.assertion(iss=DELETE),
    "iss_trailing_slash": lambda h: h.assertion(issuer="https://issuer-a.example/"),
    "iss_case": lambda h: h.assertion(issuer="https://Issuer-A.example"),
    "iss_other_env_signed_by_other_key": lambda h: h.assertion(key="b-ec", issuer=ISSUER_B),
    "sub_missing": lambda h: h.assertion(sub=DELETE),
    "sub_other_user": lambda h: h.assertion(subject="bob"),
    "sub_case": lambda h: h.assertion(subject="Alice"),
    "sub_number": lambda h: h.assertion(sub=7),
    "scope_missing": lambda h: h.assertion(scope=DELETE),
    "scope_unknown": lambda h: h.assertion(scope="wallet:admin"),
    "scope_wildcard": lambda h: h.assertion(scope="wallet:*"),
    "scope_nul": lambda h: h.assertion(scope="wallet:export\u0000admin"),
    "scope_case": lambda h: h.assertion(scope="Wallet:Export"),
    "scope_double_space": lambda h: h.assertion(scope="wallet:export  wallet:sign"),
    "scope_leading_space": lambda h: h.assertion(scope=" wallet:export"),
    "scope_list": lambda h: h.assertion(scope=["wallet:export"]),
    "jti_missing": lambda h: h.assertion(jti=DELETE),
    "jti_empty": lambda h: h.assertion(jti=""),
    "jti_too_long": lambda h: h.assertion(jti="x" * 257),
    "jti_number": lambda h: h.assertion(jti=12345),
    "alg_none": lambda h: compact({"alg": "none", "kid": "a-ec"}, _claims()),
    "alg_None_with_signature": lambda h: _realg(h.assertion(), "None"),
    "hs256_with_public_pem": lambda h: _hs256_confusion(h),
    "signature_flipped": lambda h: _flip_signature(h.assertion()),
    "signature_empty": lambda h: h.assertion().rsplit(".", 1)[0] + ".",
    "known_kid_attacker_key": lambda h: sign(h.keys.attacker, "ES256", _claims(), kid="a-ec"),
    "unknown_kid": lambda h: sign(h.keys.attacker, "ES256", _claims(), kid="nope"),
    "kid_number": lambda h: compact({"alg": "ES256", "kid": 5}, _claims(), key=h.keys.attacker),
    "kid_less_attacker": lambda h: sign(h.keys.attacker, "ES256", _claims()),
    "alg_mismatch_rs512_on_rs256_key": lambda h: sign(
        h.keys.trusted["a-rsa"][0], "RS512", _claims(), kid="a-rsa"
    ),
    "alg_mismatch_es256_on_p384_key": lambda h: compact(
        {"alg": "ES256", "kid": "a-p384"}, _claims(), key=h.keys.trusted["a-p384"][0]
    ),
    "embedded_jwk": lambda h: _embedded_jwk(h),
    "jku_attacker": lambda h: sign(
        h.keys.attacker, "ES256", _claims(), kid="evil", headers={"jku": f"{h.jwks_base}/evil.json"}
    ),
    "crit_unknown": lambda h: h.assertion(headers={"crit": ["exp"], "exp": 1}),
    "b64_false": lambda h: h.assertion(headers={"b64": False}),
    "zip": lambda h: h.assertion(headers={"zip": "DEF"}),
    "cty_jwt": lambda h: h.assertion(headers={"cty": "JWT"}),
    "typ_other": lambda h: h.assertion(headers={"typ": "at+jwt"}),
    "aud_ignored_but_unknown_claims_grant_nothing": lambda h: h.assertion(
        scope="wallet:export", admin=True, sub="bob"
    ),
    "two_segments": lambda h: ".".join(h.assertion().split(".")[:2]),
    "four_segments": lambda h: h.assertion() + ".AAAA",
    "padding": lambda h: _pad(h.assertion()),
    "standard_alphabet": lambda h: h.assertion().replace("-", "+").replace("_", "/") + "+/",
    "whitespace": lambda h: h.assertion().replace(".", ". ", 1),
    "non_canonical_base64": lambda h: _non_canonical(h.assertion()),
    "header_not_object": lambda h: compact(["ES256"], _claims(), key=h.keys.attacker, alg="ES256"),
    "payload_not_object": lambda h: compact({"alg": "ES256", "kid": "a-ec"}, "x", key=_a_ec(h)),
    "payload_invalid_utf8": lambda h: compact(
        {"alg": "ES256", "kid": "a-ec"}, b'{"sub":"\xff"}', key=_a_ec(h)
    ),
    "payload_bom": lambda h: compact(
        {"alg": "ES256", "kid": "a-ec"},
        b"\xef\xbb\xbf" + json.dumps(_claims()).encode(),
        key=_a_ec(h),
    ),
    "payload_nan": lambda h: compact(
        {"alg": "ES256", "kid": "a-ec"},
        json.dumps({**_claims(), "exp": float("nan")}).encode(),
        key=_a_ec(h),
    ),
    "payload_duplicate_sub": lambda h: compact(
        {"alg": "ES256", "kid": "a-ec"},
        json.dumps(_claims()).encode()[:-1] + b',"sub":"bob"}',
        key=_a_ec(h),
    ),
    "token_too_large": lambda h: h.assertion(pad="x" * 20000),
}


def _a_ec(h: Harness) -> Any:
    return h.keys.trusted["a-ec"][0]


def _realg(token: str, alg: str) -> str:
    header, _, _ = split(token)
    head = b64url_encode(json.dumps({**header, "alg": alg}).encode())
    return ".".join([head, *token.split(".")[1:]])


def _flip_signature(token: str) -> str:
    head, body, _ = token.split(".")
    raw = bytes(b ^ 0x5A for b in split(token)[2])
    return f"{head}.{body}.{b64url_encode(raw)}"


def _pad(token: str) -> str:
    head, body, sig = token.split(".")
    return f"{head}==.{body}.{sig}"


def _non_canonical(token: str) -> str:
    # Change the unused low bits of the last character: decodes to the same bytes.
    head, body, sig = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for candidate in alphabet:
        changed = body[:-1] + candidate
        try:
            same = split(f"{head}.{changed}.{sig}")[1] == split(token)[1]
        except ValueError:
            continue
        if changed != body and same:
            return f"{head}.{changed}.{sig}"
    raise AssertionError("payload length has no spare bits; adjust the claims")


def _hs256_confusion(h: Harness) -> str:
    from cryptography.hazmat.primitives import serialization

    public = h.keys.trusted["a-rsa"][0].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return compact({"alg": "HS256", "kid": "a-rsa"}, _claims(), key=pem)


def _embedded_jwk(h: Harness) -> str:
    from conformance.emulator.tokens import public_jwk

    jwk = public_jwk(h.keys.attacker, alg="ES256")
    return sign(h.keys.attacker, "ES256", _claims(), kid=jwk["kid"], headers={"jwk": jwk})


@pytest.mark.parametrize("name", sorted(REJECTS))
def test_rule_violation_is_rejected_and_does_not_burn_jti(
    h: Harness, session: str, name: str
) -> None:
    token = REJECTS[name](h)
    reply = h.verify(session, token)
    text = _assert_rejected(reply)
    assert len(text) < 120
    # A rejected attempt never burns its jti: the genuine token with that jti passes.
    try:
        payload = split(token)[1]
    except ValueError:
        payload = None
    jti = payload.get("jti") if isinstance(payload, dict) else None
    if isinstance(jti, str) and 0 < len(jti) <= 256:
        assert h.verify(session, h.assertion(jti=jti)).status_code == 200


def test_replay_is_refused_sequentially_and_with_new_bytes(h: Harness, session: str) -> None:
    token = h.assertion()
    assert h.verify(session, token).status_code == 200
    assert "used" in _assert_rejected(h.verify(session, token))
    jti = split(token)[1]["jti"]
    resigned = h.assertion(jti=jti, exp=int(time.time()) + 100)
    _assert_rejected(h.verify(session, resigned))
    # jti is per environment: the same jti in environment B is fresh.
    other = h.signin("alice", env=ENV_B)
    token_b = h.assertion(key="b-ec", issuer=ISSUER_B, jti=jti)
    assert h.verify(other, token_b, env=ENV_B).status_code == 200


def test_exp_within_leeway_is_accepted(h: Harness, session: str) -> None:
    assert h.verify(session, h.assertion(exp=int(time.time()) - 10)).status_code == 200


def test_typ_variants_and_ignored_headers_are_fine(h: Harness, session: str) -> None:
    for headers in (
        {"typ": "JWT"},
        {"typ": "application/JWT"},
        {"typ": "jwt", "x5u": "http://127.0.0.1:1/x", "jku": "http://127.0.0.1:1/j"},
    ):
        assert h.verify(session, h.assertion(headers=headers)).status_code == 200, headers


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer", 401),
        ("Bearer garbage", 401),
        ("Basic YWxpY2U6eA==", 401),
    ],
)
def test_bad_session_is_401(h: Harness, authorization: str | None, status: int) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    reply = h.client.post(
        h.url("externalAuth/verify"), json={"jwt": h.assertion()}, headers=headers
    )
    assert reply.status_code == status
    _error_of(reply)


def test_session_of_other_env_logout_and_unknown_env(h: Harness) -> None:
    session_b = h.signin("alice", env=ENV_B)
    assert h.verify(session_b, h.assertion()).status_code == 401  # path says env A
    assert h.verify(session_b, h.assertion(), env="no-such-env").status_code == 404
    session = h.signin("alice")
    logout = h.client.post(h.url("logout"), headers={"authorization": f"Bearer {session}"})
    assert logout.status_code == 204
    assert h.verify(session, h.assertion()).status_code == 401


def test_signin_rules(h: Harness, keys: Keys) -> None:
    key, _, _ = keys.trusted["a-ec"]
    now = int(time.time())
    good = {"iss": "https://issuer-a.example", "sub": "carol", "exp": now + 60}
    url = h.url("externalAuth/signin")
    reply = h.client.post(url, json={"jwt": sign(key, "ES256", good, kid="a-ec")})
    assert reply.status_code == 200
    user = reply.json()["user"]
    assert user["environmentId"] == ENV_A
    assert user["verifiedCredentials"] == [{"format": "externalAuth", "id": "carol"}]
    assert reply.json()["minifiedJwt"] == reply.json()["jwt"]
    for bad in (
        {**good, "iss": "https://evil"},
        {**good, "exp": now - 100},
        {k: v for k, v in good.items() if k != "sub"},
    ):
        _assert_rejected(h.client.post(url, json={"jwt": sign(key, "ES256", bad, kid="a-ec")}))
    forged = sign(keys.attacker, "ES256", good, kid="a-ec")
    _assert_rejected(h.client.post(url, json={"jwt": forged}))


def test_step_up_check_and_single_use_operation(h: Harness) -> None:
    session = h.signin("dave")
    bearer = {"authorization": f"Bearer {session}"}
    check = h.client.post(h.url("stepUp/check"), json={"scope": "wallet:export"}, headers=bearer)
    assert check.json()["isRequired"] is True
    assert check.json()["defaultCredentialId"] == "external-auth"
    token = h.verify(session, h.assertion(subject="dave")).json()["elevatedAccessToken"]
    check = h.client.post(h.url("stepUp/check"), json={"scope": "wallet:export"}, headers=bearer)
    assert check.json() == {"isRequired": False, "credentials": []}
    op = h.url("emulator/operations/wallet:export")
    other_scope = h.url("emulator/operations/wallet:delete")
    elevated = {**bearer, "x-dyn-elevated-access-token": token}
    assert h.client.post(other_scope, headers=elevated).status_code == 403
    first = h.client.post(op, headers=elevated)
    assert first.json() == {"ok": True, "scope": "wallet:export"}
    assert h.client.post(op, headers=elevated).status_code == 403
    assert h.client.post(op, headers=bearer).status_code == 403
    # Another user's session cannot use dave's token.
    other = {"authorization": f"Bearer {h.signin('erin')}", "x-dyn-elevated-access-token": token}
    assert h.client.post(op, headers=other).status_code == 403


HOSTILE_BODIES: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b'"jwt"',
    b"123",
    b'{"jwt": null}',
    b'{"jwt": ""}',
    b'{"jwt": 5}',
    b'{"jwt": ["a.b.c"]}',
    b'{"jwt": {"a": 1}}',
    b'{"jwt": NaN}',
    b'{"jwt": 1e999999}',
    b'{"jwt": ' + b"9" * 5000 + b"}",
    b'{"jwt": "\xff\xfe"}',
    b"\xff\xfe\x00{",
    b"{" * 100000,
    b'{"jwt": "' + b"a" * 1_000_000 + b'"}',
    b"jwt=a.b.c",
    b'{"jwt": "a.b.c"}',
    b'{"jwt": "...."}',
    b'{"jwt": "\\ud800.e30.AA"}',
    b'{"jwt": "eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.%%%"}',
    b'{"jwt": "e30.e30.A"}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
@pytest.mark.parametrize("path", ["externalAuth/verify", "externalAuth/signin", "stepUp/check"])
def test_hostile_input_never_5xx(h: Harness, session: str, body: bytes, path: str) -> None:
    reply = h.client.post(
        h.url(path),
        content=body,
        headers={"authorization": f"Bearer {session}", "content-type": "application/json"},
    )
    assert 400 <= reply.status_code < 500, reply.status_code
    _error_of(reply)


def test_unknown_route_and_method_are_json_4xx(h: Harness) -> None:
    assert h.client.get(h.url("externalAuth/verify")).status_code == 405
    reply = h.client.get(f"{h.base_url}/nothing")
    assert reply.status_code == 404
    _error_of(reply)
