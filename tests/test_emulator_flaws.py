"""Each flaw makes the emulator get its conditions wrong; the clean emulator gets them right.

Every scenario returns True when the emulator misbehaved. The matrix test runs each one
against the clean emulator (must be False) and against the emulator with that flaw alone
(must be True).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from conformance import _http
from conformance._jwks_host import JwksHost
from conformance._keyring import Keyring
from conformance.emulator import FLAWS
from conformance.emulator.jwks_cache import JwksCache, JwksUnavailable
from conformance.emulator.testing import (
    DELETE,
    ENV_A,
    ISSUER_A,
    ISSUER_B,
    Harness,
    Keys,
    sign,
    world,
)
from conformance.emulator.tokens import public_jwk
from conformance.forge import b64url_encode, compact, split

pytestmark = pytest.mark.slow


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER_A,
        "sub": "alice",
        "scope": "wallet:export",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 120,
    }
    claims.update(extra)
    return claims


def _accepted(h: Harness, session: str, token: str) -> bool:
    reply = h.verify(session, token)
    assert reply.status_code < 500, reply.text
    return bool(reply.status_code == 200)


def _flipped(token: str) -> str:
    head, body, _ = token.split(".")
    return f"{head}.{body}.{b64url_encode(bytes(b ^ 0x5A for b in split(token)[2]))}"


def _hmac_confusion(h: Harness, s: str) -> bool:
    from cryptography.hazmat.primitives import serialization

    pem = (
        h.keys.trusted["a-rsa"][0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return _accepted(h, s, compact({"alg": "HS256", "kid": "a-rsa"}, _claims(), key=pem))


def _hmac_spellings(h: Harness, s: str) -> bool:
    from cryptography.hazmat.primitives import serialization

    public = h.keys.trusted["a-rsa"][0].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    crlf = pem.replace(b"\n", b"\r\n")
    ssh = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return _accepted(
        h, s, compact({"alg": "HS384", "kid": "a-rsa"}, _claims(), key=crlf, alg="HS384")
    ) and _accepted(h, s, compact({"alg": "HS256", "kid": "a-rsa"}, _claims(), key=ssh))


def _json_serialised(h: Harness, s: str) -> bool:
    import json

    def body() -> str:
        return b64url_encode(json.dumps(_claims()).encode())

    unsigned = json.dumps({"payload": body(), "header": {"alg": "none"}, "signature": ""})
    empty = json.dumps({"payload": body(), "signatures": []})
    return _accepted(h, s, unsigned) and _accepted(h, s, empty)


def _alg_normalised(h: Harness, s: str) -> bool:
    private, _, kid = h.keys.trusted["a-ec"]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "ES256")
    return all(
        _accepted(h, s, compact({"alg": alg, "kid": kid}, _claims(), key=private, alg="ES256"))
        for alg in (full_width, ["ES256", "none"], "es256\x00")
    )


def _jwe_trusted(h: Harness, s: str) -> bool:
    import json

    from conformance.forge import jwe_to

    jwk = h.client.get(h.url(".well-known/jwks")).json()["keys"][0]
    return _accepted(h, s, jwe_to(json.dumps(_claims()).encode(), jwk))


def _replayed(h: Harness, s: str) -> bool:
    token = h.assertion()
    return _accepted(h, s, token) and _accepted(h, s, token)


def _burst(h: Harness, session: str, token: str, n: int = 16) -> int:
    """Send ``n`` copies at once, each on its own connection; count the 200s."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    clients = [_http.client() for _ in range(n)]

    def send(client: Any) -> None:
        barrier.wait()
        reply = client.post(
            h.url("externalAuth/verify"),
            json={"jwt": token},
            headers={"authorization": f"Bearer {session}"},
        )
        statuses.append(reply.status_code)

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert all(status < 500 for status in statuses)
    return statuses.count(200)


def _raced(h: Harness, s: str) -> bool:
    return _burst(h, s, h.assertion()) > 1


def _burned(h: Harness, s: str) -> bool:
    genuine = h.assertion()
    assert not _accepted(h, s, _flipped(genuine))
    return not _accepted(h, s, genuine)


def _issued_claims(h: Harness, s: str) -> dict[str, Any]:
    reply = h.verify(s, h.assertion())
    assert reply.status_code == 200
    return split(reply.json()["elevatedAccessToken"])[1]


def _reused(h: Harness, s: str) -> bool:
    token = h.verify(s, h.assertion()).json()["elevatedAccessToken"]
    headers = {"authorization": f"Bearer {s}", "x-dyn-elevated-access-token": token}
    url = h.url("emulator/operations/wallet:export")
    first = h.client.post(url, headers=headers).status_code
    return first == 200 and h.client.post(url, headers=headers).status_code == 200


