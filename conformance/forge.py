"""Forge: hostile compact JWS tokens, the toolkit of cases and of reviewers' notebooks.

``from conformance import forge`` is all a notebook needs: the JOSE core (:func:`compact`,
:func:`split`, :func:`sign`, :func:`b64url_encode`, :func:`b64url_decode`) is re-exported
from ``conformance._jose``, and the families below make what no library would:

- **alg none**: :func:`alg_none`, :func:`alg_none_keeping_signature`, :data:`NONE_CASINGS`.
- **key confusion**: HMAC keyed with the trusted *public* key in every spelling a key
  store may hold (:func:`hmac_with_public_key`, :func:`public_key_bytes`,
  :data:`PUBLIC_KEY_ENCODINGS`, :func:`jwks_text`), weak secrets (:data:`WEAK_SECRETS`).
- **signature mutations** on a finished token: :func:`replace_signature`,
  :func:`strip_signature`, :func:`truncate_signature`, :func:`zero_signature`,
  :func:`xor_signature`, :func:`resign`, :func:`append_zeros`, :func:`prepend_zeros`.
- **header and payload mutations** keeping the signature: :func:`tamper_header`,
  :func:`tamper_payload`, :func:`standard_header`.
- **ECDSA**: psychic signatures (CVE-2022-21449: :func:`psychic_raw`, :func:`psychic_der`),
  high-s malleation, DER instead of raw ``r || s``.
- **RSA**: PKCS#1 v1.5 padding tricks (:data:`PKCS1_VARIANTS`), PSS parameter tricks
  (:data:`PSS_VARIANTS`), ``e = 1``, a stripped leading zero, textbook RSA.
- **encodings**: base64url padding, alphabet, inserted text, non-canonical segments;
  duplicate JSON names, other text encodings, overlong UTF-8, DEFLATE.
- **shapes**: segment counts, JWE-shaped tokens, JSON serialisations (of a token, or from
  parts: :func:`jws_json`, :class:`JsonSignature`), nesting, size,
  RFC 7797 unencoded payloads.
- **header members**: ``x5c`` chains, ``x5t#S256``, hostile ``kid`` values
  (:data:`KID_INJECTIONS`), ``crit`` and ``typ`` variants.

Nothing here validates anything: the emulator validates with PyJWT and shares no code
with this module, so a bug here cannot hide the same bug there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._jose import (
    SigningKey,
    b64url_decode,
    b64url_encode,
    compact,
    encode_json,
    sign,
    split,
)
from ._jose import hash_for as _hash_for
from ._jose import signing_input as signing_input_of
from ._keyring import self_signed_certificate

__all__ = [
    "COORDINATE_SIZES",
    "CRIT_VARIANTS",
    "CURVE_ORDERS",
    "KID_INJECTIONS",
    "NONE_CASINGS",
    "PKCS1_VARIANTS",
    "PSS_VARIANTS",
    "PSYCHIC_DER",
    "PUBLIC_KEY_ENCODINGS",
    "TYP_ACCEPTED",
    "TYP_REJECTED",
    "WEAK_SECRETS",
    "JsonSignature",
    "KidInjection",
    "alg_none",
    "alg_none_keeping_signature",
    "append_zeros",
    "b64url_decode",
    "b64url_encode",
    "compact",
    "deflate",
    "e_equals_one_signature",
    "ecdsa_der",
    "ecdsa_high_s",
    "ecdsa_rs",
    "encode_json",
    "hmac_with_public_key",
    "insert_text",
    "json_in",
    "json_serialization",
    "json_with_duplicates",
    "jwe_shaped",
    "jwe_to",
    "jwks_text",
    "jws_json",
    "nested",
    "noncanonical",
    "noncanonical_segment",
    "overlong_utf8",
    "pad_segment",
    "padded_payload",
    "pkcs1v15_encoded",
    "pkcs1v15_forged",
    "prepend_zeros",
    "pss_variant",
    "psychic_der",
    "psychic_raw",
    "public_key_bytes",
    "replace_signature",
    "resign",
    "rsa_raw_sign",
    "rsa_strip_leading_zero",
    "sign",
    "signature_of",
    "signing_input_of",
    "split",
    "standard_alphabet",
    "standard_header",
    "strip_signature",
    "tamper_header",
    "tamper_payload",
    "trailing_empty_segment",
    "truncate_signature",
    "unencoded_payload",
    "with_ecdsa_rs",
    "with_segments",
    "x5c_chain",
    "x5t_s256",
    "xor_signature",
    "zero_signature",
]


# ---------------------------------------------------------------------------
# Hostile tokens. Each helper makes one thing no library would produce; they compose:
# most take a finished compact token and return a changed one, the rest build from
# (header, payload, key) like :func:`compact`.
# ---------------------------------------------------------------------------

#: ``alg: none`` spellings a blocklist may miss (jwt_tool ``-X a``, Wycheproof algIsNone).
NONE_CASINGS: tuple[str, ...] = ("none", "None", "NONE", "nOnE")

#: Common HMAC secrets (a handful from jwt_tool's ``jwt-common.txt`` and the PortSwigger
#: weak-key lab); enough to catch a default secret, not a cracking list.
WEAK_SECRETS: tuple[bytes, ...] = (
    b"secret",
    b"secret1",
    b"password",
    b"123456",
    b"your-256-bit-secret",
    b"changeme",
    b"jwt",
    b"key",
)

#: How the trusted public key is turned into an HMAC secret by key-confusion attacks.
PUBLIC_KEY_ENCODINGS: tuple[str, ...] = (
    "pem",
    "pem_no_newline",
    "pkcs1_pem",
    "der",
    "jwk",
    "raw",
    # the spellings key loaders and PEM guards disagree on (issue 14, class 2)
    "pem_crlf",
    "pem_leading_space",
    "pem_bom",
    "pkcs1_pem_no_newline",
    "pkcs1_der",
    "openssh",
    "jwk_pretty",
)

_DIGEST_INFO = {
    "256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def _parts(token: str) -> list[str]:
    return token.split(".")


def _join(parts: list[str]) -> str:
    return ".".join(parts)


def standard_header(key: SigningKey, *, drop: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """``{"alg", "typ": "JWT", "kid"}`` for ``key``, updated with ``extra``, minus ``drop``.

    The header every correctly signed assertion carries; cases change one member of it.
    """
    header: dict[str, Any] = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
    header.update(extra)
    for name in drop:
        header.pop(name, None)
    return header


# --- alg none ---------------------------------------------------------------------------


def alg_none(header: Mapping[str, Any], payload: Any, *, casing: str = "none") -> str:
    """An unsigned token: ``alg`` set to ``casing`` and an empty signature segment."""
    return compact({**header, "alg": casing}, payload, signature=b"")


def alg_none_keeping_signature(token: str, *, casing: str = "none") -> str:
    """``token`` re-headed with ``alg: casing`` while its original signature stays in place."""
    return tamper_header(token, alg=casing)


# --- key confusion ----------------------------------------------------------------------


def public_key_bytes(key: SigningKey | Any, encoding: str) -> bytes:
    """The public key of ``key`` as bytes an attacker would feed to HMAC.

    ``encoding`` is one of :data:`PUBLIC_KEY_ENCODINGS`: ``pem`` (SubjectPublicKeyInfo,
    with its trailing newline), ``pem_no_newline``, ``pkcs1_pem`` (``RSA PUBLIC KEY``, what
    modulus-recovery tools print; RSA only), ``der``, ``jwk`` (the published JWK as compact
    JSON; needs a :class:`SigningKey`), ``raw`` (RSA modulus bytes, or the uncompressed EC
    point ``04 || x || y``, or the 32 Ed25519 bytes); the spellings PEM guards miss:
    ``pem_crlf`` (CRLF line ends), ``pem_leading_space`` (two spaces before the armour),
    ``pem_bom`` (a UTF-8 BOM before it), ``pkcs1_pem_no_newline`` and ``pkcs1_der`` (RSA
    only), ``openssh`` (``ssh-rsa AAAA...``/``ecdsa-sha2-nistp256 AAAA...``, no comment),
    ``jwk_pretty`` (the published JWK as indented JSON). Raises ``ValueError`` otherwise.
    """
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    public = key.public_key if isinstance(key, SigningKey) else key
    if hasattr(public, "public_key") and not isinstance(
        public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    ):
        public = public.public_key()
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    if encoding in ("pem", "pem_no_newline"):
        pem = bytes(public.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo))
        return pem.rstrip(b"\n") if encoding == "pem_no_newline" else pem
    if encoding == "pkcs1_pem":
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("pkcs1_pem needs an RSA key")
        return bytes(public.public_bytes(enc.PEM, fmt.PKCS1))
    if encoding == "der":
        return bytes(public.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo))
    if encoding == "jwk":
        if not isinstance(key, SigningKey):
            raise ValueError("jwk needs a SigningKey (its published JWK)")
        return encode_json(dict(key.public_jwk))
    if encoding in _PEM_MUTATIONS:
        pem = bytes(public.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo))
        return bytes(_PEM_MUTATIONS[encoding](pem))
    if encoding in ("pkcs1_pem_no_newline", "pkcs1_der"):
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError(f"{encoding} needs an RSA key")
        if encoding == "pkcs1_der":
            return bytes(public.public_bytes(enc.DER, fmt.PKCS1))
        return bytes(public.public_bytes(enc.PEM, fmt.PKCS1)).rstrip(b"\n")
    if encoding == "openssh":
        return bytes(public.public_bytes(enc.OpenSSH, fmt.OpenSSH))
    if encoding == "jwk_pretty":
        if not isinstance(key, SigningKey):
            raise ValueError("jwk_pretty needs a SigningKey (its published JWK)")
        return json.dumps(dict(key.public_jwk), indent=2).encode("utf-8")
    if encoding == "raw":
        if isinstance(public, rsa.RSAPublicKey):
            n = public.public_numbers().n
            return n.to_bytes((n.bit_length() + 7) // 8, "big")
        if isinstance(public, ec.EllipticCurvePublicKey):
            return bytes(public.public_bytes(enc.X962, fmt.UncompressedPoint))
        return bytes(public.public_bytes(enc.Raw, serialization.PublicFormat.Raw))
    raise ValueError(f"unknown public key encoding {encoding!r}")


_PEM_MUTATIONS: Mapping[str, Any] = {
    "pem_crlf": lambda pem: pem.replace(b"\n", b"\r\n"),
    "pem_leading_space": lambda pem: b"  " + pem,
    "pem_bom": lambda pem: b"\xef\xbb\xbf" + pem,
}


def jwks_text(jwks: Mapping[str, Any]) -> bytes:
    """A JWKS as compact JSON, as a JWKS host serves it (the "whole JWKS" HMAC secret)."""
    return json.dumps(dict(jwks), separators=(",", ":")).encode("utf-8")


def hmac_with_public_key(
    header: Mapping[str, Any],
    payload: Any,
    key: SigningKey | Any,
    *,
    encoding: str = "pem",
    alg: str = "HS256",
) -> str:
    """Key confusion (CVE-2016-10555): ``alg`` HS* MACed with the *public* key's bytes.

    PyJWT refuses this (it rejects PEM HMAC secrets), so the MAC is made with ``hmac``.
    """
    secret = public_key_bytes(key, encoding)
    return compact({**header, "alg": alg}, payload, key=secret, alg=alg)


# --- signature mutations on a finished token ----------------------------------------------


def signature_of(token: str) -> bytes:
    """The decoded signature segment of a compact token."""
    return b64url_decode(_parts(token)[2])


def replace_signature(token: str, signature: bytes) -> str:
    """``token`` with its signature segment replaced by ``signature`` (base64url)."""
    parts = _parts(token)
    parts[2] = b64url_encode(signature)
    return _join(parts)


def strip_signature(token: str) -> str:
    """``header.payload.``: the signature removed, the last dot kept (CVE-2020-28042)."""
    return replace_signature(token, b"")


def truncate_signature(token: str, chars: int = 4) -> str:
    """The signature segment about ``chars`` base64url characters shorter: its last
    ``chars * 3 // 4`` bytes dropped and the rest encoded canonically, so that only the
    length is wrong (cutting characters leaves stray bits in the last one three times in
    four, and a strict decoder then refuses the encoding, not the signature)."""
    parts = _parts(token)
    raw = b64url_decode(parts[2])
    parts[2] = b64url_encode(raw[: len(raw) - max(1, chars * 3 // 4)])
    return _join(parts)


def zero_signature(token: str) -> str:
    """A signature of the right length made only of zero bytes."""
    return replace_signature(token, bytes(len(signature_of(token))))


def xor_signature(token: str, mask: int = 0x5A) -> str:
    """Every signature byte XORed with ``mask`` (OIDF ``InvalidateJwsSignature``)."""
    return replace_signature(token, bytes(b ^ mask for b in signature_of(token)))


def resign(token: str, key: SigningKey | Any, alg: str | None = None) -> str:
    """``token``'s header and payload, signed by ``key`` (e.g. an attacker key) instead."""
    head_alg = json.loads(b64url_decode(_parts(token)[0])).get("alg")
    chosen = alg or (key.alg if isinstance(key, SigningKey) else head_alg)
    return replace_signature(token, sign(signing_input_of(token), key, chosen))


