"""The public Assertion API: an immutable builder of assertion JWTs.

For people (a security reviewer in a notebook) and for cases::

    a = Assertion(sub="user-123", scope="wallet:export", iss="https://issuer")
    token = a.fresh_jti().issued_now().expires_in(60).signed_with(key)
    a.without("jti").with_header(typ="at+jwt").signed_with(key)

Every method returns a new :class:`Assertion`; nothing is validated (an invalid assertion
is the point of most cases). Signing goes through the JOSE core (``_jose``), so any header
can be signed.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from ._jose import SigningKey, compact, split


class _Omit:
    """The type of :data:`OMIT`."""

    _instance: _Omit | None = None

    def __new__(cls) -> _Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"

    def __reduce__(self) -> str:
        return "OMIT"


#: A header value that removes the member, including the defaults ``alg``, ``kid``, ``typ``.
OMIT: Final = _Omit()


def _canonical(value: Mapping[str, Any]) -> str:
    # Type-aware identity: 1, 1.0 and true are different claims although Python calls
    # them equal, and a bool-typed ``exp`` is exactly what some cases send.
    return json.dumps(
        dict(value), sort_keys=True, separators=(",", ":"), default=repr, ensure_ascii=False
    )


class Assertion:
    """An immutable set of claims plus explicit header members.

    ``Assertion(mapping, **claims)`` takes claims as a mapping (for names that are not
    identifiers) and/or keywords. Equality and hash are by value (JSON types count:
    ``exp=1`` differs from ``exp=True``). Assigning an attribute raises ``AttributeError``.
    """

    __slots__ = ("_claims", "_header")

    _claims: dict[str, Any]
    _header: dict[str, Any]

    def __init__(self, claims: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        merged = dict(copy.deepcopy(dict(claims or {})))
        merged.update(copy.deepcopy(more))
        object.__setattr__(self, "_claims", merged)
        object.__setattr__(self, "_header", {})

    @classmethod
    def from_parts(
        cls, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None
    ) -> Assertion:
        """An assertion with these claims and explicit header members."""
        return cls(claims)._replace(header=dict(header or {}))

    @classmethod
    def from_token(cls, token: str) -> Assertion:
        """The claims and header of a compact JWS (unchecked; the signature is dropped).
        Raises ``ValueError`` when ``token`` is not three base64url JSON segments."""
        header, claims, _ = split(token)
        return cls.from_parts(claims, header)

    def _replace(
        self, *, claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None
    ) -> Assertion:
        new = Assertion.__new__(Assertion)
        object.__setattr__(new, "_claims", self._claims if claims is None else claims)
        object.__setattr__(new, "_header", self._header if header is None else header)
        return new

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Assertion is immutable: use with_claims/with_header/without")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Assertion is immutable")

    # --- reading ----------------------------------------------------------------------

    @property
    def claims(self) -> Mapping[str, Any]:
        """A read-only copy of the claims."""
        return MappingProxyType(copy.deepcopy(self._claims))

    @property
    def header(self) -> Mapping[str, Any]:
        """A read-only copy of the explicit header members (defaults are added at signing;
        :data:`OMIT` marks a removed member)."""
        return MappingProxyType(copy.deepcopy(self._header))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Assertion):
            return NotImplemented
        return (_canonical(self._claims), _canonical(self._header)) == (
            _canonical(other._claims),
            _canonical(other._header),
        )

    def __hash__(self) -> int:
        return hash((_canonical(self._claims), _canonical(self._header)))

    def __repr__(self) -> str:
        return f"Assertion(claims={self._claims!r}, header={self._header!r})"

    # --- building ---------------------------------------------------------------------

    def with_claims(self, claims: Mapping[str, Any] | None = None, /, **more: Any) -> Assertion:
        """Set (add or replace) claims; a replaced claim keeps its position."""
        merged = dict(self._claims)
        merged.update(copy.deepcopy(dict(claims or {})))
        merged.update(copy.deepcopy(more))
        return self._replace(claims=merged)

    def without(self, *names: str) -> Assertion:
        """Drop claims (an absent name is ignored)."""
        return self._replace(claims={k: v for k, v in self._claims.items() if k not in names})

    def with_header(self, header: Mapping[str, Any] | None = None, /, **more: Any) -> Assertion:
        """Set header members; they win over the signing defaults. :data:`OMIT` removes one."""
        merged = dict(self._header)
        merged.update(copy.deepcopy(dict(header or {})))
        merged.update(copy.deepcopy(more))
        return self._replace(header=merged)

    def without_header(self, *names: str) -> Assertion:
        """Remove header members, defaults included (same as setting them to :data:`OMIT`)."""
        return self.with_header(dict.fromkeys(names, OMIT))

    def fresh_jti(self) -> Assertion:
        """Set ``jti`` to a random 128-bit url-safe value."""
        return self.with_claims(jti=secrets.token_urlsafe(16))

    def issued_now(self, *, now: int | None = None) -> Assertion:
        """Set ``iat`` to ``now`` (default: this machine's clock, whole seconds)."""
        return self.with_claims(iat=int(time.time()) if now is None else now)

    def expires_in(self, seconds: float, *, now: int | None = None) -> Assertion:
        """Set ``exp`` to ``now + seconds`` (``now`` defaults to this machine's clock)."""
        base = int(time.time()) if now is None else now
        return self.with_claims(exp=base + seconds)

    # --- signing ----------------------------------------------------------------------

    def header_for(self, key: SigningKey, alg: str | None = None) -> dict[str, Any]:
        """The header :meth:`signed_with` would use: ``alg`` (``alg`` or the key's),
        ``kid`` (the key's), ``typ: "JWT"``, then the explicit members, minus :data:`OMIT`."""
        header: dict[str, Any] = {"alg": alg or key.alg, "kid": key.kid, "typ": "JWT"}
        header.update(self._header)
        return {k: v for k, v in header.items() if v is not OMIT}

    def signed_with(self, key: SigningKey, alg: str | None = None) -> str:
        """The compact JWS of these claims signed with ``key`` under ``alg`` (default the
        key's alg), whatever the header's ``alg`` says. Raises ``TypeError`` when ``key``
        cannot sign under that alg (an EC key for RS256, say)."""
        if not isinstance(key, SigningKey):
            raise TypeError(f"signed_with needs a SigningKey, not {type(key).__name__}")
        return compact(self.header_for(key, alg), self._claims, key=key, alg=alg or key.alg)