def _embedded(h: Harness, s: str) -> bool:
    jwk = public_jwk(h.keys.attacker, alg="ES256")
    token = sign(h.keys.attacker, "ES256", _claims(), kid=jwk["kid"], headers={"jwk": jwk})
    return _accepted(h, s, token)


def _crashes(h: Harness, s: str) -> bool:
    reply = h.client.post(
        h.url("externalAuth/verify"), content=b"[1]", headers={"authorization": f"Bearer {s}"}
    )
    return reply.status_code >= 500


def _leaks(h: Harness, s: str) -> bool:
    token = _flipped(h.assertion())
    reply = h.verify(s, token)
    assert reply.status_code == 401
    return token.split(".")[2] in reply.json()["error"] or "Expected" in reply.json()["error"]


# -- out-of-band and key-life-cycle flaws (issue 13) -----------------------------------


def _fetches_token_urls(h: Harness, s: str) -> bool:
    """A URL in x5u and in a claim: does anything reach it?"""
    with JwksHost(Keyring(published_algs=("ES256",))) as host:
        path = host.unique_path("/callback")
        _accepted(h, s, h.assertion(headers={"x5u": host.url(path)}, callback=host.url(path)))
        return bool(host.requests(path))


def _fails_open(h: Harness, s: str) -> bool:
    """The JWKS cannot be fetched: is an attacker's token accepted?"""
    cache = h.emulator.jwks

    def down(url: str, **_: Any) -> bytes:
        raise JwksUnavailable("JWKS fetch answered 503")

    cache._entries.clear()  # nothing cached: the next token needs a fetch
    cache._fetch = down  # type: ignore[method-assign]
    try:
        return _accepted(h, s, sign(h.keys.attacker, "ES256", _claims(), kid="new-key"))
    finally:
        del cache._fetch
        cache._entries.clear()


def _cache(h: Harness, routes: dict[str, httpx.Response], **kwargs: Any) -> JwksCache:
    """A JWKS cache with the emulator's flaws, answering from ``routes`` (path → answer)."""
    transport = httpx.MockTransport(
        lambda request: routes.get(request.url.path, httpx.Response(404))
    )
    return JwksCache(flaws=h.emulator.config.flaws, transport=transport, **kwargs)


def _jwks(h: Harness, **members: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"keys": [{**public_jwk(h.keys.attacker, alg="ES256"), **members}]}
    )


def _fetches_per_kid(h: Harness, s: str) -> bool:
    cache = _cache(h, {"/jwks.json": _jwks(h)})
    for i in range(5):
        cache.keys("http://issuer.test/jwks.json", kid=f"random-{i}")
    return cache.fetches["http://issuer.test/jwks.json"] > 2


def _keeps_revoked(h: Harness, s: str) -> bool:
    routes = {"/jwks.json": _jwks(h, kid="revoked")}
    cache = _cache(h, routes, ttl_s=0.0, min_refetch_s=0.0)
    cache.keys("http://issuer.test/jwks.json")
    routes["/jwks.json"] = httpx.Response(200, json={"keys": []})
    return any(k.kid == "revoked" for k in cache.keys("http://issuer.test/jwks.json"))


def _follows_redirect(h: Harness, s: str) -> bool:
    routes = {
        "/jwks.json": httpx.Response(302, headers={"location": "http://evil.test/evil.json"}),
        "/evil.json": _jwks(h, kid="evil"),
    }
    try:
        keys = _cache(h, routes).keys("http://issuer.test/jwks.json")
    except JwksUnavailable:
        return False
    return any(k.kid == "evil" for k in keys)


def _uses_enc_key(h: Harness, s: str) -> bool:
    cache = _cache(h, {"/jwks.json": _jwks(h, use="enc")})
    return bool(cache.keys("http://issuer.test/jwks.json"))


def _bounded_store(h: Harness, s: str) -> bool:
    from conformance.emulator.service import BOUNDED_JTIS

    token = h.assertion()
    first = _accepted(h, s, token)
    for _ in range(BOUNDED_JTIS + 1):
        assert _accepted(h, s, h.assertion())
    return first and _accepted(h, s, token)


def _token_follows_assertion(h: Harness, s: str) -> bool:
    reply = h.verify(s, h.assertion(exp=int(time.time()) + 500))
    assert reply.status_code == 200
    claims = split(reply.json()["elevatedAccessToken"])[1]
    return bool(claims["exp"] - claims["iat"] > 300)


def _operation_bare(h: Harness, s: str) -> bool:
    url = h.url("emulator/operations/wallet:export")
    return h.client.post(url, headers={"authorization": f"Bearer {s}"}).status_code == 200


def _logout_kept(h: Harness, s: str) -> bool:
    own = h.signin("alice")
    out = h.client.post(h.url("logout"), headers={"authorization": f"Bearer {own}"})
    assert out.status_code == 204
    return _accepted(h, own, h.assertion())


