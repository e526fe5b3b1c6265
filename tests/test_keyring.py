from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from joserfc import jws
from joserfc.jwk import KeySet

from conformance._assertion import Assertion
from conformance._exceptions import ConfigError
from conformance._keyring import (
    ALGS,
    Keyring,
    load_signing_key,
    make_key,
    private_jwk,
    thumbprint,
)


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring()


def _token(key: Any) -> str:
    return (
        Assertion(sub="user-1", scope="wallet:export", iss="https://issuer")
        .fresh_jti()
        .issued_now()
        .expires_in(60)
        .signed_with(key)
    )


def _pem(private: Any) -> bytes:
    return bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _secret_markers(key: Any) -> list[str]:
    """Substrings that would betray the private key if printed."""
    jwk = private_jwk(key)
    return [jwk["d"][:16], _pem(key.private_key).decode().splitlines()[1][:24]]


@pytest.mark.parametrize("alg", ALGS)
def test_published_key_verifies_with_pyjwt(keyring: Keyring, alg: str) -> None:
    token = _token(keyring.trusted(alg))
    jwk = next(
        k for k in keyring.published_jwks()["keys"] if k["kid"] == f"trusted-{alg.lower()}-1"
    )
    claims = jwt.decode(token, jwt.PyJWK(jwk), algorithms=[alg])
    assert claims["sub"] == "user-1"
    assert jwt.get_unverified_header(token) == {"alg": alg, "kid": jwk["kid"], "typ": "JWT"}


@pytest.mark.parametrize("alg", ALGS)
def test_published_key_verifies_with_joserfc(keyring: Keyring, alg: str) -> None:
    token = _token(keyring.trusted(alg))
    keyset = KeySet.import_key_set(keyring.published_jwks())
    with warnings.catch_warnings():
        # joserfc flags EdDSA as deprecated in favour of Ed25519; the name is what we test.
        warnings.simplefilter("ignore")
        result = jws.deserialize_compact(token, keyset, algorithms=[alg])
    assert json.loads(result.payload)["scope"] == "wallet:export"
    assert result.headers()["kid"] == f"trusted-{alg.lower()}-1"


def test_every_jwk_is_bound_to_one_alg(keyring: Keyring) -> None:
    keys = keyring.published_jwks()["keys"]
    assert [k["alg"] for k in keys] == list(ALGS)
    for jwk in keys:
        assert jwk["use"] == "sig"
        assert "d" not in jwk
    by_alg = {k["alg"]: k for k in keys}
    assert by_alg["ES256"]["crv"] == "P-256"
    assert by_alg["ES384"]["crv"] == "P-384"
    assert by_alg["ES512"]["crv"] == "P-521"
    assert by_alg["EdDSA"]["crv"] == "Ed25519"
    assert len({k["n"] for k in keys if k["kty"] == "RSA"}) == 6  # one RSA key per alg


def test_keys_are_generated_once() -> None:
    ring = Keyring(published_algs=("ES256", "EdDSA"))
    first = ring.trusted()
    for _ in range(50):
        assert ring.trusted() is first
    ring.published_jwks()
    ring.published_jwks()
    assert ring.generated == 2


