"""Fetch and cache an environment's JWKS, failing closed.

Keys are cached for ``ttl_s``. A ``kid`` that the cache does not know causes one refetch,
and never more than one per ``min_refetch_s`` per URL, so a flood of random ``kid``s
causes no amplification. A fetch that fails (timeout, non-200, not JSON, ``keys`` not an
array, larger than ``max_bytes``) raises :class:`JwksUnavailable`: the caller refuses the
assertion. Keys that cannot be used are skipped: unknown ``kty`` or curve, private
members, ``use`` other than ``sig``, ``key_ops`` without ``verify``, RSA under 2048 bits.

Outage tolerance: when the refetch of a copy past its ``ttl_s`` fails, the keys of that
last good copy keep verifying for up to ``stale_s`` more (a refetch is tried again every
``min_refetch_s``); a ``kid`` the copy does not hold is still refused. A failed fetch
never drops keys the JWKS published, so a slow answer (a loaded machine: the embedded
emulator fetches from a JWKS host in its own process) refuses no valid assertion; a key
removed from the JWKS goes at the first good fetch, as before.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .. import _http

_CURVES = {"EC": ("P-256", "P-384", "P-521"), "OKP": ("Ed25519",)}
_PRIVATE_MEMBERS = ("d", "k", "p", "q", "dp", "dq", "qi", "oth")


class JwksUnavailable(Exception):
    """The JWKS could not be fetched or parsed (the message is for logs, not clients)."""


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """One usable verification key of a JWKS."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    key: Any = field(repr=False)  # a cryptography public key object
    jwk: Mapping[str, Any] = field(repr=False)


@dataclass(slots=True)
class _Entry:
    keys: tuple[PublishedKey, ...] | None
    fetched_at: float
    attempted_at: float


def parse_jwk(jwk: Any, *, check_use: bool = True) -> PublishedKey | None:
    """A usable public key from one JWK, or ``None`` when it must not be used.
    ``check_use=False`` is the ``key_use_ignored`` flaw."""
    if not isinstance(jwk, dict):
        return None
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        return None
    if any(name in jwk for name in _PRIVATE_MEMBERS):
        return None
    if check_use and "use" in jwk and jwk["use"] != "sig":
        return None
    if (
        check_use
        and "key_ops" in jwk
        and (not isinstance(jwk["key_ops"], list) or "verify" not in jwk["key_ops"])
    ):
        return None
    kid, alg, crv = jwk.get("kid"), jwk.get("alg"), jwk.get("crv")
    if (kid is not None and not isinstance(kid, str)) or (
        alg is not None and not isinstance(alg, str)
    ):
        return None
    if kty != "RSA" and crv not in _CURVES[kty]:
        return None
    loader: Any = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}[kty]
    try:
        key = loader.from_jwk(jwk)
    except Exception:
        # from_jwk raises several types on hostile members (InvalidKeyError, ValueError,
        # KeyError, TypeError, OverflowError): any of them means "not usable".
        return None
    if hasattr(key, "private_bytes"):
        return None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        return None
    return PublishedKey(kid=kid, kty=kty, crv=crv, alg=alg, key=key, jwk=dict(jwk))


def parse_jwks(body: bytes, *, check_use: bool = True) -> tuple[PublishedKey, ...]:
    """The usable keys of a JWKS document; raises JwksUnavailable if it is not one."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise JwksUnavailable(f"JWKS is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise JwksUnavailable("JWKS has no 'keys' array")
    parsed = (parse_jwk(jwk, check_use=check_use) for jwk in doc["keys"])
    return tuple(key for key in parsed if key is not None)


def named_kids(body: bytes) -> frozenset[str]:
    """Every kid a JWKS document names, usable key or not (empty when it is not one)."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return frozenset()
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return frozenset()
    return frozenset(
        e["kid"] for e in entries if isinstance(e, dict) and isinstance(e.get("kid"), str)
    )


