"""The one place that builds HTTP clients (see style.md: a later httpx move is one file).

Every client's connections go through :class:`_DeadlineBackend`: inside
:func:`exchange_deadline`, each socket call (connect, TLS handshake, write, read) may wait
only until the exchange's end, so a target that sends its headers a byte at a time cannot
hold a request past its deadline (httpx's own timeouts bound each call, not the whole).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    import ssl

    import httpx

USER_AGENT = "exchange-conformance"

#: When the exchange this thread (context) is sending must be over (``time.monotonic``).
_EXCHANGE_END: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "conformance_exchange_end", default=None
)


@contextlib.contextmanager
def exchange_deadline(seconds: float) -> Iterator[float]:
    """Bound every socket call made in this block to ``seconds`` from now in total;
    yields the deadline (``time.monotonic``)."""
    end = time.monotonic() + seconds
    token = _EXCHANGE_END.set(end)
    try:
        yield end
    finally:
        _EXCHANGE_END.reset(token)


def _left(timeout: float | None, phase: str) -> float | None:
    """``timeout`` cut to what is left of the exchange; past its end, the httpcore timeout
    of ``phase`` (httpx turns it into its own ``*Timeout``)."""
    end = _EXCHANGE_END.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        import httpcore

        error = {"connect": httpcore.ConnectTimeout, "write": httpcore.WriteTimeout}
        raise error.get(phase, httpcore.ReadTimeout)("the exchange's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """A network stream whose every call ends by the exchange's deadline."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, timeout=_left(timeout, "read"))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout=_left(timeout, "write"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _DeadlineStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout=_left(timeout, "connect"))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's network backend, its streams wrapped in :class:`_DeadlineStream`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _DeadlineStream:
        return _DeadlineStream(
            self._inner.connect_tcp(
                host,
                port,
                timeout=_left(timeout, "connect"),
                local_address=local_address,
                socket_options=socket_options,
            )
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _DeadlineStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(
                path, timeout=_left(timeout, "connect"), socket_options=socket_options
            )
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bound_by_deadlines(client: httpx.Client) -> bool:
    """Wrap the network backend of every connection pool of ``client``; ``False`` when
    one has none to wrap (an injected transport, or an httpx that moved it)."""
    transports = [client._transport, *client._mounts.values()]
    wrapped = True
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            wrapped = False
        elif not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return wrapped


def client(
    *,
    timeout_s: float = 10.0,
    verify: bool | ssl.SSLContext = True,
    max_connections: int = 16,
    transport: Any = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """A keep-alive client shared by all cases of a run.

    Redirects are never followed: a token endpoint that redirects is reported, not obeyed.
    """
    import httpx  # lazy: _config reaches this module (via _transport); httpx loads here

    made = httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        verify=verify,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        # identity: bodies are read raw and bounded; no decompression (nor its bombs).
        headers={"user-agent": f"{USER_AGENT}/{__version__}", "accept-encoding": "identity"},
        transport=transport,
        follow_redirects=follow_redirects,
    )
    if transport is None:
        _bound_by_deadlines(made)
    return made