def tamper_payload(token: str, *, drop: tuple[str, ...] = (), **claims: Any) -> str:
    """The payload changed (claims set or dropped), the original signature kept."""
    parts = _parts(token)
    payload = json.loads(b64url_decode(parts[1]))
    payload.update(claims)
    for name in drop:
        payload.pop(name, None)
    parts[1] = b64url_encode(encode_json(payload))
    return _join(parts)


def tamper_header(token: str, *, drop: tuple[str, ...] = (), **params: Any) -> str:
    """The header changed (members set or dropped), the original signature kept."""
    parts = _parts(token)
    header = json.loads(b64url_decode(parts[0]))
    header.update(params)
    for name in drop:
        header.pop(name, None)
    parts[0] = b64url_encode(encode_json(header))
    return _join(parts)


# --- ECDSA ------------------------------------------------------------------------------

#: Group orders of the JWS curves, by ES* alg.
CURVE_ORDERS: Mapping[str, int] = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77A"
        "ECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        "a51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        16,
    ),
}

#: Octets per coordinate of a raw JWS ECDSA signature, by ES* alg.
COORDINATE_SIZES: Mapping[str, int] = {"ES256": 32, "ES384": 48, "ES512": 66}

#: The DER encoding of the ECDSA signature r = s = 0 (CVE-2022-21449, "psychic signature").
PSYCHIC_DER = b64url_decode("MAYCAQACAQA")


