"""Small helpers for the emulator's own tests and the CLI's quick start.

A static JWKS server (:func:`jwks_app`) whose documents can be changed while it runs,
and :func:`sign` for valid tokens made with PyJWT.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _http
from .._serving import serve_app
from . import run_emulator
from .config import EmulatorConfig, Environment
from .tokens import public_jwk


def jwks_app(
    documents: MutableMapping[str, Any], *, hits: dict[str, int] | None = None
) -> Starlette:
    """Serve ``documents[path]`` as JSON at ``GET /{path}`` (bytes are sent verbatim).

    A value of ``("status", N)`` answers status N; a missing path answers 404. ``hits``
    counts requests per path.
    """

    async def serve(request: Request) -> Response:
        path = str(request.path_params["path"])
        if hits is not None:
            hits[path] = hits.get(path, 0) + 1
        doc = documents.get(path)
        if doc is None:
            return Response(status_code=404)
        if isinstance(doc, tuple) and doc[:1] == ("status",):
            return Response(status_code=int(doc[1]))
        if isinstance(doc, bytes):
            return Response(doc, media_type="application/json")
        return JSONResponse(doc)

    return Starlette(routes=[Route("/{path:path}", serve, methods=["GET"])])


def sign(
    key: Any,
    alg: str,
    claims: Mapping[str, Any],
    *,
    kid: str | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """A JWT signed with PyJWT (a loaded key object, never a PEM string: it is slow)."""
    extra: dict[str, Any] = dict(headers or {})
    if kid is not None:
        extra["kid"] = kid
    return jwt.encode(dict(claims), key, algorithm=alg, headers=extra or None)


def assertion_claims(
    *,
    subject: str,
    issuer: str,
    scope: str = "wallet:export",
    now: float | None = None,
    lifetime_s: int = 120,
    **extra: Any,
) -> dict[str, Any]:
    """A valid claim set for a verify-call assertion (fresh jti)."""
    now = time.time() if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "scope": scope,
        "jti": str(uuid.uuid4()),
        "iat": int(now),
        "exp": int(now) + lifetime_s,
    }
    claims.update(extra)
    return claims


ENV_A = "3b1f6a2e-7c4d-4e8f-9a0b-1c2d3e4f5a6b"
ENV_B = "8d9e0f1a-2b3c-4d5e-8f70-8192a3b4c5d6"
ISSUER_A = "https://issuer-a.example"
ISSUER_B = "https://issuer-b.example"


class Keys:
    """The keys of a test module: made once (RSA generation is slow).

    ``trusted`` holds ``name -> (private key, alg, kid)``; environment A publishes
    ``a-rsa`` (RS256), ``a-ec`` (ES256), ``a-ed`` (EdDSA, JWK without alg) and ``a-p384``
    (ES384); environment B publishes ``b-ec``. ``attacker`` is an unpublished P-256 key.
    """

    def __init__(self) -> None:
        self.trusted: dict[str, tuple[Any, str, str]] = {
            "a-rsa": (
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                "RS256",
                "a-rsa",
            ),
            "a-ec": (ec.generate_private_key(ec.SECP256R1()), "ES256", "a-ec"),
            "a-ed": (ed25519.Ed25519PrivateKey.generate(), "EdDSA", "a-ed"),
            "a-p384": (ec.generate_private_key(ec.SECP384R1()), "ES384", "a-p384"),
            "b-ec": (ec.generate_private_key(ec.SECP256R1()), "ES256", "b-ec"),
        }
        self.attacker = ec.generate_private_key(ec.SECP256R1())

        def jwk(name: str) -> dict[str, Any]:
            key, alg, kid = self.trusted[name]
            doc = public_jwk(key, alg=None if alg == "EdDSA" else alg)
            doc["kid"] = kid
            return doc

        self.jwks_a: dict[str, Any] = {
            "keys": [jwk(n) for n in ("a-rsa", "a-ec", "a-ed", "a-p384")]
        }
        self.jwks_b: dict[str, Any] = {"keys": [jwk("b-ec")]}
        evil = public_jwk(self.attacker, alg="ES256")
        evil["kid"] = "evil"
        #: the attacker's JWKS, served at ``{jwks_base}/evil.json`` for jku cases
        self.jwks_evil: dict[str, Any] = {"keys": [evil]}


_DELETE = object()


class Harness:
    """Drives a running emulator for tests: sign in, forge assertions, verify."""

    def __init__(
        self, base_url: str, client: Any, keys: Keys, jwks_base: str, emulator: Any = None
    ) -> None:
        self.emulator = emulator  # the in-process Emulator, for state inspection
        self.base_url = base_url
        self.client = client
        self.keys = keys
        self.jwks_base = jwks_base

    def url(self, path: str, *, env: str = ENV_A) -> str:
        return f"{self.base_url}/sdk/{env}/{path}"

    def signin(self, subject: str = "alice", *, env: str = ENV_A, **claims: Any) -> str:
        """A session token for ``subject`` (asserts the sign-in succeeded); ``claims`` add."""
        name, issuer = ("a-ec", ISSUER_A) if env == ENV_A else ("b-ec", ISSUER_B)
        key, alg, kid = self.keys.trusted[name]
        now = int(time.time())
        body = {"iss": issuer, "sub": subject, "exp": now + 300, **claims}
        token = sign(key, alg, body, kid=kid)
        reply = self.client.post(self.url("externalAuth/signin", env=env), json={"jwt": token})
        if reply.status_code != 200:
            raise AssertionError(f"sign-in failed: {reply.status_code} {reply.text[:200]}")
        return str(reply.json()["jwt"])

    def assertion(
        self,
        *,
        key: str = "a-ec",
        headers: Mapping[str, Any] | None = None,
        subject: str = "alice",
        issuer: str = ISSUER_A,
        **claims: Any,
    ) -> str:
        """A valid assertion signed by trusted key ``key``; ``claims`` override (``DELETE``)."""
        private, alg, kid = self.keys.trusted[key]
        body = assertion_claims(subject=subject, issuer=issuer)
        for name, value in claims.items():
            if value is _DELETE:
                body.pop(name, None)
            else:
                body[name] = value
        return sign(private, alg, body, kid=kid, headers=headers)

    def verify(self, session: str, token: Any, *, env: str = ENV_A) -> Any:
        """POST the verify call with ``{"jwt": token}`` and return the httpx response."""
        return self.client.post(
            self.url("externalAuth/verify", env=env),
            json={"jwt": token},
            headers={"authorization": f"Bearer {session}"},
        )


#: Pass as a claim override to :meth:`Harness.assertion` to drop that claim.
DELETE: Any = _DELETE


def world(
    keys: Keys,
    *,
    flaws: Iterable[str] = (),
    audience: str | None = None,
    clock: Callable[[], float] | None = None,
    **overrides: Any,
) -> contextlib.AbstractContextManager[Harness]:
    """Start a JWKS host and an emulator (environments A and B) and yield a Harness."""

    @contextlib.contextmanager
    def run() -> Iterator[Harness]:
        docs: dict[str, Any] = {
            "a.json": keys.jwks_a,
            "b.json": keys.jwks_b,
            "evil.json": keys.jwks_evil,
        }
        with serve_app(jwks_app(docs)) as jwks_host:
            config = EmulatorConfig(
                environments=(
                    Environment(ENV_A, ISSUER_A, f"{jwks_host.base_url}/a.json", audience),
                    Environment(ENV_B, ISSUER_B, f"{jwks_host.base_url}/b.json"),
                ),
                flaws=frozenset(flaws),
                **overrides,
            )
            with run_emulator(config, clock=clock) as emu, _http.client() as client:
                yield Harness(emu.base_url, client, keys, jwks_host.base_url, emu.emulator)

    return run()
