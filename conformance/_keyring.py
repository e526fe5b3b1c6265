"""The keys of a run: trusted (published), rotation, attacker, weak and user-provided keys.

(Skeleton: ``SigningKey`` is the contract shared with the forge; the ``Keyring`` lands
with the keyring issue.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
