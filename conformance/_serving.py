"""Serve an ASGI app with a real uvicorn server on a loopback port, in a background thread.

Used by the JWKS host, the emulator and the tests: every server this project starts
goes through :func:`serve_app`, so start-up, readiness and shutdown live in one place.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class ServerHandle:
    """A running server: where it listens."""

    host: str
    port: int
    #: tells the server to stop, without waiting for it (:func:`serve_app` waits when its
    #: block exits): several servers told first stop in the time of one
    exit: Callable[[], None] = field(default=lambda: None, compare=False, repr=False)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_app(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ready_timeout_s: float = 10.0,
    option: str = "--host/--port",
) -> Iterator[ServerHandle]:
    """Run ``app`` under uvicorn in a daemon thread until the block exits.

    ``port=0`` picks a free port. Raises :class:`ConfigError` if the server does not
    come up within ``ready_timeout_s`` (port taken, bad host); ``option`` names what the
    user changes to fix an address that cannot be bound.
    """
    import uvicorn  # lazy: the plugin must import cheaply

    # Bind the socket ourselves so that port=0 is race-free and the port is known.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY on Linux; without it a response's headers
    # and body leave in two writes and the second waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another {option}"
        ) from None
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        limit_concurrency=512,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + ready_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ConfigError(f"server on {host}:{bound_port} did not start; see the log above")
        time.sleep(0.005)
    try:
        yield ServerHandle(
            host=host, port=bound_port, exit=lambda: setattr(server, "should_exit", True)
        )
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