def _reflects(h: Harness, s: str) -> bool:
    token = sign(h.keys.attacker, "ES256", _claims(), kid="<b>conformance</b>")
    reply = h.verify(s, token)
    assert 400 <= reply.status_code < 500
    return "<b>conformance</b>" in reply.text and "html" in reply.headers["content-type"]


def _stalls(h: Harness, s: str) -> bool:
    from conformance.emulator.service import STALL_DOTS, STALL_S

    # a lower bound only: the flaw sleeps STALL_S, the clean emulator answers at once
    started = time.monotonic()
    reply = h.verify(s, h.assertion() + "." * (STALL_DOTS + 1))
    assert 400 <= reply.status_code < 500
    return time.monotonic() - started >= STALL_S


def _own_token(h: Harness, s: str) -> bool:
    token = h.verify(s, h.assertion()).json()["elevatedAccessToken"]
    return _accepted(h, s, token)


# -- the shape flaws (emulator/shapes.py): each sends what its flaw lets through on the
# flaw's own route. The audience ones need an environment with an audience: they start
# an emulator of their own with the same flaws.

AUDIENCE = "https://app.example"


def _with_audience(h: Harness, probe: Callable[[Harness], bool]) -> bool:
    with world(h.keys, flaws=h.emulator.config.flaws, audience=AUDIENCE) as other:
        return probe(other)


def _shape_token(h: Harness, **claims: Any) -> str:
    return h.assertion(scope=DELETE, **claims)


def _signin_other_audience(h: Harness, s: str) -> bool:
    def probe(a: Harness) -> bool:
        token = _shape_token(a, aud="https://other-rp.example")
        reply = a.client.post(a.url("externalAuth/signin"), json={"jwt": token})
        assert reply.status_code < 500, reply.text
        return bool(reply.status_code == 200)

    return _with_audience(h, probe)


def _signin_subject_folded(h: Harness, s: str) -> bool:
    """'Alice' signs in as the user 'alice' (the answer names the folded subject)."""
    token = _shape_token(h, sub="Conformance-A\x00")
    reply = h.client.post(h.url("externalAuth/signin"), json={"jwt": token})
    assert reply.status_code < 500, reply.text
    if reply.status_code != 200:
        return False
    return bool(reply.json()["user"]["verifiedCredentials"][0]["id"] == "conformance-a")


def _subject_token_replayed(h: Harness, s: str) -> bool:
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": _shape_token(h),
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
    }
    first = h.client.post(h.url("oauth/token"), data=form)
    assert first.status_code == 200, first.text
    return bool(h.client.post(h.url("oauth/token"), data=form).status_code == 200)


def _attest_other_audience(h: Harness, s: str) -> bool:
    def probe(a: Harness) -> bool:
        token = _shape_token(a, aud="https://other-rp.example")
        body = {"profile_id": ENV_A, "token": token}
        reply = a.client.post(a.url("v1/sessions/attest"), json=body)
        assert reply.status_code < 500, reply.text
        return bool(reply.status_code == 200)

    return _with_audience(h, probe)


def _custom_jwt_expired(h: Harness, s: str) -> bool:
    token = _shape_token(h, exp=int(time.time()) - 3600, iat=int(time.time()) - 3700)
    reply = h.client.post(
        f"{h.base_url}/api/v1/custom_jwt_account/authenticate",
        json={"token": token},
        headers={"privy-app-id": ENV_A},
    )
    assert reply.status_code < 500, reply.text
    return bool(reply.status_code == 200)