def ecdsa_rs(token: str) -> tuple[int, int]:
    """``(r, s)`` of a raw ``r || s`` ECDSA signature."""
    sig = signature_of(token)
    half = len(sig) // 2
    return int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big")


def with_ecdsa_rs(token: str, r: int, s: int, *, size: int) -> str:
    """``token`` with a raw signature ``r || s``, each ``size`` octets (any value that fits)."""
    return replace_signature(token, r.to_bytes(size, "big") + s.to_bytes(size, "big"))


def ecdsa_der(token: str) -> str:
    """The raw JWS ECDSA signature re-encoded as ASN.1 DER (the X.509 form, not JWS's)."""
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    r, s = ecdsa_rs(token)
    return replace_signature(token, encode_dss_signature(r, s))


def ecdsa_high_s(token: str, alg: str = "ES256") -> str:
    """The malleated twin ``(r, n - s)``: still a valid ECDSA signature, other bytes."""
    r, s = ecdsa_rs(token)
    return with_ecdsa_rs(token, r, CURVE_ORDERS[alg] - s, size=COORDINATE_SIZES[alg])


def psychic_raw(token: str, alg: str = "ES256") -> str:
    """r = s = 0 in the raw form: all-zero bytes of the right length (CVE-2022-21449)."""
    return with_ecdsa_rs(token, 0, 0, size=COORDINATE_SIZES[alg])


