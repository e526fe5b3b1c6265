"""Acme: an exchange endpoint of a shape the suite has never seen (docs/profiles.md).

Its "documentation": POST ``{"token": <jwt>}`` to ``/exchange``; the JWT is signed with
a key of the customer's JWKS, carries ``iss``, ``sub``, ``aud`` (the exchange URL),
``exp`` (at most 10 minutes ahead) and a unique ``jti``; the answer is
```{"data": {"jwt": <session token>}}``; a ``jti`` is accepted once; ``sub`` names one
of the customer's users (``users``). Refusals are 400
(malformed) or 401 with ``{"error": ...}``.

The checks are the emulator's validation code (``conformance.emulator.validation``):
header, key and signature rules, times, issuer and audience, jti. The flaw
``acme_replay`` forgets the ``jti`` values it has seen (a token is reusable).

``strict_claims`` is a legitimate policy, not a flaw: a claim outside the documented
ones (:data:`DOCUMENTED_CLAIMS`) is refused (400), and its name is remembered in
``Acme.refused_claims``, so that a test can see which undocumented claims were sent.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance._serving import serve_app
from conformance.emulator import EmulatorConfig, Environment
from conformance.emulator.jwks_cache import JwksCache
from conformance.emulator.validation import Rejected, Validator, decode_compact

EXCHANGE_PATH = "/exchange"
FLAWS = ("acme_replay",)
#: The claims Acme's documentation names (``strict_claims`` refuses any other).
DOCUMENTED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})


@dataclass
class Acme:
    """What the server knows: its validator, the jti values seen, its flaws."""

    issuer: str
    jwks_url: str
    users: frozenset[str] = frozenset()
    flaws: frozenset[str] = frozenset()
    strict_claims: bool = False
    refused_claims: set[str] = field(default_factory=set)
    url: str = ""
    validator: Validator | None = None
    env: Environment | None = None
    seen: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, base_url: str) -> None:
        self.url = base_url + EXCHANGE_PATH
        self.env = Environment(
            id="acme", issuer=self.issuer, jwks_url=self.jwks_url, audience=self.url
        )
        config = EmulatorConfig(environments=(self.env,), max_assertion_lifetime_s=600)
        jwks = JwksCache(ttl_s=2.0, min_refetch_s=0.25, timeout_s=1.0, max_bytes=65536)
        self.validator = Validator(config, jwks)

    def exchange(self, body: bytes) -> tuple[int, dict[str, Any]]:
        assert self.validator is not None and self.env is not None
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return 400, {"error": "body must be JSON"}
        token = parsed.get("token") if isinstance(parsed, dict) else None
        if not isinstance(token, str) or not token:
            return 400, {"error": "token must be a non-empty string"}
        now = time.time()
        try:
            decoded = decode_compact(token, max_bytes=16384)
            self.validator.check_signature(decoded, self.env)
            claims = decoded.claims
            unknown = sorted(set(claims) - DOCUMENTED_CLAIMS) if self.strict_claims else []
            if unknown:
                with self.lock:
                    self.refused_claims.update(unknown)
                raise Rejected(f"unknown claim {unknown[0]}", status=400)
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub.strip():
                raise Rejected("sub is required", status=400)
            if sub not in self.users:
                raise Rejected("unknown user")
            jti = self.validator.jti_of(claims)
            exp = self.validator._times(claims, now=now, lifetime=True)
            self.validator._issuer_and_audience(claims, self.env)
        except Rejected as exc:
            return exc.status, {"error": exc.message}
        if "acme_replay" not in self.flaws and jti is not None:
            with self.lock:
                if jti in self.seen:
                    return 401, {"error": "token already used"}
                self.seen[jti] = exp or now + 700
        return 200, {"data": {"jwt": "acme_" + secrets.token_urlsafe(24)}}


def build_app(acme: Acme) -> Starlette:
    async def exchange(request: Request) -> Response:
        status, payload = acme.exchange(await request.body())
        return JSONResponse(payload, status_code=status)

    return Starlette(routes=[Route(EXCHANGE_PATH, exchange, methods=["POST"])])


@contextlib.contextmanager
def running(
    issuer: str,
    jwks_url: str,
    *,
    users: tuple[str, ...] = ("alice", "bob"),
    flaws: tuple[str, ...] = (),
    strict_claims: bool = False,
) -> Iterator[Acme]:
    """Serve Acme on a loopback port, trusting the JWKS at ``jwks_url``, for ``users``
    (``strict_claims``: refusing undocumented claims)."""
    unknown = set(flaws) - set(FLAWS)
    if unknown:
        raise ValueError(f"unknown Acme flaws {sorted(unknown)}")
    acme = Acme(
        issuer=issuer,
        jwks_url=jwks_url,
        users=frozenset(users),
        flaws=frozenset(flaws),
        strict_claims=strict_claims,
    )
    with serve_app(build_app(acme)) as handle:
        acme.start(handle.base_url)
        try:
            yield acme
        finally:  # its JWKS client's connection, else a later test collects the socket
            if acme.validator is not None:
                acme.validator.jwks.close()
