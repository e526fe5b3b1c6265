"""The emulator's Starlette app: Dynamic's external-auth endpoints under ``/api/v0``.

Every answer is JSON; every refusal is ``{"error": "<short text>"}`` with a 4xx. Input
that nothing else classified (an unexpected exception) is a 400 from the last-resort
middleware — never a 5xx, unless the ``server_error_on_malformed`` flaw is on.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._exceptions import ConfigError
from . import shapes
from .config import EmulatorConfig
from .requestlog import LOG_ENV, RequestLog, open_log
from .service import Emulator, Reply
from .tokens import public_jwk
from .validation import Rejected

BASE_PATH = "/api/v0"
#: Environment variable naming the config file that worker processes read.
CONFIG_ENV = "CONFORMANCE_EMULATOR_CONFIG"
DEMO_JWKS_PATH = "/emulator/demo/jwks.json"

log = logging.getLogger("conformance.emulator")


class _LastResort:
    """Turn any exception that escaped the routes into a JSON 400 (500 when flawed)."""

    def __init__(self, app: ASGIApp, *, crash: bool = False) -> None:
        self.app = app
        self.crash = crash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.debug("unclassified request error: %s", type(exc).__name__)
            if started:
                return
            if self.crash:
                response = JSONResponse({"error": "Internal Server Error"}, status_code=500)
            else:
                response = JSONResponse({"error": "bad request"}, status_code=400)
            await response(scope, receive, send)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected("request body too large", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Rejected("request body too large", status=413)
    return bytes(body)


def _reply(reply: Reply) -> Response:
    status, payload = reply
    if payload is None:
        return Response(status_code=status)
    return JSONResponse(payload, status_code=status)


def create_app(
    config: EmulatorConfig,
    *,
    clock: Callable[[], float] = time.time,
    jwks_transport: Any = None,
    request_log: Callable[[str], None] | None = None,
) -> Starlette:
    """The emulator as an ASGI app. ``app.state.emulator`` is its :class:`Emulator`.

    ``clock`` (epoch seconds) is for tests; ``jwks_transport`` is an httpx transport for
    JWKS fetches (tests); ``request_log`` receives one line per request (``requestlog``).
    Raises ConfigError for a bad config, OSError for a bad state dir.
    """
    emulator = Emulator(config, clock=clock, jwks_transport=jwks_transport)
    limit = config.max_body_bytes

    def endpoint(
        handler: Callable[[Request, bytes], Reply], *, read_body: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            body = b""
            try:
                body = await _read_body(request, limit) if read_body else b""
                call = functools.partial(handler, request, body)
                return _reply(await anyio.to_thread.run_sync(call))
            except Rejected as rejected:
                page = emulator.reflecting_page(rejected, body)
                if page is not None:  # the errors_reflect_input flaw
                    return HTMLResponse(page, status_code=rejected.status)
                return JSONResponse(
                    {"error": emulator.error_text(rejected)}, status_code=rejected.status
                )

        return run

    def base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{BASE_PATH}"

    def env_id(request: Request) -> str:
        return str(request.path_params["environment_id"])

    def auth(request: Request) -> str | None:
        return request.headers.get("authorization")

    def signin(request: Request, body: bytes) -> Reply:
        return emulator.signin(env_id(request), body, base_url=base(request))

    def verify(request: Request, body: bytes) -> Reply:
        return emulator.verify(env_id(request), auth(request), body, base_url=base(request))

    def step_up(request: Request, body: bytes) -> Reply:
        return emulator.step_up_check(env_id(request), auth(request), body)

    def operation(request: Request, body: bytes) -> Reply:
        return emulator.operation(
            env_id(request),
            str(request.path_params["scope"]),
            auth(request),
            request.headers.get("x-dyn-elevated-access-token"),
        )

    def logout(request: Request, body: bytes) -> Reply:
        return emulator.logout(env_id(request), auth(request))

    def jwks(request: Request, body: bytes) -> Reply:
        emulator.environment(env_id(request))
        return 200, emulator.issuer.jwks()

    def token_exchange(request: Request, body: bytes) -> Reply:
        return shapes.token_exchange(emulator, env_id(request), body)

    def attest(request: Request, body: bytes) -> Reply:
        return shapes.stytch_attest(emulator, env_id(request), body)

    def privy(request: Request, body: bytes) -> Reply:
        return shapes.privy_authenticate(
            emulator, request.headers.get(shapes.PRIVY_APP_HEADER), body
        )

    def privy_jwks(request: Request, body: bytes) -> Reply:
        emulator.environment(str(request.path_params["app_id"]))
        return 200, emulator.issuer.jwks()

    sdk = "/sdk/{environment_id}"
    routes = [
        # the other exchange shapes (shapes.py)
        Route(f"{sdk}/oauth/token", endpoint(token_exchange), methods=["POST"]),
        Route(f"{sdk}/v1/sessions/attest", endpoint(attest), methods=["POST"]),
        Route(shapes.PRIVY_PATH, endpoint(privy), methods=["POST"]),
        # where those vendors publish the keys of the sessions they issue
        Route(
            f"{sdk}/v1/sessions/jwks/{{project_id}}",
            endpoint(jwks, read_body=False),
            methods=["GET"],
        ),
        Route(shapes.PRIVY_JWKS_PATH, endpoint(privy_jwks, read_body=False), methods=["GET"]),
        Route(f"{sdk}/externalAuth/signin", endpoint(signin), methods=["POST"]),
        Route(f"{sdk}/externalAuth/verify", endpoint(verify), methods=["POST"]),
        Route(f"{sdk}/stepUp/check", endpoint(step_up), methods=["POST"]),
        Route(f"{sdk}/emulator/operations/{{scope:path}}", endpoint(operation), methods=["POST"]),
        Route(f"{sdk}/logout", endpoint(logout), methods=["POST"]),
        Route(f"{sdk}/.well-known/jwks", endpoint(jwks, read_body=False), methods=["GET"]),
    ]
    if config.demo_key:
        demo = _demo_jwks(config.demo_key)

        async def demo_jwks(request: Request) -> Response:
            return JSONResponse(demo)

        routes.append(Route(DEMO_JWKS_PATH, demo_jwks, methods=["GET"]))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        text = (
            "not found"
            if status == 404
            else "method not allowed"
            if status == 405
            else "bad request"
        )
        return JSONResponse({"error": text}, status_code=status)

    app = Starlette(
        routes=[Mount(BASE_PATH, routes=routes)],
        middleware=[
            *([Middleware(RequestLog, write=request_log)] if request_log else []),
            Middleware(_LastResort, crash=config.has("server_error_on_malformed")),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.emulator = emulator
    return app


def _demo_jwks(path: str) -> dict[str, Any]:
    with open(path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    return {"keys": [public_jwk(key, alg="ES256")]}


def app_from_env() -> Starlette:
    """App factory for ``uvicorn --factory`` workers: reads the file named by ``CONFIG_ENV``."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"set {CONFIG_ENV} to the emulator's config file")
    log = os.environ.get(LOG_ENV)
    return create_app(EmulatorConfig.from_toml(path), request_log=open_log(log) if log else None)
