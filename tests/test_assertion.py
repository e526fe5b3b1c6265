from __future__ import annotations

import jwt
import pytest
from jwt.algorithms import ECAlgorithm

from conformance._assertion import OMIT, Assertion
from conformance._jose import SigningKey
from conformance._keyring import Keyring
from conformance.forge import split


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return Keyring(published_algs=("ES256",)).trusted("ES256")


@pytest.fixture(scope="module")
def ed_key() -> SigningKey:
    return Keyring(published_algs=("EdDSA",)).trusted("EdDSA")


BASE = Assertion(sub="user-123", scope="wallet:export", iss="https://issuer")


def test_builder_sets_claims(key: SigningKey) -> None:
    token = BASE.fresh_jti().issued_now(now=1000).expires_in(60, now=1000).signed_with(key)
    header, claims, signature = split(token)
    assert header == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    assert claims["sub"] == "user-123"
    assert claims["iat"] == 1000
    assert claims["exp"] == 1060
    assert len(claims["jti"]) == 22  # 128 bits, url-safe, unpadded
    assert set(claims["jti"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    assert len(signature) == 64


def test_token_verifies_with_pyjwt(key: SigningKey) -> None:
    token = BASE.fresh_jti().issued_now().expires_in(60).signed_with(key)
    decoded = jwt.decode(token, key.public_key, algorithms=["ES256"])
    assert decoded["scope"] == "wallet:export"


def test_issued_now_sets_only_iat() -> None:
    assert BASE.issued_now(now=5).claims == {**BASE.claims, "iat": 5}


def test_default_now_is_the_clock() -> None:
    import time

    before = int(time.time())
    claims = BASE.issued_now().expires_in(30).claims
    after = int(time.time())
    assert before <= claims["iat"] <= after
    assert before + 30 <= claims["exp"] <= after + 30


def test_fresh_jti_differs_each_time() -> None:
    assert len({BASE.fresh_jti().claims["jti"] for _ in range(20)}) == 20


def test_immutable_builders_return_new_objects() -> None:
    changed = BASE.with_claims(sub="other").without("iss").with_header(typ="at+jwt")
    assert BASE.claims == {"sub": "user-123", "scope": "wallet:export", "iss": "https://issuer"}
    assert BASE.header == {}
    assert changed.claims == {"sub": "other", "scope": "wallet:export"}
    assert changed.header == {"typ": "at+jwt"}
    with pytest.raises(AttributeError):
        BASE.sub = "x"  # type: ignore[attr-defined]


def test_claims_and_header_are_read_only_copies() -> None:
    a = Assertion(aud=["x"])
    with pytest.raises(TypeError):
        a.claims["sub"] = "x"  # type: ignore[index]
    a.claims["aud"].append("y")
    assert a.claims["aud"] == ["x"]
    source = {"aud": ["x"]}
    b = Assertion(source)
    source["aud"].append("y")
    assert b.claims["aud"] == ["x"]


def test_replaced_claim_keeps_its_position() -> None:
    assert list(BASE.with_claims(sub="b").claims) == ["sub", "scope", "iss"]


def test_mapping_and_non_identifier_claims(key: SigningKey) -> None:
    a = Assertion({"https://example/claim": 1}, sub="s").with_claims({"x-y": True})
    _, claims, _ = split(a.signed_with(key))
    assert claims == {"https://example/claim": 1, "sub": "s", "x-y": True}


def test_header_overrides_win_and_omit_removes(key: SigningKey) -> None:
    token = BASE.with_header(kid="chosen", typ="application/jwt", cty="JWT").signed_with(key)
    assert split(token)[0] == {
        "alg": "ES256",
        "kid": "chosen",
        "typ": "application/jwt",
        "cty": "JWT",
    }
    assert split(BASE.without_header("typ").signed_with(key))[0] == {"alg": "ES256", "kid": key.kid}
    assert split(BASE.with_header(kid=OMIT, typ=OMIT).signed_with(key))[0] == {"alg": "ES256"}


def test_header_alg_can_lie_about_the_signature(key: SigningKey) -> None:
    # with_header(alg=...) changes what the header claims, not how it is signed.
    token = BASE.with_header(alg="RS256").signed_with(key)
    assert split(token)[0]["alg"] == "RS256"
    signing_input, _, _ = token.rpartition(".")
    es256 = ECAlgorithm(ECAlgorithm.SHA256)
    assert es256.verify(signing_input.encode(), key.public_key, split(token)[2])


def test_explicit_alg_argument(ed_key: SigningKey) -> None:
    token = BASE.signed_with(ed_key, alg="EdDSA")
    assert split(token)[0]["alg"] == "EdDSA"
    with pytest.raises(TypeError):
        BASE.signed_with(ed_key, alg="ES256")  # an Ed25519 key cannot sign ES256
    with pytest.raises(TypeError, match="SigningKey"):
        BASE.signed_with("not a key")  # type: ignore[arg-type]


def test_equality_and_hash_by_value() -> None:
    a = Assertion(sub="s", exp=1)
    assert a == Assertion(sub="s", exp=1)
    assert hash(a) == hash(Assertion(sub="s", exp=1))
    assert a == Assertion(exp=1, sub="s")
    assert a != Assertion(sub="s", exp=True)  # JSON types matter
    assert a != Assertion(sub="s", exp=1.0)
    assert a != a.with_header(typ="JWT")
    assert len({a, Assertion(sub="s", exp=1), a.without("exp")}) == 2
    assert a != {"sub": "s", "exp": 1}


def test_repr_shows_claims_and_header_not_key(key: SigningKey) -> None:
    text = repr(BASE.with_header(kid=OMIT))
    assert text == (
        "Assertion(claims={'sub': 'user-123', 'scope': 'wallet:export', 'iss': 'https://issuer'}, "
        "header={'kid': OMIT})"
    )


def test_from_token_round_trip(key: SigningKey) -> None:
    a = BASE.fresh_jti().with_header(x="1")
    back = Assertion.from_token(a.signed_with(key))
    assert back.claims == a.claims
    assert back.header == {"alg": "ES256", "kid": key.kid, "typ": "JWT", "x": "1"}
    with pytest.raises(ValueError):
        Assertion.from_token("not-a-token")