def psychic_der(token: str) -> str:
    """r = s = 0 in DER: ``MAYCAQACAQA``."""
    return replace_signature(token, PSYCHIC_DER)


def append_zeros(token: str, count: int = 2) -> str:
    """The signature with ``count`` zero bytes appended (Wycheproof ``TrailingZeros``)."""
    return replace_signature(token, signature_of(token) + bytes(count))


def prepend_zeros(token: str, count: int = 1) -> str:
    """The signature with ``count`` leading zero bytes (longer than a JWS signature may be)."""
    return replace_signature(token, bytes(count) + signature_of(token))


# --- RSA --------------------------------------------------------------------------------


def rsa_strip_leading_zero(token: str) -> str:
    """An RSA signature whose leading zero octet is dropped: one byte shorter than the modulus.

    Raises ``ValueError`` unless the signature starts with a zero octet (1 in 256 do).
    """
    sig = signature_of(token)
    if sig[:1] != b"\x00":
        raise ValueError("signature has no leading zero octet")
    return replace_signature(token, sig[1:])


def _rsa_private_numbers(key: SigningKey | Any) -> Any:
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = key.private_key if isinstance(key, SigningKey) else key
    if not isinstance(private, rsa.RSAPrivateKey):
        raise TypeError("needs an RSA private key")
    return private.private_numbers()


def rsa_raw_sign(encoded_message: bytes, key: SigningKey | Any) -> bytes:
    """Textbook RSA ``EM^d mod n``: sign any encoded message, however malformed."""
    numbers = _rsa_private_numbers(key)
    n = numbers.public_numbers.n
    size = (n.bit_length() + 7) // 8
    m = int.from_bytes(encoded_message, "big")
    if m >= n:
        raise ValueError("encoded message does not fit under the modulus")
    # The CRT form (Garner): the same result as pow(m, d, n), about 3x faster.
    p, q = numbers.p, numbers.q
    s1 = pow(m, numbers.dmp1, p)
    s2 = pow(m, numbers.dmq1, q)
    h = (numbers.iqmp * (s1 - s2)) % p
    signature: int = s2 + h * q
    return signature.to_bytes(size, "big")


