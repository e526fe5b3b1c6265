"""The JWKS host: serves the keyring's JWKS over real HTTP on loopback, logs every request,
and breaks on demand (for the JWKS-failure cases).

Paths::

    /jwks.json            the trusted JWKS, live: publish/revoke/rotate take effect at once
    /other/jwks.json      the second environment's JWKS
    /attacker/jwks.json   the attacker's JWKS (for jku cases: a correct target never fetches it)
    /attacker/cert.pem    a self-signed certificate of the attacker key (for x5u cases)
    /attacker/<id>/jwks.json, /attacker/<id>/cert.pem
                          the same, under a path unique to one case (:meth:`JwksHost.unique_path`)

Any path can be made to fail (:meth:`JwksHost.fail`), to serve a fixed body
(:meth:`JwksHost.override`, for JWKS-content cases such as duplicate kids) or to
redirect (:meth:`JwksHost.redirect`).

The same server is the *listener* of a run: every URL the suite plants in a token points
at a unique path on it, and a case passes only if nothing fetched that path. With a
``public_url`` (a tunnel, a host name the target resolves) the URLs it hands out use that
base instead of the bound address. The request log keeps no credential: authorization
and cookie headers are redacted, and header values and query strings are scrubbed
(``_redact``) before they are stored.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from ._jose import SigningKey
from ._keyring import Keyring
from ._redact import header_credentials, one_line, redact_headers, redact_values, scrub
from ._serving import serve_app

if TYPE_CHECKING:
    from starlette.requests import Request

JWKS_PATH = "/jwks.json"
OTHER_JWKS_PATH = "/other/jwks.json"
ATTACKER_JWKS_PATH = "/attacker/jwks.json"
ATTACKER_CERT_PATH = "/attacker/cert.pem"

#: The failure modes :meth:`JwksHost.fail` accepts.
FAILURE_MODES: tuple[str, ...] = (
    "500",
    "slow",
    "oversized",
    "invalid_json",
    "html",
    "keys_not_array",
    "empty",
    "timeout",
)
#: How long a "timeout" response hangs at most (it ends at once when the path is restored).
TIMEOUT_HANG_S = 120.0
OVERSIZED_BYTES = 2 * 1024 * 1024
#: Requests the log keeps (whoever reaches the host can send any number); past it, the
#: host answers on but records nothing, and "nothing fetched" is no longer known.
LOG_MAX = 20_000
#: Headers kept per logged request.
HEADERS_KEPT = 32


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the host received."""

    method: str
    path: str
    query: str
    time: float  # Unix seconds when it arrived
    headers: tuple[tuple[str, str], ...]  # redacted: no bearer, cookie or key material
    client: str = ""  # the peer address, as the server saw it

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k == wanted), None)

    def describe(self) -> str:
        """One line of evidence: method, path, query, peer and user agent (redacted)."""
        query = f"?{self.query}" if self.query else ""
        agent = self.header("user-agent") or "no user-agent"
        peer = f" from {self.client}" if self.client else ""
        stamp = time.strftime("%H:%M:%S", time.gmtime(self.time))
        return one_line(
            scrub(f"{self.method} {self.path}{query}{peer} at {stamp} UTC ({agent})", limit=400)
        )


@dataclass(frozen=True, slots=True)
class _Override:
    body: bytes
    content_type: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()