def _holds(keys: tuple[PublishedKey, ...], kid: str | None) -> bool:
    """Whether ``keys`` can answer for ``kid`` (no kid: the caller chooses by alg)."""
    return kid is None or any(key.kid == kid for key in keys)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class JwksCache:
    """Thread-safe JWKS cache keyed by URL. ``fetches`` counts HTTP fetches per URL.

    ``flaws`` (names from ``flaws.py``) break it on purpose: ``jwks_fetch_per_kid`` (no
    refetch interval), ``revoked_key_kept`` (keys are never forgotten),
    ``jwks_redirect_followed`` (redirects are followed anywhere), ``key_use_ignored``.
    """

    def __init__(
        self,
        *,
        ttl_s: float = 300,
        min_refetch_s: float = 1.0,
        timeout_s: float = 2.0,
        max_bytes: int = 65536,
        stale_s: float = 3600,
        clock: Callable[[], float] = time.monotonic,
        transport: Any = None,
        flaws: frozenset[str] = frozenset(),
    ) -> None:
        self._ttl = ttl_s
        self._min_refetch = min_refetch_s
        self._timeout = timeout_s
        self._max_bytes = max_bytes
        self._stale = stale_s
        self._clock = clock
        self._transport = transport
        self._flaws = flaws
        if "jwks_fetch_per_kid" in flaws:
            self._min_refetch = 0.0
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._client: Any = None
        self.fetches: dict[str, int] = {}
        self._named: dict[str, frozenset[str]] = {}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def keys(self, url: str, *, kid: str | None = None) -> tuple[PublishedKey, ...]:
        """The usable keys at ``url``; refetched at most once per interval for a new kid.

        Raises :class:`JwksUnavailable` when no good copy can be had (fail closed): a
        copy past its cache time serves the kids it holds while refetching fails, for
        ``stale_s`` (see the module doc).
        """
        with self._guard:
            lock = self._locks.setdefault(url, threading.Lock())
        # One fetch per URL at a time: concurrent requests wait for it and share it.
        with lock:
            now = self._clock()
            entry = self._entries.get(url)
            if entry is not None and entry.keys is not None and now - entry.fetched_at < self._ttl:
                if _holds(entry.keys, kid):
                    return entry.keys
                if now - entry.attempted_at < self._min_refetch:
                    return entry.keys  # unknown kid, but too soon to ask again
            elif entry is not None and now - entry.attempted_at < self._min_refetch:
                return self._outage_copy(entry, kid, now, "JWKS fetch failed recently")
            try:
                body = self._fetch(url)
                keys = parse_jwks(body, check_use="key_use_ignored" not in self._flaws)
            except JwksUnavailable as exc:
                if entry is None:
                    self._entries[url] = _Entry(keys=None, fetched_at=0.0, attempted_at=now)
                    raise
                entry.attempted_at = now  # keep the good copy; ask again after the interval
                if now - entry.fetched_at < self._ttl:
                    raise  # a kid the fresh copy does not hold: refused
                return self._outage_copy(entry, kid, now, str(exc))
            if "revoked_key_kept" in self._flaws and entry is not None and entry.keys:
                fresh = {key.kid for key in keys}
                keys = keys + tuple(key for key in entry.keys if key.kid not in fresh)
            self._entries[url] = _Entry(keys=keys, fetched_at=now, attempted_at=now)
            self._named[url] = named_kids(body)
            return keys

    def load(self, url: str, *, within_s: float) -> bool:
        """Fetch ``url`` now, again after each failure (every ``min_refetch_s``) until a
        good copy is held or ``within_s`` has passed; whether one is held. For a service
        that starts beside its JWKS host (the embedded emulator): no request then meets
        a cache that never held a good copy, where a slow fetch refuses every kid."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                self.keys(url)
                return True
            except JwksUnavailable:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(max(self._min_refetch, 0.05))

    def _outage_copy(
        self, entry: _Entry, kid: str | None, now: float, why: str
    ) -> tuple[PublishedKey, ...]:
        """The keys of ``entry``, past its cache time, while refetching it fails: only
        for a kid it holds and within ``stale_s`` of its end; else :class:`JwksUnavailable`."""
        keys = entry.keys
        if keys is None or now - entry.fetched_at >= self._ttl + self._stale:
            raise JwksUnavailable(why)  # none, or too old to vouch for anything
        if not _holds(keys, kid):
            raise JwksUnavailable(why)
        return keys

    def touch(self, url: str) -> None:
        """GET ``url`` and discard the answer, whatever it is (the ``token_urls_fetched``
        flaw: a service that dereferences URLs it finds in a token)."""
        with contextlib.suppress(JwksUnavailable):
            self._fetch(url, count=False)

    def named(self, url: str) -> frozenset[str]:
        """Every kid the last good copy of ``url`` named, usable key or not."""
        return self._named.get(url, frozenset())

    def _fetch(self, url: str, *, count: bool = True) -> bytes:
        if count:
            self.fetches[url] = self.fetches.get(url, 0) + 1
        if self._client is None:
            self._client = _http.client(
                timeout_s=self._timeout,
                max_connections=4,
                transport=self._transport,
                follow_redirects="jwks_redirect_followed" in self._flaws,
            )
        deadline = time.monotonic() + self._timeout
        body = bytearray()
        try:
            with self._client.stream("GET", url, headers={"accept": "application/json"}) as resp:
                if resp.status_code != 200:
                    raise JwksUnavailable(f"JWKS fetch answered {resp.status_code}")
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self._max_bytes:
                    raise JwksUnavailable("JWKS larger than the limit")
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise JwksUnavailable("JWKS larger than the limit")
                    # httpx times each read, not the whole body: a slow drip must not
                    # hold a request forever.
                    if time.monotonic() > deadline:
                        raise JwksUnavailable("JWKS fetch too slow")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise JwksUnavailable(f"JWKS fetch failed: {type(exc).__name__}") from None
        return bytes(body)