#: PKCS#1 v1.5 encoding tricks (Wycheproof ``ModifiedPadding``); ``valid`` is the control.
PKCS1_VARIANTS: tuple[str, ...] = (
    "valid",
    "block_type_02",
    "padding_not_ff",
    "short_padding_trailing_garbage",
    "no_separator",
    "wrong_hash_oid",
    "long_form_length",
    "digest_truncated",
)


def pkcs1v15_encoded(signing_input: bytes, alg: str, size: int, variant: str = "valid") -> bytes:
    """The PKCS#1 v1.5 ``EM`` of ``signing_input`` for ``alg``, bent as ``variant`` says.

    ``size`` is the modulus length in octets. Every variant but ``valid`` must be rejected
    by a strict verifier; lax parsers (skipping padding, parsing DigestInfo loosely,
    ignoring trailing bytes) accept some of them.
    """
    bits = alg[-3:]
    digest: bytes = _hash_for(alg)(signing_input).digest()
    info = _DIGEST_INFO[bits]
    if variant == "wrong_hash_oid":
        # sha256 -> sha384 OID arc (…02 01 -> …02 02): the DigestInfo lies about its hash
        info = info[:14] + bytes([info[14] + 1]) + info[15:]
    elif variant == "long_form_length":
        # BER long-form lengths: same value, not DER; a loose ASN.1 parser reads it fine
        info = b"\x30\x81" + bytes([info[1] + 1]) + info[2:-1] + b"\x81" + info[-1:]
    elif variant == "digest_truncated":
        digest = digest[:-1]
    t = info + digest
    if variant == "short_padding_trailing_garbage":
        ps = b"\xff" * 8
        body = b"\x00\x01" + ps + b"\x00" + t
        return body + b"\xab" * (size - len(body))
    ps_len = size - 3 - len(t)
    if variant == "no_separator":
        return b"\x00\x01" + b"\xff" * (ps_len + 1) + t
    block_type = b"\x02" if variant == "block_type_02" else b"\x01"
    fill = b"\xfe" if variant == "padding_not_ff" else b"\xff"
    if variant not in PKCS1_VARIANTS:
        raise ValueError(f"unknown PKCS#1 variant {variant!r}")
    return b"\x00" + block_type + fill * ps_len + b"\x00" + t


def pkcs1v15_forged(token: str, key: SigningKey | Any, variant: str, alg: str = "RS256") -> str:
    """``token`` re-signed with raw RSA over a PKCS#1 v1.5 encoding bent as ``variant``."""
    n = _rsa_private_numbers(key).public_numbers.n
    size = (n.bit_length() + 7) // 8
    em = pkcs1v15_encoded(signing_input_of(token), alg, size, variant)
    return replace_signature(token, rsa_raw_sign(em, key))


#: PSS parameter tricks (Wycheproof ``SaltLenChanged``/``MgfHashChanged``); each still a
#: mathematically valid PSS signature, but not with the parameters RFC 7518 §3.5 fixes.
PSS_VARIANTS: tuple[str, ...] = ("salt_zero", "salt_max", "mgf1_sha1", "hash_sha512")


def pss_variant(token: str, key: SigningKey | Any, variant: str, alg: str = "PS256") -> str:
    """``token`` re-signed with RSASSA-PSS under parameters other than the JWS ones."""
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    private = key.private_key if isinstance(key, SigningKey) else key
    hashes_by_bits = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    chosen: hashes.HashAlgorithm = hashes_by_bits[alg[-3:]]
    mgf_hash: hashes.HashAlgorithm = chosen
    salt: Any = chosen.digest_size
    if variant == "salt_zero":
        salt = 0
    elif variant == "salt_max":
        salt = padding.PSS.MAX_LENGTH
    elif variant == "mgf1_sha1":
        mgf_hash = hashes.SHA1()  # noqa: S303 - the point is a hash JWS does not allow
    elif variant == "hash_sha512":
        chosen = mgf_hash = hashes.SHA512()
        salt = chosen.digest_size
    else:
        raise ValueError(f"unknown PSS variant {variant!r}")
    pss = padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=salt)
    return replace_signature(token, private.sign(signing_input_of(token), pss, chosen))