class JwksHost:
    """Serve ``keyring``'s JWKS on ``host`` (loopback by default) while running.

    Use as a context manager, or :meth:`start`/:meth:`stop`. The URL properties raise
    ``RuntimeError`` while the host is not running; :meth:`fail` raises ``ValueError``
    for an unknown mode or a path not starting with ``/``.
    """

    def __init__(
        self,
        keyring: Keyring | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_s: float = 5.0,
        cache_max_age_s: int = 300,
        public_url: str | None = None,
        option: str = "--host/--port",
    ) -> None:
        """``option``: what the user changes when ``host:port`` cannot be bound (a
        command-line option, or a configuration key such as ``jwks_host.bind``)."""
        self._option = option
        self.keyring = keyring if keyring is not None else Keyring()
        self.public_url = public_url.rstrip("/") if public_url else None
        self.slow_s = slow_s
        self.cache_max_age_s = cache_max_age_s
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._dropped = 0  # requests not recorded: the log was full
        self._modes: dict[str, str] = {}
        self._overrides: dict[str, _Override] = {}
        self._stack: contextlib.ExitStack | None = None
        self._exit: Callable[[], None] = lambda: None
        self._base_url: str | None = None
        # Set on stop so that "slow" responses end promptly instead of holding shutdown.
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        return f"JwksHost(base_url={self._base_url!r}, public_url={self.public_url!r})"

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> JwksHost:
        """Start serving (idempotent). Raises ``ConfigError`` if the port is unavailable."""
        if self._stack is not None:
            return self
        self._stopping.clear()
        stack = contextlib.ExitStack()
        handle = stack.enter_context(
            serve_app(self._app(), host=self._host, port=self._port, option=self._option)
        )
        self._stack, self._base_url, self._exit = stack, handle.base_url, handle.exit
        return self

    def stop_soon(self) -> None:
        """Tell the server to stop, without waiting for it (:meth:`stop` still must be
        called: it waits); hosts told first stop together."""
        self._stopping.set()
        self._exit()

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        stack, self._stack = self._stack, None
        self._base_url = None
        if stack is not None:
            self._stopping.set()
            stack.close()

    def __enter__(self) -> JwksHost:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- URLs -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The base of every URL the host hands out: its public URL when it has one, else
        the bound address."""
        return self.public_url or self.bound_url

    @property
    def bound_url(self) -> str:
        """``http://<bind address>:<port>``, where the server listens."""
        if self._base_url is None:
            raise RuntimeError("JwksHost is not running: use 'with JwksHost(...)' or call start()")
        return self._base_url

    @staticmethod
    def unique_path(prefix: str) -> str:
        """A fresh path under ``prefix`` (``/attacker/3f2a...``): one case's own, so that a
        request to it can only come from that case's token."""
        _check_path(prefix)
        return f"{prefix.rstrip('/')}/{uuid.uuid4().hex}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this host."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @property
    def jwks_url(self) -> str:
        return self.url(JWKS_PATH)

    @property
    def other_jwks_url(self) -> str:
        return self.url(OTHER_JWKS_PATH)

    @property
    def attacker_jwks_url(self) -> str:
        return self.url(ATTACKER_JWKS_PATH)

    @property
    def attacker_cert_url(self) -> str:
        return self.url(ATTACKER_CERT_PATH)

    # --- keys -------------------------------------------------------------------------

    def rotate(self, alg: str = "ES256") -> SigningKey:
        """Publish the rotation key of ``alg`` and return it."""
        key = self.keyring.rotation(alg)
        self.keyring.publish(key)
        return key

    def revoke(self, kid: str) -> None:
        """Remove ``kid`` from the trusted JWKS from the next request on."""
        self.keyring.revoke(kid)

    def attacker_cert_pem(self, alg: str = "ES256") -> bytes:
        """The PEM certificate served at :attr:`attacker_cert_url` (for ``alg``'s key)."""
        der = self.keyring.certificate(self.keyring.attacker(alg))
        body = "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode("ascii")

    # --- request log ------------------------------------------------------------------

    def requests(self, path_prefix: str | None = None) -> list[RequestRecord]:
        """The requests received so far (oldest first), optionally only under a path prefix.
        Raises ``RuntimeError`` when none is recorded there but the log overflowed (one
        may have gone unrecorded)."""
        with self._lock:
            found = [r for r in self._log if path_prefix is None or r.path.startswith(path_prefix)]
            if not found:
                self._check_complete()
            return found

    def fetch_count(self, path: str = JWKS_PATH) -> int:
        """How many requests ``path`` (exactly) received; ``RuntimeError`` once the log
        overflowed."""
        with self._lock:
            self._check_complete()
            return sum(1 for r in self._log if r.path == path)

    def _check_complete(self) -> None:
        if self._dropped:
            raise RuntimeError(
                f"the host received more than {LOG_MAX} requests and stopped recording them "
                f"({self._dropped} unrecorded): what was fetched is no longer known"
            )

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._dropped = 0

    # --- failure modes and fixed bodies -----------------------------------------------

    def fail(self, path: str, mode: str) -> None:
        """Make ``path`` answer in failure ``mode`` (one of :data:`FAILURE_MODES`)."""
        if mode not in FAILURE_MODES:
            raise ValueError(
                f"unknown failure mode {mode!r}; expected one of {', '.join(FAILURE_MODES)}"
            )
        _check_path(path)
        with self._lock:
            self._modes[path] = mode

    def override(
        self,
        path: str,
        body: Mapping[str, Any] | bytes,
        *,
        content_type: str = "application/json",
        status: int = 200,
    ) -> None:
        """Serve ``body`` (a JSON object, or bytes verbatim) at ``path`` until :meth:`restore`."""
        _check_path(path)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        with self._lock:
            self._overrides[path] = _Override(raw, content_type, status)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location`` until :meth:`restore`."""
        self.override(path, b"", content_type="text/plain", status=status)
        with self._lock:
            self._overrides[path] = replace(
                self._overrides[path], headers=(("location", location),)
            )

    def restore(self, path: str) -> None:
        """Undo :meth:`fail` and :meth:`override` for ``path`` (pending ``slow`` responses
        end now and serve the normal content)."""
        with self._lock:
            self._modes.pop(path, None)
            self._overrides.pop(path, None)

    @contextlib.contextmanager
    def failing(self, path: str, mode: str) -> Iterator[None]:
        """:meth:`fail` for the duration of the block."""
        self.fail(path, mode)
        try:
            yield
        finally:
            self.restore(path)

    @contextlib.contextmanager
    def overriding(
        self, path: str, body: Mapping[str, Any] | bytes, **kwargs: Any
    ) -> Iterator[None]:
        """:meth:`override` for the duration of the block."""
        self.override(path, body, **kwargs)
        try:
            yield
        finally:
            self.restore(path)

    # --- the app ----------------------------------------------------------------------

    def _app(self) -> Any:
        methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])

    def _content(self, path: str) -> tuple[int, bytes, str] | None:
        if path == JWKS_PATH:
            return 200, _json(self.keyring.published_jwks()), "application/json"
        if path == OTHER_JWKS_PATH:
            return 200, _json(self.keyring.other_jwks()), "application/json"
        if path == ATTACKER_JWKS_PATH:
            return 200, _json(self.keyring.attacker_jwks()), "application/json"
        if path == ATTACKER_CERT_PATH:
            return 200, self.attacker_cert_pem(), "application/x-pem-file"
        if path.startswith("/attacker/"):  # a case's own attacker path
            if path.endswith("/jwks.json"):
                return 200, _json(self.keyring.attacker_jwks()), "application/json"
            if path.endswith("/cert.pem"):
                return 200, self.attacker_cert_pem(), "application/x-pem-file"
        return None

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        logged, credentials = _redacted(request.headers.raw)
        record = RequestRecord(
            method=request.method,
            path=path,
            query=one_line(scrub(redact_values(request.url.query, credentials), limit=1000)),
            time=time.time(),
            headers=logged,
            client=f"{request.client.host}" if request.client else "",
        )
        with self._lock:
            if len(self._log) < LOG_MAX:
                self._log.append(record)
            else:
                self._dropped += 1
            mode = self._modes.get(path)
            override = self._overrides.get(path)
        headers = {"cache-control": f"max-age={self.cache_max_age_s}"}
        if mode in ("slow", "timeout"):
            await self._sleep(self.slow_s if mode == "slow" else TIMEOUT_HANG_S, path)
            if mode == "timeout":
                return Response(b"", 504)  # only once restored or stopping: too late
        elif mode == "oversized":
            # Well-formed JSON holding the real keys: only the size is wrong.
            content = await run_in_threadpool(self._content, path)
            keys = (
                json.loads(content[1]).get("keys", [])
                if content and content[2] == "application/json"
                else []
            )
            body = _json({"keys": keys, "padding": "x" * OVERSIZED_BYTES})
            return Response(body, 200, media_type="application/json", headers=headers)
        elif mode is not None:
            status, body, ctype = _failure_body(mode)
            return Response(body, status_code=status, media_type=ctype, headers=headers)
        if override is not None:
            return Response(
                override.body,
                override.status,
                media_type=override.content_type,
                headers={**headers, **dict(override.headers)},
            )
        # Key generation (RSA) can take a moment: keep it off the event loop.
        content = await run_in_threadpool(self._content, path)
        if content is None:
            return Response(b'{"error": "not found"}', 404, media_type="application/json")
        status, body, ctype = content
        return Response(body, status, media_type=ctype, headers=headers)

    async def _sleep(self, seconds: float, path: str) -> None:
        # Ends early when the host stops or the path is restored, so that neither
        # shutdown nor a test waits out the full delay.
        deadline = time.monotonic() + seconds
        mode = self._modes.get(path)
        while not self._stopping.is_set() and self._modes.get(path) == mode:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(0.05, remaining))


def _redacted(raw: Any) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """The request's headers as the log keeps them (credentials redacted, values
    scrubbed), and its credentials: whoever sent them chose them, so they are cut from
    this request's record only, never remembered as the run's secrets."""
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
    credentials = header_credentials(pairs)  # all of them, though fewer headers are kept
    pairs = pairs[:HEADERS_KEPT]
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        out += redact_headers({name: value}, untrusted=credentials).items()
    return tuple(out), credentials


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _failure_body(mode: str) -> tuple[int, bytes, str]:
    if mode == "500":
        return 500, b'{"error": "internal error"}', "application/json"
    if mode == "invalid_json":
        return 200, b'{"keys": [{"kty": "EC", ', "application/json"
    if mode == "html":
        return 200, b"<!doctype html><html><body><h1>Welcome</h1></body></html>", "text/html"
    if mode == "keys_not_array":
        return 200, b'{"keys": {}}', "application/json"
    if mode == "empty":
        return 200, b'{"keys": []}', "application/json"
    raise ValueError(f"unknown failure mode {mode!r}")
