"""The emulator's request log: one line per request, and nothing secret in it.

A line holds the time, the method, the path, the status and the duration::

    2026-12-02T09:12:01.348Z POST /api/v0/sdk/5e7a…/externalAuth/verify 200 3.1ms

Never a header, a query string or a body: bearer session tokens, assertions, elevated
tokens and key material travel only there. The path is the client's text, so it is
escaped (non-printable bytes percent-encoded), each segment longer than 64 characters is
replaced by its length (a token pasted into a URL stays out), and the whole is bounded.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TextIO
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._exceptions import ConfigError

__all__ = ["LOG_ENV", "RequestLog", "open_log", "safe_path"]

#: Environment variable naming the log (a path, or ``-`` for stderr) for worker processes.
LOG_ENV = "CONFORMANCE_EMULATOR_LOG"
_SEGMENT_LIMIT = 64
_PATH_LIMIT = 300
_SAFE = "/:@!$&'()*+,;=-._~%"


def open_log(target: str) -> Callable[[str], None]:
    """A writer of log lines to ``target``: a file (appended to, one line written at a
    time) or ``-`` for stderr. Raises :class:`ConfigError` when the file cannot be opened."""
    stream: TextIO
    if target == "-":
        stream = sys.stderr
    else:
        try:
            stream = open(target, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(
                f"cannot write the request log {target} ({exc.strerror or exc}); "
                "choose another --log file, or '-' for stderr"
            ) from None

    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return write


def safe_path(raw: bytes) -> str:
    """The request path as it may be logged: escaped, long segments replaced, bounded."""
    text = quote(raw.split(b"?", 1)[0], safe=_SAFE)
    segments = [f"[{len(s)} chars]" if len(s) > _SEGMENT_LIMIT else s for s in text.split("/")]
    path = "/".join(segments)
    return path if len(path) <= _PATH_LIMIT else path[:_PATH_LIMIT] + "…"


class RequestLog:
    """ASGI middleware: writes one line per HTTP request when its answer is complete (or
    the request ended without one: status ``-``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        write: Callable[[str], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.write = write
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status: list[int] = []

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            ms = (self.clock() - started) * 1000
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            method = str(scope.get("method", "-"))[:16]
            path = safe_path(scope.get("raw_path") or scope.get("path", "").encode())
            code = str(status[0]) if status else "-"
            self.write(f"{stamp.replace('+00:00', 'Z')} {method} {path} {code} {ms:.1f}ms")