def e_equals_one_signature(token: str, alg: str = "RS256", *, size: int) -> str:
    """The signature a verifier with RSA public exponent 1 accepts: the encoded message itself.

    With ``e = 1``, ``s^e mod n = s``: anyone can "sign" by writing down ``EM``.
    """
    em = pkcs1v15_encoded(signing_input_of(token), alg, size)
    return replace_signature(token, em)


# --- base64url oddities ---------------------------------------------------------------

_URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _map_segment(token: str, index: int, change: Any) -> str:
    parts = _parts(token)
    parts[index] = change(parts[index])
    return _join(parts)


def pad_segment(token: str, index: int) -> str:
    """Segment ``index`` with its ``=`` padding restored (at least one ``=``)."""
    return _map_segment(token, index, lambda seg: seg + ("=" * (-len(seg) % 4) or "="))


def standard_alphabet(token: str, index: int) -> str:
    """Segment ``index`` in the standard alphabet (``-`` → ``+``, ``_`` → ``/``)."""
    return _map_segment(token, index, lambda seg: seg.replace("-", "+").replace("_", "/"))


def insert_text(token: str, index: int, text: str, *, at: int | None = None) -> str:
    """``text`` (whitespace, a newline, ``?``...) inserted into segment ``index``.

    ``at`` defaults to the middle of the segment.
    """

    def change(seg: str) -> str:
        pos = len(seg) // 2 if at is None else at
        return seg[:pos] + text + seg[pos:]

    return _map_segment(token, index, change)


def noncanonical_segment(segment: str) -> str:
    """``segment`` with the unused low bits of its last character set.

    Lenient decoders return the same bytes; a strict (canonical) decoder refuses it.
    Raises ``ValueError`` when the segment has no unused bits (length a multiple of 4).
    """
    unused = {2: 0b1111, 3: 0b11}.get(len(segment) % 4)
    if unused is None:
        raise ValueError("segment length leaves no unused bits")
    index = _URL_ALPHABET.index(segment[-1]) | unused
    return segment[:-1] + _URL_ALPHABET[index]


def noncanonical(token: str, index: int) -> str:
    """Segment ``index`` of ``token`` made non-canonical (see :func:`noncanonical_segment`)."""
    return _map_segment(token, index, noncanonical_segment)


# --- JSON and text encodings ----------------------------------------------------------


def json_with_duplicates(pairs: Any) -> bytes:
    """A JSON object written by hand from ``(name, value)`` pairs, repeated names kept."""
    members = (f"{json.dumps(name)}:{json.dumps(value)}" for name, value in pairs)
    return ("{" + ",".join(members) + "}").encode("utf-8")


def json_in(value: Any, encoding: str, *, bom: bool = False) -> bytes:
    """``value`` as compact JSON in ``encoding`` (``utf-16-le``, ``utf-32``...), optional BOM."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    prefix = "\ufeff" if bom else ""
    return (prefix + text).encode(encoding)


def overlong_utf8(char: str) -> bytes:
    """The forbidden 2-octet overlong UTF-8 form of an ASCII character (``/`` → C0 AF)."""
    code = ord(char)
    if code > 0x7F:
        raise ValueError("only ASCII characters have a 2-octet overlong form here")
    return bytes([0xC0 | (code >> 6), 0x80 | (code & 0x3F)])


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE (RFC 1951), as JWE ``zip: DEF`` would carry it."""
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


# --- shapes: segments, serialisations, nesting, size ------------------------------------


def with_segments(token: str, count: int) -> str:
    """``token`` cut or extended to ``count`` segments (extra ones repeat the signature)."""
    parts = _parts(token)
    if count <= len(parts):
        return _join(parts[:count])
    return _join(parts + [parts[-1]] * (count - len(parts)))


def trailing_empty_segment(token: str) -> str:
    """``token`` with one more, empty, segment: ``h.p.s.``."""
    return token + "."


def jwe_shaped(header: Mapping[str, Any] | None = None) -> str:
    """A 5-segment JWE compact token (random key, IV, ciphertext and tag)."""
    head = dict(header or {"alg": "RSA-OAEP", "enc": "A256GCM"})
    pieces = (os.urandom(256), os.urandom(12), os.urandom(48), os.urandom(16))
    return ".".join([b64url_encode(encode_json(head)), *(b64url_encode(p) for p in pieces)])