def test_generation_is_once_under_threads() -> None:
    ring = Keyring(published_algs=("ES256",))
    seen: list[Any] = []
    threads = [
        threading.Thread(target=lambda: seen.append(ring.trusted("ES384"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ring.generated == 1
    assert len({id(k) for k in seen}) == 1


def test_rsa_is_generated_only_when_asked() -> None:
    ring = Keyring(published_algs=("ES256",))
    ring.published_jwks()
    ring.attacker("EdDSA")
    ring.other_jwks()
    assert all(k.kty != "RSA" for k in ring._keys.values())
    ring.trusted("PS256")
    assert any(k.kty == "RSA" for k in ring._keys.values())


def test_kid_scheme_and_roles() -> None:
    ring = Keyring(published_algs=("ES256",))
    assert ring.trusted().kid == "trusted-es256-1"
    assert ring.rotation().kid == "rotation-es256-2"
    assert ring.attacker().kid == "attacker-es256"
    assert ring.other_environment().kid == "other-es256-1"
    assert ring.weak_rsa().kid == "weak-rs256-1024"
    assert ring.hmac().kid == "hmac-hs256"
    assert {ring.trusted().role, ring.rotation().role, ring.attacker().role} == {
        "trusted",
        "rotation",
        "attacker",
    }
    assert ring.weak_rsa().private_key.key_size == 1024
    assert ring.weak_rsa().alg == "RS256"


def test_attacker_kids_never_collide_with_trusted() -> None:
    ring = Keyring(published_algs=("ES256", "ES384", "EdDSA"))
    for alg in ring.published_algs:
        ring.attacker(alg)
    trusted = {k["kid"] for k in ring.published_jwks()["keys"]}
    attacker = {k["kid"] for k in ring.attacker_jwks()["keys"]}
    assert attacker == {"attacker-es256", "attacker-es384", "attacker-eddsa"}
    assert not trusted & attacker
    assert ring.attacker().public_jwk["x"] != ring.trusted().public_jwk["x"]


def test_publish_and_revoke() -> None:
    ring = Keyring(published_algs=("ES256",))
    kids = lambda: [k["kid"] for k in ring.published_jwks()["keys"]]  # noqa: E731
    assert kids() == ["trusted-es256-1"]
    ring.publish(ring.rotation())
    assert kids() == ["trusted-es256-1", "rotation-es256-2"]
    ring.revoke("trusted-es256-1")
    assert kids() == ["rotation-es256-2"]
    ring.publish(ring.trusted())
    assert kids() == ["trusted-es256-1", "rotation-es256-2"]
    ring.revoke("no-such-kid")
    with pytest.raises(ValueError, match="HMAC"):
        ring.publish(ring.hmac())


def test_other_environment_jwks_is_separate() -> None:
    ring = Keyring(published_algs=("ES256", "EdDSA"))
    other = ring.other_jwks()
    assert [k["kid"] for k in other["keys"]] == ["other-es256-1", "other-eddsa-1"]
    assert not {k["x"] for k in other["keys"]} & {k["x"] for k in ring.published_jwks()["keys"]}


def test_hmac_secret_is_hash_length_and_unpublished() -> None:
    ring = Keyring(published_algs=("ES256",))
    key = ring.hmac("HS512")
    assert key.kty == "oct"
    assert isinstance(key.private_key, bytes)
    assert len(key.private_key) == 64
    assert "k" not in key.public_jwk
    assert jwt.decode(_token(key), key.private_key, algorithms=["HS512"])["sub"] == "user-1"


def test_unknown_alg_raises() -> None:
    ring = Keyring(published_algs=("ES256",))
    with pytest.raises(ValueError, match="ES256"):
        ring.trusted("ES257")
    with pytest.raises(ValueError):
        ring.hmac("RS256")
    with pytest.raises(ValueError):
        Keyring(published_algs=("none",))


def test_repr_has_no_key_material() -> None:
    ring = Keyring(published_algs=("ES256",))
    key = ring.trusted()
    text = repr(key) + repr(ring) + str(key)
    assert "trusted-es256-1" in text
    for marker in _secret_markers(key):
        assert marker not in text
    assert repr(ring.hmac().private_key)[2:20] not in repr(ring.hmac())


def test_thumbprint_matches_rfc7638_example() -> None:
    # RFC 7638 §3.1
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    with pytest.raises(ValueError):
        thumbprint({"kty": "oct", "k": "x"})


# --- load_signing_key -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA", "RS256"])
def test_load_pem_file_infers_alg_and_thumbprint_kid(tmp_path: Path, alg: str) -> None:
    made = make_key(alg)
    path = tmp_path / "key.pem"
    path.write_bytes(_pem(made.private_key))
    loaded = load_signing_key(str(path))
    assert (loaded.alg, loaded.kid, loaded.role) == (alg, made.kid, "user")
    assert (
        jwt.decode(_token(loaded), jwt.PyJWK(dict(made.public_jwk)), algorithms=[alg])["sub"]
        == "user-1"
    )


def test_load_traditional_pem_with_explicit_alg_and_kid(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    loaded = load_signing_key(str(path), kid="mine", alg="PS384")
    assert (loaded.kid, loaded.alg, loaded.kty) == ("mine", "PS384", "RSA")
    assert loaded.public_jwk["kid"] == "mine"
    assert jwt.decode(_token(loaded), jwt.PyJWK(dict(loaded.public_jwk)), algorithms=["PS384"])


def test_load_jwk_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    made = make_key("ES384", kid="env-key")
    monkeypatch.setenv("CONFORMANCE_TEST_KEY", json.dumps(private_jwk(made)))
    loaded = load_signing_key("env:CONFORMANCE_TEST_KEY")
    assert (loaded.kid, loaded.alg) == ("env-key", "ES384")
    assert jwt.decode(_token(loaded), jwt.PyJWK(dict(made.public_jwk)), algorithms=["ES384"])


def test_load_pem_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    made = make_key("EdDSA")
    monkeypatch.setenv("CONFORMANCE_TEST_KEY", _pem(made.private_key).decode())
    assert load_signing_key("env:CONFORMANCE_TEST_KEY").kid == made.kid


def _assert_one_line_clean(exc: ConfigError, source: str, secrets: list[str]) -> None:
    message = str(exc)
    assert "\n" not in message
    assert source in message
    for secret in secrets:
        assert secret not in message


def _encrypted_pem(made: Any) -> bytes:
    return bytes(
        made.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )


def _case_content(name: str, made: Any) -> bytes:
    jwk = private_jwk(made)
    public_pem = made.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    k1 = ec.generate_private_key(ec.SECP256K1())
    return {
        "public_pem": public_pem,
        "public_jwk": json.dumps(dict(made.public_jwk)).encode(),
        "not_a_key": b"hello, this is not a key",
        "garbage_json": b"{not json",
        "jwks": json.dumps({"keys": [jwk]}).encode(),
        "bad_jwk_member": json.dumps({**jwk, "d": "!!!"}).encode(),
        "secp256k1": _pem(k1),
        "secp256k1_jwk": json.dumps(
            {"kty": "EC", "crv": "secp256k1", "x": "a", "y": "b", "d": "c"}
        ).encode(),
        "ed448": _pem(ed448.Ed448PrivateKey.generate()),
        "oct": json.dumps({"kty": "oct", "k": "c2VjcmV0"}).encode(),
        "encrypted": _encrypted_pem(made),
    }[name]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("public_pem", "public key"),
        ("public_jwk", "public key"),
        ("not_a_key", "not a PEM"),
        ("garbage_json", "neither PEM nor valid JWK"),
        ("jwks", "a JWKS"),
        ("bad_jwk_member", "not a usable EC"),
        ("secp256k1", "unsupported curve"),
        ("secp256k1_jwk", "unsupported curve"),
        ("ed448", "Ed448"),
        ("oct", "symmetric"),
        ("encrypted", "encrypted"),
    ],
)
def test_load_errors_are_one_clean_line(tmp_path: Path, name: str, match: str) -> None:
    made = make_key("ES256")
    path = tmp_path / f"{name}.key"
    path.write_bytes(_case_content(name, made))
    with pytest.raises(ConfigError, match=match) as info:
        load_signing_key(str(path))
    _assert_one_line_clean(info.value, str(path), _secret_markers(made))


@pytest.mark.parametrize(
    ("alg", "match"),
    [
        ("RS256", "does not fit"),
        ("ES384", "does not fit"),
        ("EdDSA", "does not fit"),
        ("HS256", "not one of"),
    ],
)
def test_load_rejects_alg_that_does_not_fit(tmp_path: Path, alg: str, match: str) -> None:
    made = make_key("ES256")
    path = tmp_path / "k.pem"
    path.write_bytes(_pem(made.private_key))
    with pytest.raises(ConfigError, match=match) as info:
        load_signing_key(str(path), alg=alg)
    _assert_one_line_clean(info.value, str(path), _secret_markers(made))


def test_load_rejects_alg_contradicting_jwk(tmp_path: Path) -> None:
    made = make_key("RS256")
    path = tmp_path / "k.jwk.json"
    path.write_text(json.dumps(private_jwk(made)))
    assert load_signing_key(str(path)).alg == "RS256"
    with pytest.raises(ConfigError, match="contradicts") as info:
        load_signing_key(str(path), alg="PS256")
    _assert_one_line_clean(info.value, str(path), _secret_markers(made))


def test_load_missing_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_signing_key(missing)
    _assert_one_line_clean(info.value, missing, [])
    monkeypatch.delenv("CONFORMANCE_NO_SUCH_VAR", raising=False)
    with pytest.raises(ConfigError, match="CONFORMANCE_NO_SUCH_VAR") as info:
        load_signing_key("env:CONFORMANCE_NO_SUCH_VAR")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_signing_key(str(tmp_path))  # a directory


def test_a_fork_shares_the_keys_and_publishes_on_its_own() -> None:
    keyring = Keyring(published_algs=("ES256",))
    twin = keyring.fork()
    assert twin.trusted("ES256") is keyring.trusted("ES256")
    assert twin.rotation("ES256") is keyring.rotation("ES256")  # made once, for both
    twin.publish(twin.rotation("ES256"))
    twin.revoke(twin.trusted("ES256").kid)
    assert [k.kid for k in twin.published()] == [twin.rotation("ES256").kid]
    assert [k.kid for k in keyring.published()] == [keyring.trusted("ES256").kid]
