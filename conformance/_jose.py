"""The JOSE core: base64url, compact JSON, compact JWS assembly, signing, and SigningKey.

The forge (hostile tokens), the keyring (keys and JWKs) and the ``Assertion`` builder all
stand on this module, so that none of them needs another one to encode a segment. It
depends on the standard library and ``cryptography`` only, and on no other module of the
package. Nothing here validates anything: the emulator validates with PyJWT and its own
helpers, so a bug here cannot hide the same bug there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_HASHES: Mapping[str, Callable[..., Any]] = {
    "256": hashlib.sha256,
    "384": hashlib.sha384,
    "512": hashlib.sha512,
}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key and the single JWS algorithm it is used with.

    ``private_key`` is a loaded ``cryptography`` private key object (never a PEM string:
    parsing costs ~30 ms a signature), or ``bytes`` for an HMAC secret.
    ``public_jwk`` is the public JWK (``kty``, ``kid``, ``use``, ``alg`` and the key
    parameters) as published in a JWKS.
    """

    kid: str
    alg: str
    kty: str  # "RSA" | "EC" | "OKP" | "oct"
    private_key: Any = field(repr=False)
    public_jwk: Mapping[str, Any] = field(repr=False)
    role: str = "trusted"  # trusted | rotation | attacker | weak | other-env | user

    @property
    def public_key(self) -> Any:
        """The ``cryptography`` public key object (``bytes`` for an HMAC secret)."""
        if isinstance(self.private_key, bytes | bytearray):
            return bytes(self.private_key)
        return self.private_key.public_key()


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (lenient: this reads our own tokens)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_json(value: Any) -> bytes:
    """Compact JSON, UTF-8, key order kept (so forged duplicate-free objects are stable)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _segment(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return b64url_encode(bytes(value))
    return b64url_encode(encode_json(value))


def hash_for(alg: str) -> Callable[..., Any]:
    """The ``hashlib`` constructor of ``alg``'s hash (by its last three characters).
    Raises ``ValueError`` when ``alg`` names none (``EdDSA``, ``none``...)."""
    try:
        return _HASHES[alg[-3:]]
    except KeyError:
        raise ValueError(f"no hash for alg {alg!r}") from None


def sign(signing_input: bytes, key: SigningKey | Any, alg: str) -> bytes:
    """The JWS signature of ``signing_input`` with ``key`` under ``alg``.

    ``key`` is a :class:`SigningKey`, a ``cryptography`` private key or ``bytes`` (an
    HMAC secret, any length: no library would sign with a 0-byte or PEM-text secret).
    ECDSA signatures come out in the JWS raw ``r || s`` form. Raises ``TypeError`` when the
    key does not fit ``alg``'s family and ``ValueError`` for an alg it cannot sign with.
    """
    # lazy: the plugin's import chain reaches this module; cryptography loads on first use
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

    private = key.private_key if isinstance(key, SigningKey) else key
    family = alg[:2]
    if family == "HS":
        if not isinstance(private, bytes | bytearray):
            raise TypeError("HS* needs a bytes secret")
        return hmac.new(bytes(private), signing_input, hash_for(alg)).digest()
    if alg == "EdDSA" or alg == "Ed25519":
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise TypeError("EdDSA needs an Ed25519 private key")
        return private.sign(signing_input)
    by_bits = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    chosen = by_bits.get(alg[-3:])
    if chosen is None or family not in ("RS", "PS", "ES"):
        # Checked up front: "none" or "XY999" must be a ValueError, not a KeyError.
        raise ValueError(f"cannot sign with alg {alg!r}")
    if family == "RS":
        if not isinstance(private, rsa.RSAPrivateKey):
            raise TypeError("RS* needs an RSA private key")
        return private.sign(signing_input, padding.PKCS1v15(), chosen)
    if family == "PS":
        if not isinstance(private, rsa.RSAPrivateKey):
            raise TypeError("PS* needs an RSA private key")
        pss = padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
        return private.sign(signing_input, pss, chosen)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise TypeError("ES* needs an EC private key")
    der = private.sign(signing_input, ec.ECDSA(chosen))
    r, s = utils.decode_dss_signature(der)
    size = (private.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def compact(
    header: Mapping[str, Any] | bytes | Any,
    payload: Mapping[str, Any] | bytes | Any,
    *,
    key: SigningKey | Any | None = None,
    alg: str | None = None,
    signature: bytes | None = None,
) -> str:
    """``b64(header).b64(payload).b64(signature)``.

    ``header``/``payload``: a mapping or any JSON value is encoded as compact JSON;
    ``bytes`` are used verbatim (invalid UTF-8, duplicate keys, BOMs...). The signature is
    ``signature`` if given, else made with ``key`` under ``alg`` (default: the header's
    ``alg``, then the key's), else empty. Raises ``ValueError`` when a key is given but no
    alg can be found.
    """
    signing_input = f"{_segment(header)}.{_segment(payload)}".encode("ascii")
    if signature is None and key is not None:
        chosen = alg
        if chosen is None and isinstance(header, Mapping):
            chosen = header.get("alg") if isinstance(header.get("alg"), str) else None
        if chosen is None and isinstance(key, SigningKey):
            chosen = key.alg
        if chosen is None:
            raise ValueError("no alg: pass alg= or put one in the header")
        signature = sign(signing_input, key, chosen)
    return f"{signing_input.decode('ascii')}.{b64url_encode(signature or b'')}"


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Decode a well-formed compact JWS into (header, payload, signature) without checking it.

    Raises ``ValueError`` when ``token`` is not three base64url JSON segments.
    """
    head, body, sig = token.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(body)), b64url_decode(sig)


def signing_input(token: str) -> bytes:
    """``header.payload`` of a compact token, as the bytes that were signed."""
    head, body = token.split(".")[:2]
    return f"{head}.{body}".encode("ascii")