def jwe_to(
    plaintext: bytes, recipient: Mapping[str, Any], *, header: Mapping[str, Any] | None = None
) -> str:
    """A real compact JWE of ``plaintext`` encrypted to the public JWK ``recipient``:
    ``ECDH-ES`` (direct key agreement, RFC 7518 §4.6) for an EC key, ``RSA-OAEP-256`` for
    an RSA key, content encrypted with ``A256GCM``; ``header`` adds protected members
    (``cty``, ``kid``...). Raises ``ValueError`` for any other key type."""
    # lazy: cryptography; the catalog imports this module on every run
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    protected: dict[str, Any] = {"enc": "A256GCM", **dict(header or {})}
    kty = recipient.get("kty")
    if kty == "EC" and recipient.get("crv") in curves:
        curve = curves[str(recipient["crv"])]
        size = (curve.key_size + 7) // 8
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(str(recipient["x"])), "big"),
            int.from_bytes(b64url_decode(str(recipient["y"])), "big"),
            curve,
        ).public_key()
        ephemeral = ec.generate_private_key(curve)
        numbers = ephemeral.public_key().public_numbers()
        protected = {
            "alg": "ECDH-ES",
            **protected,
            "epk": {
                "kty": "EC",
                "crv": recipient["crv"],
                "x": b64url_encode(numbers.x.to_bytes(size, "big")),
                "y": b64url_encode(numbers.y.to_bytes(size, "big")),
            },
        }
        shared = ephemeral.exchange(ec.ECDH(), public)
        enc = b"A256GCM"
        # RFC 7518 §4.6.2: AlgorithmID (the enc, for direct agreement), empty PartyUInfo
        # and PartyVInfo, SuppPubInfo = the key length in bits
        other = len(enc).to_bytes(4, "big") + enc + bytes(8) + (256).to_bytes(4, "big")
        cek = ConcatKDFHash(hashes.SHA256(), 32, other).derive(shared)
        encrypted_key = b""
    elif kty == "RSA":
        public_rsa = rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(str(recipient["e"])), "big"),
            int.from_bytes(b64url_decode(str(recipient["n"])), "big"),
        ).public_key()
        protected = {"alg": "RSA-OAEP-256", **protected}
        cek = os.urandom(32)
        encrypted_key = public_rsa.encrypt(
            cek,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
    else:
        raise ValueError(f"cannot encrypt to a {kty!r} key (EC P-256/384/521 or RSA)")
    head = b64url_encode(encode_json(protected))
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, head.encode("ascii"))
    parts = (encrypted_key, iv, sealed[:-16], sealed[-16:])
    return ".".join([head, *(b64url_encode(p) for p in parts)])


def json_serialization(token: str, *, flattened: bool = True) -> str:
    """``token`` in the JWS JSON serialisation (RFC 7515 §7.2), flattened or general."""
    head, body, sig = _parts(token)
    if flattened:
        return json.dumps({"protected": head, "payload": body, "signature": sig})
    return json.dumps({"payload": body, "signatures": [{"protected": head, "signature": sig}]})


@dataclass(frozen=True, slots=True)
class JsonSignature:
    """One entry of a JWS JSON serialisation (RFC 7515 §7.2).

    ``protected`` (a header dict, base64url-encoded here; ``None``: no ``protected``
    member) and ``header`` (the unprotected header, as is; ``None``: no ``header`` member).
    The signature is ``signature`` when given, else made with ``key`` under ``alg`` over
    ``BASE64URL(protected) || '.' || payload`` (RFC 7515 §5.1: an absent protected header
    signs an empty first part), else empty.
    """

    protected: Mapping[str, Any] | None = None
    header: Mapping[str, Any] | None = None
    key: Any = None
    alg: str | None = None
    signature: bytes | None = None


def jws_json(payload: Any, entries: Any, *, flattened: bool = False) -> str:
    """A JWS JSON serialisation of ``payload`` (any JSON value or bytes) with the given
    :class:`JsonSignature` entries: general (a ``signatures`` array, possibly empty) or,
    with ``flattened``, the single entry's members at the top level."""
    body = b64url_encode(payload if isinstance(payload, bytes) else encode_json(payload))
    out: list[dict[str, Any]] = []
    for entry in entries:
        member: dict[str, Any] = {}
        head = "" if entry.protected is None else b64url_encode(encode_json(entry.protected))
        if entry.protected is not None:
            member["protected"] = head
        if entry.header is not None:
            member["header"] = dict(entry.header)
        if entry.signature is not None:
            raw = entry.signature
        elif entry.key is not None and entry.alg is not None:
            raw = sign(f"{head}.{body}".encode("ascii"), entry.key, entry.alg)
        else:
            raw = b""
        member["signature"] = b64url_encode(raw)
        out.append(member)
    if flattened:
        if len(out) != 1:
            raise ValueError("the flattened serialisation has exactly one signature")
        return json.dumps({"payload": body, **out[0]})
    return json.dumps({"payload": body, "signatures": out})


