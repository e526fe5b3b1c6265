"""The forge: every hostile form decoded back is exactly what was asked for (bytes level);
valid tokens verify with two independent libraries (PyJWT, joserfc). Fast: no servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import warnings
from typing import Any

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from conformance import forge
from conformance._jose import SigningKey
from conformance._keyring import ALGS, make_key

CLAIMS = {"sub": "alice", "scope": "wallet:export", "jti": "j-1", "exp": 2_000_000_000}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    """One key per allow-listed alg (RSA generation is slow: once per module)."""
    rsa_key = make_key("RS256", kid="rsa")
    made: dict[str, SigningKey] = {}
    for alg in ALGS:
        if alg[:2] in ("RS", "PS"):
            jwk = {**rsa_key.public_jwk, "kid": f"k-{alg}", "alg": alg}
            made[alg] = SigningKey(f"k-{alg}", alg, "RSA", rsa_key.private_key, jwk)
        else:
            made[alg] = make_key(alg, kid=f"k-{alg}")
    return made


def _token(key: SigningKey, claims: dict[str, Any] | None = None) -> str:
    return forge.compact(forge.standard_header(key), claims or CLAIMS, key=key)


def _raw(token: str) -> list[bytes]:
    return [forge.b64url_decode(part) for part in token.split(".")]


def _pyjwt_decode(token: str, key: SigningKey) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        token, key.public_key, algorithms=[key.alg], options={"verify_exp": False}
    )
    return decoded


def _ec_verify(token: str, key: SigningKey, alg: str = "ES256") -> bool:
    """Verify a raw JWS ECDSA signature with cryptography (DER conversion by hand)."""
    sig = forge.signature_of(token)
    half = len(sig) // 2
    der = encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
    chosen = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[-3:]]
    try:
        key.public_key.verify(der, forge.signing_input_of(token), ec.ECDSA(chosen))
    except InvalidSignature:
        return False
    return True


# --- valid tokens: two independent verifiers ---------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_valid_token_verifies_with_pyjwt(keys: dict[str, SigningKey], alg: str) -> None:
    token = _token(keys[alg])
    assert _pyjwt_decode(token, keys[alg]) == CLAIMS
    assert jwt.get_unverified_header(token) == {"alg": alg, "typ": "JWT", "kid": f"k-{alg}"}


@pytest.mark.parametrize("alg", ALGS)
def test_valid_token_verifies_with_joserfc(keys: dict[str, SigningKey], alg: str) -> None:
    from joserfc import jws
    from joserfc.errors import SecurityWarning
    from joserfc.jwk import import_key

    jwk = dict(keys[alg].public_jwk)
    with warnings.catch_warnings():
        # joserfc flags the polymorphic "EdDSA" as deprecated (RFC 9864); it is still ours
        warnings.simplefilter("ignore", SecurityWarning)
        obj = jws.deserialize_compact(_token(keys[alg]), import_key(jwk), algorithms=[alg])
    assert json.loads(obj.payload) == CLAIMS


def test_standard_header_drops_and_extends(keys: dict[str, SigningKey]) -> None:
    header = forge.standard_header(keys["ES256"], drop=("typ",), cty="x")
    assert header == {"alg": "ES256", "kid": "k-ES256", "cty": "x"}


# --- alg none -----------------------------------------------------------------------------


@pytest.mark.parametrize("casing", forge.NONE_CASINGS)
def test_alg_none_has_empty_signature(keys: dict[str, SigningKey], casing: str) -> None:
    token = forge.alg_none(forge.standard_header(keys["ES256"]), CLAIMS, casing=casing)
    head, body, sig = _raw(token)
    assert json.loads(head)["alg"] == casing
    assert json.loads(body) == CLAIMS
    assert sig == b""
    assert token.endswith(".")


@pytest.mark.parametrize("casing", forge.NONE_CASINGS)
def test_alg_none_keeps_original_signature(keys: dict[str, SigningKey], casing: str) -> None:
    original = _token(keys["ES256"])
    token = forge.alg_none_keeping_signature(original, casing=casing)
    assert token.split(".")[2] == original.split(".")[2]
    assert json.loads(_raw(token)[0]) == {"alg": casing, "typ": "JWT", "kid": "k-ES256"}
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(token, keys["ES256"].public_key, algorithms=["ES256"])


def test_none_casings_are_the_four_spellings() -> None:
    assert forge.NONE_CASINGS == ("none", "None", "NONE", "nOnE")
    assert {c.lower() for c in forge.NONE_CASINGS} == {"none"}


# --- key confusion --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", forge.PUBLIC_KEY_ENCODINGS)
def test_hmac_with_rsa_public_key(keys: dict[str, SigningKey], encoding: str) -> None:
    key = keys["RS256"]
    token = forge.hmac_with_public_key(forge.standard_header(key), CLAIMS, key, encoding=encoding)
    secret = forge.public_key_bytes(key, encoding)
    expected = hmac.new(secret, forge.signing_input_of(token), hashlib.sha256).digest()
    assert hmac.compare_digest(expected, forge.signature_of(token))
    assert json.loads(_raw(token)[0])["alg"] == "HS256"


_RSA_ONLY = ("pkcs1_pem", "pkcs1_pem_no_newline", "pkcs1_der")


@pytest.mark.parametrize("encoding", [e for e in forge.PUBLIC_KEY_ENCODINGS if e not in _RSA_ONLY])
def test_hmac_with_ec_public_key(keys: dict[str, SigningKey], encoding: str) -> None:
    key = keys["ES256"]
    token = forge.hmac_with_public_key(
        forge.standard_header(key), CLAIMS, key, encoding=encoding, alg="HS384"
    )
    secret = forge.public_key_bytes(key, encoding)
    expected = hmac.new(secret, forge.signing_input_of(token), hashlib.sha384).digest()
    assert hmac.compare_digest(expected, forge.signature_of(token))


def test_key_spellings_are_what_they_claim(keys: dict[str, SigningKey]) -> None:
    rsa_key, ec_key = keys["RS256"], keys["ES256"]
    pem = forge.public_key_bytes(ec_key, "pem")
    assert forge.public_key_bytes(ec_key, "pem_crlf") == pem.replace(b"\n", b"\r\n")
    assert forge.public_key_bytes(ec_key, "pem_leading_space") == b"  " + pem
    assert forge.public_key_bytes(ec_key, "pem_bom") == b"\xef\xbb\xbf" + pem
    assert forge.public_key_bytes(ec_key, "openssh").startswith(b"ecdsa-sha2-nistp256 AAAA")
    assert forge.public_key_bytes(rsa_key, "openssh").startswith(b"ssh-rsa AAAA")
    pretty = forge.public_key_bytes(ec_key, "jwk_pretty")
    assert b"\n  " in pretty and json.loads(pretty) == dict(ec_key.public_jwk)
    pkcs1 = forge.public_key_bytes(rsa_key, "pkcs1_pem_no_newline")
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----") and not pkcs1.endswith(b"\n")
    der = forge.public_key_bytes(rsa_key, "pkcs1_der")
    assert der != forge.public_key_bytes(rsa_key, "der") and der.startswith(b"\x30\x82")
    with pytest.raises(ValueError, match="RSA"):
        forge.public_key_bytes(ec_key, "pkcs1_der")
    jwks = {"keys": [dict(ec_key.public_jwk)]}
    assert json.loads(forge.jwks_text(jwks)) == jwks and b" " not in forge.jwks_text(jwks)


def test_public_key_encodings_are_what_they_claim(keys: dict[str, SigningKey]) -> None:
    rsa_key, ec_key = keys["RS256"], keys["ES256"]
    pem = forge.public_key_bytes(rsa_key, "pem")
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert pem.endswith(b"-----\n")
    assert forge.public_key_bytes(rsa_key, "pem_no_newline") == pem[:-1]
    assert forge.public_key_bytes(rsa_key, "pkcs1_pem").startswith(b"-----BEGIN RSA PUBLIC KEY")
    der = forge.public_key_bytes(rsa_key, "der")
    assert base64.b64encode(der).decode() in pem.decode().replace("\n", "")
    n = rsa_key.public_key.public_numbers().n
    assert int.from_bytes(forge.public_key_bytes(rsa_key, "raw"), "big") == n
    point = forge.public_key_bytes(ec_key, "raw")
    assert len(point) == 65
    assert point[0] == 4
    assert int.from_bytes(point[1:33], "big") == ec_key.public_key.public_numbers().x
    assert json.loads(forge.public_key_bytes(ec_key, "jwk")) == dict(ec_key.public_jwk)
    with pytest.raises(ValueError):
        forge.public_key_bytes(ec_key, "pkcs1_pem")
    with pytest.raises(ValueError):
        forge.public_key_bytes(ec_key, "base32")


def test_pyjwt_itself_refuses_hmac_with_a_pem_secret(keys: dict[str, SigningKey]) -> None:
    # Why the forge MACs by hand: the library guards against exactly this token.
    pem = forge.public_key_bytes(keys["RS256"], "pem")
    with pytest.raises(jwt.InvalidKeyError):
        jwt.encode(CLAIMS, pem, algorithm="HS256")


@pytest.mark.parametrize("secret", [b"", *forge.WEAK_SECRETS])
def test_weak_and_empty_hmac_secrets(keys: dict[str, SigningKey], secret: bytes) -> None:
    token = forge.compact({"alg": "HS256", "typ": "JWT"}, CLAIMS, key=secret)
    expected = hmac.new(secret, forge.signing_input_of(token), hashlib.sha256).digest()
    assert forge.signature_of(token) == expected


# --- signature mutations ---------------------------------------------------------------------


def test_signature_mutations_bytes(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    sig = forge.signature_of(token)
    assert len(sig) == 64
    assert forge.strip_signature(token) == token.rsplit(".", 1)[0] + "."
    truncated = forge.truncate_signature(token)
    assert forge.signature_of(truncated) == sig[:61]  # 3 bytes, about 4 characters, fewer
    segment = truncated.rsplit(".", 1)[1]
    # canonical base64url: only the length is wrong, never the encoding
    assert forge.b64url_encode(forge.b64url_decode(segment)) == segment
    assert forge.signature_of(forge.zero_signature(token)) == bytes(64)
    assert forge.signature_of(forge.xor_signature(token)) == bytes(b ^ 0x5A for b in sig)
    assert forge.signature_of(forge.append_zeros(token, 3)) == sig + bytes(3)
    assert forge.signature_of(forge.prepend_zeros(token)) == b"\x00" + sig
    for broken in (forge.zero_signature(token), forge.xor_signature(token)):
        assert broken.split(".")[:2] == token.split(".")[:2]
        assert not _ec_verify(broken, keys["ES256"])


def test_resign_with_another_key(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    other = make_key("ES256", kid="other")
    resigned = forge.resign(token, other)
    assert resigned.split(".")[:2] == token.split(".")[:2]
    assert _ec_verify(resigned, other)
    assert not _ec_verify(resigned, keys["ES256"])


def test_tamper_payload_keeps_signature(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["RS256"])
    tampered = forge.tamper_payload(token, sub="mallory", drop=("jti",))
    assert tampered.split(".")[0] == token.split(".")[0]
    assert tampered.split(".")[2] == token.split(".")[2]
    assert json.loads(_raw(tampered)[1]) == {
        **{k: v for k, v in CLAIMS.items() if k != "jti"},
        "sub": "mallory",
    }
    with pytest.raises(jwt.InvalidSignatureError):
        _pyjwt_decode(tampered, keys["RS256"])


def test_tamper_header_keeps_signature(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["RS256"])
    tampered = forge.tamper_header(token, kid="other", drop=("typ",))
    assert json.loads(_raw(tampered)[0]) == {"alg": "RS256", "kid": "other"}
    assert tampered.split(".")[1:] == token.split(".")[1:]
    with pytest.raises(jwt.InvalidSignatureError):
        _pyjwt_decode(tampered, keys["RS256"])


# --- ECDSA ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_high_s_is_still_valid_ecdsa(keys: dict[str, SigningKey], alg: str) -> None:
    token = _token(keys[alg])
    twin = forge.ecdsa_high_s(token, alg)
    r, s = forge.ecdsa_rs(token)
    r2, s2 = forge.ecdsa_rs(twin)
    assert (r2, s2) == (r, forge.CURVE_ORDERS[alg] - s)
    assert twin != token
    assert len(forge.signature_of(twin)) == 2 * forge.COORDINATE_SIZES[alg]
    assert _ec_verify(twin, keys[alg], alg)


def test_curve_orders_match_cryptography() -> None:
    curves = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
    for alg, size in forge.COORDINATE_SIZES.items():
        assert forge.CURVE_ORDERS[alg] == curves[alg].group_order
        assert (forge.CURVE_ORDERS[alg].bit_length() + 7) // 8 == size


def test_psychic_signatures(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    raw = forge.psychic_raw(token)
    assert forge.signature_of(raw) == bytes(64)
    assert not _ec_verify(raw, keys["ES256"])
    der = forge.psychic_der(token)
    assert der.split(".")[2] == "MAYCAQACAQA"
    assert decode_dss_signature(forge.signature_of(der)) == (0, 0)
    assert forge.signature_of(forge.psychic_raw(token, "ES384")) == bytes(96)


def test_ecdsa_der_form(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    der = forge.signature_of(forge.ecdsa_der(token))
    assert decode_dss_signature(der) == forge.ecdsa_rs(token)
    assert der[0] == 0x30


def test_with_ecdsa_rs_places_values(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    n = forge.CURVE_ORDERS["ES256"]
    _r, s = forge.ecdsa_rs(token)
    forged = forge.with_ecdsa_rs(token, n, s, size=32)
    assert forge.signature_of(forged) == n.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert not _ec_verify(forged, keys["ES256"])


# --- RSA ------------------------------------------------------------------------------------


def _rsa_verify(token: str, key: SigningKey) -> bool:
    try:
        key.public_key.verify(
            forge.signature_of(token),
            forge.signing_input_of(token),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize("variant", forge.PKCS1_VARIANTS)
def test_pkcs1_variants(keys: dict[str, SigningKey], variant: str) -> None:
    key = keys["RS256"]
    token = forge.pkcs1v15_forged(_token(key), key, variant)
    assert len(forge.signature_of(token)) == 256
    # the raw-RSA path is right (the control verifies) and every bent encoding is refused
    assert _rsa_verify(token, key) is (variant == "valid")
    em = forge.pkcs1v15_encoded(forge.signing_input_of(token), "RS256", 256, variant)
    assert len(em) == 256
    assert em[0] == 0
    n = key.public_key.public_numbers().n
    assert pow(int.from_bytes(forge.signature_of(token), "big"), 65537, n) == int.from_bytes(
        em, "big"
    )


def test_pkcs1_valid_variant_equals_library_signature(keys: dict[str, SigningKey]) -> None:
    key = keys["RS256"]
    token = _token(key)  # PKCS#1 v1.5 is deterministic
    assert forge.pkcs1v15_forged(token, key, "valid") == token


def test_pkcs1_variant_shapes() -> None:
    digest = hashlib.sha256(b"x").digest()
    em = {v: forge.pkcs1v15_encoded(b"x", "RS256", 256, v) for v in forge.PKCS1_VARIANTS}
    assert em["valid"].endswith(digest)
    assert em["valid"][:2] == b"\x00\x01"
    assert em["block_type_02"][:2] == b"\x00\x02"
    assert b"\xfe" * 8 in em["padding_not_ff"]
    assert em["no_separator"].count(b"\xff\x30\x31") == 1
    assert em["short_padding_trailing_garbage"].endswith(b"\xab")
    assert em["long_form_length"][-len(digest) - 3 :].startswith(b"\x04\x81\x20")
    with pytest.raises(ValueError):
        forge.pkcs1v15_encoded(b"x", "RS256", 256, "nope")


@pytest.mark.parametrize("variant", forge.PSS_VARIANTS)
def test_pss_variants_fail_jws_parameters(keys: dict[str, SigningKey], variant: str) -> None:
    key = keys["PS256"]
    token = forge.pss_variant(_token(key), key, variant)
    with pytest.raises(jwt.InvalidSignatureError):
        _pyjwt_decode(token, key)


def test_e_equals_one_signature_is_the_encoded_message(keys: dict[str, SigningKey]) -> None:
    token = forge.e_equals_one_signature(_token(keys["RS256"]), size=256)
    em = forge.pkcs1v15_encoded(forge.signing_input_of(token), "RS256", 256)
    assert forge.signature_of(token) == em


def test_rsa_strip_leading_zero(keys: dict[str, SigningKey]) -> None:
    key = keys["RS256"]
    found = None
    for i in range(4000):
        token = _token(key, {**CLAIMS, "jti": f"j-{i}"})
        if forge.signature_of(token)[0] == 0:
            found = token
            break
    assert found is not None
    short = forge.rsa_strip_leading_zero(found)
    assert forge.signature_of(short) == forge.signature_of(found)[1:]
    with pytest.raises(ValueError):
        forge.rsa_strip_leading_zero(forge.replace_signature(found, b"\x01" * 256))


# --- base64url -------------------------------------------------------------------------------


def test_padding_and_alphabet(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    padded = forge.pad_segment(token, 2)
    assert padded.split(".")[2].endswith("==")  # 64 bytes -> 86 chars + "=="
    assert base64.urlsafe_b64decode(padded.split(".")[2]) == forge.signature_of(token)
    for _ in range(64):
        if re.search("[-_]", token.split(".")[2]):
            break
        token = _token(keys["ES256"])  # ECDSA is randomised: draw until a - or _ shows
    std = forge.standard_alphabet(token, 2).split(".")[2]
    assert "-" not in std
    assert "_" not in std
    assert re.search("[+/]", std)
    assert base64.b64decode(std + "==") == forge.signature_of(token)


def test_insert_text(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    spaced = forge.insert_text(token, 1, " \n", at=3)
    segment = spaced.split(".")[1]
    assert segment[3:5] == " \n"
    assert segment.replace(" \n", "") == token.split(".")[1]


def test_noncanonical_decodes_to_the_same_bytes(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    odd = forge.noncanonical(token, 2)
    assert odd.split(".")[2] != token.split(".")[2]
    assert forge.b64url_decode(odd.split(".")[2]) == forge.signature_of(token)
    assert forge.b64url_encode(forge.b64url_decode(odd.split(".")[2])) != odd.split(".")[2]
    with pytest.raises(ValueError):
        forge.noncanonical_segment("AAAA")


# --- JSON and text encodings --------------------------------------------------------------


def test_json_with_duplicates() -> None:
    raw = forge.json_with_duplicates([("sub", "victim"), ("sub", "attacker"), ("n", 1)])
    assert raw == b'{"sub":"victim","sub":"attacker","n":1}'
    assert json.loads(raw) == {"sub": "attacker", "n": 1}


@pytest.mark.parametrize(
    ("encoding", "bom", "prefix"),
    [
        ("utf-16-le", False, b"{\x00"),
        ("utf-16", False, b"\xff\xfe"),
        ("utf-32-be", False, b"\x00\x00\x00{"),
        ("utf-8", True, b"\xef\xbb\xbf{"),
    ],
)
def test_json_in_other_encodings(encoding: str, bom: bool, prefix: bytes) -> None:
    raw = forge.json_in({"a": 1}, encoding, bom=bom)
    assert raw.startswith(prefix)
    assert json.loads(raw.decode(encoding).lstrip("\ufeff")) == {"a": 1}


def test_overlong_utf8() -> None:
    assert forge.overlong_utf8("/") == b"\xc0\xaf"
    assert forge.overlong_utf8("c") == b"\xc1\xa3"
    with pytest.raises(UnicodeDecodeError):
        forge.overlong_utf8("c").decode("utf-8")
    with pytest.raises(ValueError):
        forge.overlong_utf8("é")


def test_payload_bytes_verbatim(keys: dict[str, SigningKey]) -> None:
    raw = b'{"sub":"\xc1\xa3x"}'
    token = forge.compact(forge.standard_header(keys["ES256"]), raw, key=keys["ES256"])
    assert _raw(token)[1] == raw
    assert _ec_verify(token, keys["ES256"])


def test_deflate_roundtrip() -> None:
    import zlib

    data = json.dumps(CLAIMS).encode()
    assert zlib.decompress(forge.deflate(data), wbits=-15) == data


# --- shapes ------------------------------------------------------------------------------


def test_segment_counts(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"])
    parts = token.split(".")
    assert forge.with_segments(token, 2) == ".".join(parts[:2])
    assert forge.with_segments(token, 1) == parts[0]
    assert forge.with_segments(token, 4).split(".") == [*parts, parts[2]]
    assert len(forge.with_segments(token, 5).split(".")) == 5
    assert forge.trailing_empty_segment(token).split(".") == [*parts, ""]


def test_jwe_shaped() -> None:
    token = forge.jwe_shaped()
    parts = token.split(".")
    assert len(parts) == 5
    assert json.loads(forge.b64url_decode(parts[0])) == {"alg": "RSA-OAEP", "enc": "A256GCM"}
    assert [len(forge.b64url_decode(p)) for p in parts[1:]] == [256, 12, 48, 16]
    assert all(_SEGMENT.fullmatch(p) for p in parts)


def test_json_serializations(keys: dict[str, SigningKey]) -> None:
    from joserfc import jws
    from joserfc.jwk import import_key

    token = _token(keys["ES256"])
    head, body, sig = token.split(".")
    flat = json.loads(forge.json_serialization(token))
    assert flat == {"protected": head, "payload": body, "signature": sig}
    general = json.loads(forge.json_serialization(token, flattened=False))
    assert general == {"payload": body, "signatures": [{"protected": head, "signature": sig}]}
    # the JSON form is a genuinely valid JWS (only its serialisation is wrong for us)
    obj = jws.deserialize_json(flat, import_key(dict(keys["ES256"].public_jwk)))
    assert json.loads(obj.payload) == CLAIMS


def test_nested(keys: dict[str, SigningKey]) -> None:
    inner = _token(keys["ES256"])
    outer = forge.nested(inner, forge.standard_header(keys["RS256"]), keys["RS256"])
    head, body, _ = _raw(outer)
    assert json.loads(head)["cty"] == "JWT"
    assert body == inner.encode()
    assert (
        jwt.api_jws.decode(outer, keys["RS256"].public_key, algorithms=["RS256"]) == inner.encode()
    )


def test_padded_payload_size(keys: dict[str, SigningKey]) -> None:
    token = _token(keys["ES256"], forge.padded_payload(CLAIMS, 20_000))
    assert len(token) > 20_000 * 4 // 3
    assert json.loads(_raw(token)[1])["pad"] == "A" * 20_000


def test_unencoded_payload(keys: dict[str, SigningKey]) -> None:
    key = keys["ES256"]
    token = forge.unencoded_payload(forge.standard_header(key), b'{"sub":"alice"}', key)
    head, body, _sig = token.split(".")
    assert json.loads(forge.b64url_decode(head))["b64"] is False
    assert json.loads(forge.b64url_decode(head))["crit"] == ["b64"]
    assert body == '{"sub":"alice"}'
    der = encode_dss_signature(*forge.ecdsa_rs(token))
    key.public_key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ValueError):
        forge.unencoded_payload(forge.standard_header(key), b'{"iss":"a.b"}', key)


# --- header members ------------------------------------------------------------------------


def test_x5c_chain_is_a_self_signed_certificate(keys: dict[str, SigningKey]) -> None:
    from cryptography import x509

    for alg in ("RS256", "ES256", "EdDSA"):
        chain = forge.x5c_chain(keys[alg])
        cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        assert cert.issuer == cert.subject
        assert cert.public_key() == keys[alg].public_key
        assert forge.x5t_s256(base64.b64decode(chain[0])) == forge.b64url_encode(
            hashlib.sha256(base64.b64decode(chain[0])).digest()
        )


def test_kid_injections_table() -> None:
    by_name = {k.name: k for k in forge.KID_INJECTIONS}
    assert len(by_name) == len(forge.KID_INJECTIONS)
    assert by_name["path_traversal_dev_null"].kid == "../../../../../../dev/null"
    assert by_name["path_traversal_dev_null"].secret == b""
    assert by_name["proc_randomize_va_space"].secret == b"2"
    assert by_name["sql_union"] == forge.KidInjection("sql_union", "x' UNION SELECT '1';--", b"1")
    assert len(by_name["huge_10kb"].kid) == 10_240
    assert "\x00" in by_name["nul_byte"].kid
    assert not isinstance(by_name["integer"].kid, str)


def test_kid_injection_tokens_carry_the_value(keys: dict[str, SigningKey]) -> None:
    for item in forge.KID_INJECTIONS:
        header = {"alg": "HS256", "typ": "JWT", "kid": item.kid}
        token = forge.compact(header, CLAIMS, key=item.secret if item.secret is not None else b"k")
        assert json.loads(_raw(token)[0])["kid"] == item.kid


def test_crit_and_typ_tables() -> None:
    assert forge.CRIT_VARIANTS["unknown_extension"] == {"crit": ["exp-ext"], "exp-ext": True}
    assert forge.CRIT_VARIANTS["empty_list"] == {"crit": []}
    assert not set(forge.TYP_ACCEPTED) & set(forge.TYP_REJECTED)
    assert all(t.lower() in ("jwt", "application/jwt") for t in forge.TYP_ACCEPTED)


def test_jwe_to_is_a_real_jwe_an_independent_library_decrypts() -> None:
    from joserfc import jwe
    from joserfc.jwk import ECKey, RSAKey

    ec_key = ECKey.generate_key("P-256", private=True)
    token = forge.jwe_to(b'{"sub":"a"}', ec_key.as_dict(private=False), header={"cty": "JWT"})
    assert token.count(".") == 4 and token.split(".")[1] == ""  # direct agreement: no key
    opened = jwe.decrypt_compact(token, ec_key)
    assert opened.plaintext == b'{"sub":"a"}' and opened.protected["cty"] == "JWT"
    rsa_key = RSAKey.generate_key(2048, private=True)
    token = forge.jwe_to(b"x", rsa_key.as_dict(private=False))
    assert jwe.decrypt_compact(
        token, rsa_key, algorithms=["RSA-OAEP-256", "A256GCM"]
    ).plaintext == (b"x")
    with pytest.raises(ValueError, match="OKP"):
        forge.jwe_to(b"x", {"kty": "OKP", "crv": "Ed25519", "x": "AA"})


def test_jws_json_builds_each_part() -> None:
    flat = json.loads(
        forge.jws_json({"a": 1}, [forge.JsonSignature(header={"alg": "none"})], flattened=True)
    )
    assert flat == {
        "payload": forge.b64url_encode(b'{"a":1}'),
        "header": {"alg": "none"},
        "signature": "",
    }
    general = json.loads(forge.jws_json({"a": 1}, []))
    assert general["signatures"] == []
    with pytest.raises(ValueError, match="exactly one"):
        forge.jws_json({"a": 1}, [], flattened=True)