SCENARIOS: dict[str, Callable[[Harness, str], bool]] = {
    "alg_none_accepted": lambda h, s: (
        _accepted(h, s, compact({"alg": "none", "kid": "a-ec"}, _claims()))
        and _accepted(h, s, compact({"alg": "nOnE"}, _claims(), signature=b"x" * 64))
    ),
    "hmac_key_confusion": _hmac_confusion,
    "signature_not_checked": lambda h, s: (
        _accepted(h, s, _flipped(h.assertion()))
        and _accepted(h, s, sign(h.keys.attacker, "ES256", _claims(), kid="a-ec"))
    ),
    "exp_not_checked": lambda h, s: (
        _accepted(h, s, h.assertion(exp=DELETE))
        and _accepted(h, s, h.assertion(exp=int(time.time()) - 300))
    ),
    "huge_leeway": lambda h, s: _accepted(h, s, h.assertion(exp=int(time.time()) - 300)),
    "nbf_ignored": lambda h, s: _accepted(h, s, h.assertion(nbf=int(time.time()) + 600)),
    "no_max_lifetime": lambda h, s: (
        _accepted(h, s, h.assertion(exp=int(time.time()) + 86400))
        and _accepted(h, s, h.assertion(exp=int(time.time() * 1000)))
    ),
    "jti_not_checked": lambda h, s: _replayed(h, s) and _accepted(h, s, h.assertion(jti=DELETE)),
    "jti_race": _raced,
    "jti_burned_by_rejects": _burned,
    "sub_not_compared": lambda h, s: _accepted(h, s, h.assertion(subject="bob")),
    "sub_case_insensitive": lambda h, s: _accepted(h, s, h.assertion(subject="ALICE")),
    "unknown_scopes_accepted": lambda h, s: _accepted(h, s, h.assertion(scope="wallet:*")),
    "broad_token": lambda h, s: _issued_claims(h, s)["scope"] != "wallet:export",
    "long_lived_token": lambda h, s: (lambda c: c["exp"] - c["iat"] > 3600)(_issued_claims(h, s)),
    "token_reusable": _reused,
    "jku_trusted": lambda h, s: _accepted(
        h,
        s,
        sign(
            h.keys.attacker,
            "ES256",
            _claims(),
            kid="evil",
            headers={"jku": f"{h.jwks_base}/evil.json"},
        ),
    ),
    "embedded_jwk_trusted": _embedded,
    "alg_not_matched": lambda h, s: _accepted(
        h, s, sign(h.keys.trusted["a-rsa"][0], "RS512", _claims(), kid="a-rsa")
    ),
    "crit_ignored": lambda h, s: _accepted(h, s, h.assertion(headers={"crit": ["x-custom"]})),
    "iss_not_checked": lambda h, s: (
        _accepted(h, s, h.assertion(iss=DELETE))
        and _accepted(h, s, h.assertion(key="b-ec", issuer=ISSUER_B))
    ),
    "hmac_key_spellings": _hmac_spellings,
    "time_claims_type_skipped": lambda h, s: (
        _accepted(h, s, h.assertion(nbf=str(int(time.time()) + 600)))
        and _accepted(h, s, h.assertion(iat=time.time() + 600.5))
    ),
    "iss_substring_match": lambda h, s: _accepted(h, s, h.assertion(iss=ISSUER_A[3:-3])),
    "json_serialization_accepted": _json_serialised,
    "alg_name_normalised": _alg_normalised,
    "jwe_decrypted_as_trusted": _jwe_trusted,
    "ecdsa_range_unchecked": lambda h, s: _accepted(
        h, s, f"{h.assertion().rsplit('.', 1)[0]}.{b64url_encode(bytes(64))}"
    ),
    "server_error_on_malformed": _crashes,
    "leaky_errors": _leaks,
    "token_urls_fetched": _fetches_token_urls,
    "jwks_fail_open": _fails_open,
    "jwks_redirect_followed": _follows_redirect,
    "revoked_key_kept": _keeps_revoked,
    "jwks_fetch_per_kid": _fetches_per_kid,
    "key_use_ignored": _uses_enc_key,
    "jti_prototype_names": lambda h, s: (
        lambda token: _accepted(h, s, token) and _accepted(h, s, token)
    )(h.assertion(jti="constructor")),
    "jti_store_bounded": _bounded_store,
    "lifetime_needs_iat": lambda h, s: _accepted(
        h, s, h.assertion(exp=int(time.time()) + 86400, iat=DELETE)
    ),
    "token_exp_from_assertion": _token_follows_assertion,
    "operation_without_token": _operation_bare,
    "logout_not_enforced": _logout_kept,
    "errors_reflect_input": _reflects,
    "stall_on_many_segments": _stalls,
    "own_tokens_accepted": _own_token,
    # the shape flaws (emulator/shapes.py): each on its own route
    "signin_aud_ignored": _signin_other_audience,
    "signin_subject_folded": _signin_subject_folded,
    "subject_token_replayable": _subject_token_replayed,
    "attest_aud_ignored": _attest_other_audience,
    "custom_jwt_exp_unchecked": _custom_jwt_expired,
}


def test_every_flaw_has_a_scenario_and_names_catalog_rows() -> None:
    assert set(SCENARIOS) == set(FLAWS)
    for flaw in FLAWS.values():
        assert flaw.breaks and all(len(row) == 3 and row[0].isupper() for row in flaw.breaks)
        assert flaw.description


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def clean(keys: Keys) -> Iterator[tuple[Harness, str]]:
    with world(keys) as h:
        yield h, h.signin("alice")


@pytest.mark.parametrize("flaw", sorted(FLAWS))
def test_clean_emulator_behaves(clean: tuple[Harness, str], flaw: str) -> None:
    h, session = clean
    assert SCENARIOS[flaw](h, session) is False


@pytest.mark.parametrize("flaw", sorted(FLAWS))
def test_flawed_emulator_misbehaves(keys: Keys, flaw: str) -> None:
    with world(keys, flaws=[flaw]) as h:
        assert SCENARIOS[flaw](h, h.signin("alice")) is True