def nested(inner: str, header: Mapping[str, Any], key: SigningKey | Any) -> str:
    """An outer JWS whose payload is the ``inner`` token (``cty: JWT``, RFC 7519 §5.2)."""
    return compact({**header, "cty": "JWT"}, inner.encode("ascii"), key=key)


def padded_payload(payload: Mapping[str, Any], size: int, *, claim: str = "pad") -> dict[str, Any]:
    """``payload`` plus an unknown claim of ``size`` characters (oversized tokens)."""
    return {**payload, claim: "A" * size}


def unencoded_payload(header: Mapping[str, Any], payload: bytes, key: SigningKey | Any) -> str:
    """RFC 7797 ``b64: false``: the payload bytes travel (and are signed) unencoded.

    The payload must not contain ``.``; raises ``ValueError`` if it does.
    """
    if b"." in payload:
        raise ValueError("an unencoded compact payload cannot contain '.'")
    full = {**header, "b64": False, "crit": ["b64"]}
    head = b64url_encode(encode_json(full))
    alg = full.get("alg") if isinstance(full.get("alg"), str) else None
    chosen = alg or (key.alg if isinstance(key, SigningKey) else None)
    if chosen is None:
        raise ValueError("no alg")
    signature = sign(head.encode("ascii") + b"." + payload, key, chosen)
    return f"{head}.{payload.decode('utf-8')}.{b64url_encode(signature)}"


# --- header members: embedded keys, certificates, kid payloads, crit, typ -----------------


def x5c_chain(key: SigningKey, *, common_name: str = "attacker") -> list[str]:
    """An ``x5c`` value: one self-signed certificate, standard base64 DER (RFC 7515 §4.1.6)."""
    return [base64.b64encode(self_signed_certificate(key, common_name=common_name)).decode()]


def x5t_s256(certificate_der: bytes) -> str:
    """The ``x5t#S256`` thumbprint of a DER certificate."""
    return b64url_encode(hashlib.sha256(certificate_der).digest())


@dataclass(frozen=True, slots=True)
class KidInjection:
    """A hostile ``kid`` and, for the classic exploits, the HMAC secret it hopes to select.

    ``secret`` is ``None`` when the token is signed with the trusted key instead (the
    question is then only whether the server survives the value).
    """

    name: str
    kid: Any
    secret: bytes | None = None


#: kid payloads from jwt_tool's playbook, PayloadsAllTheThings and the PortSwigger lab.
KID_INJECTIONS: tuple[KidInjection, ...] = (
    KidInjection("path_traversal_dev_null", "../../../../../../dev/null", b""),
    KidInjection("dev_null", "/dev/null", b""),
    KidInjection("invalid_path", "/invalid_path", b""),
    KidInjection("proc_randomize_va_space", "/proc/sys/kernel/randomize_va_space", b"2"),
    KidInjection("sql_union", "x' UNION SELECT '1';--", b"1"),
    KidInjection("command_sleep", "|sleep 10"),
    KidInjection("ldap_filter", "*)(uid=*))(|(uid=*"),
    KidInjection("nosql_object", {"$ne": None}),
    KidInjection("nul_byte", "trusted\x00../../etc/passwd"),
    KidInjection("control_chars", "kid\r\n\t\x1b[31m"),
    KidInjection("huge_10kb", "k" * 10_240),
    KidInjection("integer", 123),
    KidInjection("null", None),
    KidInjection("boolean", True),
    KidInjection("array", ["kid"]),
)

#: ``crit`` variants (RFC 7515 §4.1.11): the header members each adds.
CRIT_VARIANTS: Mapping[str, Mapping[str, Any]] = {
    "unknown_extension": {"crit": ["exp-ext"], "exp-ext": True},
    "empty_list": {"crit": []},
    "registered_name": {"crit": ["alg"]},
    "absent_name": {"crit": ["not-in-header"]},
    "not_an_array": {"crit": "exp-ext", "exp-ext": True},
}

#: ``typ`` values a correct endpoint accepts (absent is the other accepted form).
TYP_ACCEPTED: tuple[str, ...] = ("JWT", "application/jwt", "jwt", "application/JWT")

#: ``typ`` values of other JWT kinds (RFC 8725 §3.11): never an assertion.
TYP_REJECTED: tuple[str, ...] = (
    "at+jwt",
    "dpop+jwt",
    "secevent+jwt",
    "oauth-authz-req+jwt",
    "JWS",
    "",
)
