"""The emulator's own ES256 key: it signs session tokens and elevated access tokens.

With a state directory the key is persisted there as PEM (mode 0600), created once and
atomically, so that every worker process signs and verifies with the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ._b64 import b64url_decode, b64url_encode
from .config import MEMORY

KEY_NAME = "emulator-signing-key.pem"


def _new_key() -> Any:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def load_or_create_key(state: str) -> Any:
    """The EC P-256 private key kept in ``state`` (created if absent), or a fresh one.

    Creation is race-free across processes: the PEM is written to a temporary file and
    hard-linked into place, which fails if another process linked first; the loser reads
    the winner's key. Raises ``OSError`` if the directory is not writable.
    """
    if state == MEMORY:
        return _new_key()
    directory = Path(state)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_NAME
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".key-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_pem(_new_key()))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def write_pem(key: Any, path: Path) -> None:
    """Write a private key as PEM with mode 0600 (used for the CLI's demo key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_pem(key))


def public_jwk(key: Any, *, alg: str | None = None) -> dict[str, Any]:
    """The public JWK of ``key`` with an RFC 7638 thumbprint as ``kid``."""
    jwk = _public_dict(key)
    jwk["kid"] = thumbprint(jwk)
    jwk["use"] = "sig"
    if alg is not None:
        jwk["alg"] = alg
    return jwk


def _public_dict(key: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        return dict(json.loads(RSAAlgorithm.to_jwk(key.public_key())))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return dict(json.loads(ECAlgorithm.to_jwk(key.public_key())))
    return dict(json.loads(OKPAlgorithm.to_jwk(key.public_key())))


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
    }
    members = {name: jwk[name] for name in required[str(jwk["kty"])]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


SESSION_TYP = "dyn-session+jwt"
ELEVATED_TYP = "dyn-elevated+jwt"


class TokenIssuer:
    """Signs and verifies the emulator's own ES256 tokens."""

    def __init__(self, state: str = MEMORY) -> None:
        self._key = load_or_create_key(state)
        self._public = self._key.public_key()
        self.jwk: dict[str, Any] = public_jwk(self._key, alg="ES256")
        self.kid: str = self.jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.jwk)]}

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """Sign with an explicit ``typ`` (``SESSION_TYP`` or ``ELEVATED_TYP``): a token of
        one kind is never accepted where the other is expected (8725bis §3.11, §3.12)."""
        return jwt.encode(
            dict(claims), self._key, algorithm="ES256", headers={"kid": self.kid, "typ": typ}
        )

    def decrypt(self, token: str) -> bytes:
        """The plaintext of a compact JWE encrypted to our key (``ECDH-ES`` + ``A256GCM``);
        only the ``jwe_decrypted_as_trusted`` flaw calls it. Raises ``ValueError``."""
        # lazy: only the flaw decrypts
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

        head, _, iv, body, tag = token.split(".")
        header = json.loads(b64url_decode(head))
        if header.get("alg") != "ECDH-ES" or header.get("enc") != "A256GCM":
            raise ValueError("unsupported JWE")
        epk = header["epk"]
        peer = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(epk["x"]), "big"),
            int.from_bytes(b64url_decode(epk["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        shared = self._key.exchange(ec.ECDH(), peer)
        other = (7).to_bytes(4, "big") + b"A256GCM" + bytes(8) + (256).to_bytes(4, "big")
        cek = ConcatKDFHash(hashes.SHA256(), 32, other).derive(shared)
        sealed = b64url_decode(body) + b64url_decode(tag)
        return bytes(AESGCM(cek).decrypt(b64url_decode(iv), sealed, head.encode("ascii")))

    def verify(self, token: str, *, now: float, typ: str) -> dict[str, Any] | None:
        """The claims of one of our tokens of kind ``typ`` if its signature holds and it
        is unexpired."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid or header.get("alg") != "ES256":
                return None
            if header.get("typ") != typ:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["ES256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= now:
            return None
        return claims
