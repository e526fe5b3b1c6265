"""Small helpers for the emulator's own tests and the CLI's quick start.

A static JWKS server (:func:`jwks_app`) whose documents can be changed while it runs,
and :func:`sign` for valid tokens made with PyJWT.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


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
    import jwt

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
