"""Sending requests under a transport policy: timeouts, bounded bodies, rate limit, and
retries for transport faults and 429/503 only (never to turn a verdict around).

One answer per request, or none: the deadline covers the whole exchange (connect, send,
headers, body; :func:`._http.exchange_deadline`), and a connection whose answer was framed
wrong (bytes past the announced end, a body after a 204/304 or a HEAD) is closed, so those
bytes can never be read as the next request's answer. A run ends: retry waits share one
budget, and after ``max_unavailable`` unavailable answers in a row (no answer, 429, 503)
the transport trips and sends nothing more (:attr:`Transport.unavailable`).

The rate limit's slots, a ``Retry-After`` pause, the retry budget and the breaker live in
a :class:`._pacer.Pacer`: one per transport by default, one per RUN under pytest-xdist
(a :class:`._pacer.SharedPacer` every worker's transport uses), so the limits hold for
the run as a whole, not per process.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import email.utils
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import _http
from ._pacer import Pacer

if TYPE_CHECKING:
    import httpx


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TransportPolicy:
    timeout_s: float = 10.0
    retries: int = 2
    retry_statuses: tuple[int, ...] = (429, 503)
    max_retry_after_s: float = 10.0
    rate_limit_per_s: float | None = None
    max_body_bytes: int = 1 << 20
    #: seconds of retry waits (``Retry-After`` and reconnects) one run may spend in all
    retry_budget_s: float = 180.0
    #: unavailable answers in a row (no answer, 429, 503) that stop the run; 0: never
    max_unavailable: int = 10
    #: seconds after which a run stops (the rest not run, the run incomplete); None: never
    run_deadline_s: float | None = None


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    latency_ms: float
    error: str | None
    retries: int
    server_date: float | None


class Transport:
    """One shared client, one policy. Thread-safe (race cases send from threads).

    ``connect`` makes a client of the same kind (TLS trust, timeout) with a connection of
    its own, for the copies of a burst; by default a plain one from :mod:`._http`.
    """

    def __init__(
        self,
        client: httpx.Client,
        policy: TransportPolicy | None = None,
        *,
        connect: Callable[[], httpx.Client] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or TransportPolicy()
        self._connect = connect
        self._lock = threading.Lock()
        #: the rate limit, pauses, retry budget and breaker (shared by a run's workers)
        self.pacer = pacer or Pacer()
        self.retry_count = 0
        #: ``time.monotonic`` after which nothing more is sent (the run's deadline)
        self.halt_at: float | None = None

    @property
    def unavailable(self) -> str | None:
        """Why the transport stopped sending (the target is unavailable), else ``None``."""
        return self.pacer.unavailable

    @property
    def retry_waited_s(self) -> float:
        """Seconds of the retry budget spent (by the whole run when the pacer is shared)."""
        return self.pacer.state().waited_s

    def _throttle(self, copies: int = 1) -> None:
        wait = self.pacer.slot(self.policy.rate_limit_per_s, copies=copies)
        if wait > 0:
            time.sleep(wait)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        client: httpx.Client | None = None,
        throttle: bool = True,
    ) -> RawResponse:
        """Send one request. ``throttle=False`` skips the rate limit (a race's copies,
        whose slots :meth:`burst` took)."""
        # lazy: _config imports this module; httpx loads with the first request
        import httpx

        use = client or self.client
        unsendable = _unsendable(url, headers)
        if unsendable is not None:
            return _not_sent(f"not sent: {unsendable}", 0)
        attempt = 0
        while True:
            if self.unavailable is not None:
                return _not_sent(f"not sent: {self.unavailable}", attempt)
            if self.halt_at is not None and time.monotonic() >= self.halt_at:
                return _not_sent("not sent: the run's deadline passed", attempt)
            if throttle:
                self._throttle()
            started = time.perf_counter()
            error: str | None = None
            sent = True
            status: int | None = None
            resp_headers: dict[str, str] = {}
            body = b""
            late = f"no complete answer within {self.policy.timeout_s:g} s"
            try:
                # The deadline bounds every socket call, headers included: httpx's own
                # timeout bounds each read, and a byte a second would never trip it.
                with (
                    _http.exchange_deadline(self.policy.timeout_s) as deadline,
                    use.stream(method, url, headers=dict(headers), content=content) as resp,
                ):
                    status = resp.status_code
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                    chunks: list[bytes] = []
                    size = 0
                    complete = True
                    # resp.stream, not resp.iter_raw(): iter_raw releases the connection
                    # to the pool as soon as the body ends, and another thread may take it
                    # before the framing check below closes it under that thread (EBADF)
                    body_stream = resp.stream
                    assert isinstance(body_stream, httpx.SyncByteStream)
                    for chunk in body_stream:
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > self.policy.max_body_bytes:
                            complete = False  # bounded: a hostile target cannot exhaust memory
                            break
                        if time.monotonic() > deadline:
                            error, complete = late, False
                            break
                    body = b"".join(chunks)[: self.policy.max_body_bytes]
                    # an answer cut short closes its connection (httpcore); a whole one is
                    # checked for bytes past its end
                    if complete:
                        error = _check_framing(method, resp)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                sent = False
                error = f"could not connect: {type(exc).__name__}: {exc}"[:300]
            except httpx.TimeoutException:
                error = late
            except httpx.TransportError as exc:
                error = f"transport error: {type(exc).__name__}: {exc}"[:300]
            latency_ms = (time.perf_counter() - started) * 1000
            self._count_availability(status, error)
            # A request that may have reached the target is never re-sent: the copy
            # would meet the replay guard and a refusal would pass for a verdict.
            retry_after = self._retry_delay(status, resp_headers, error, sent=sent)
            if (
                retry_after is not None
                and attempt < self.policy.retries
                and self.unavailable is None
                and self._take_from_budget(retry_after)
            ):
                attempt += 1
                with self._lock:
                    self.retry_count += 1
                if status in self.policy.retry_statuses:
                    # the target asked every sender of the run to wait, not this one
                    self.pacer.pause(retry_after)
                time.sleep(retry_after)
                continue
            return RawResponse(
                status=status,
                headers=resp_headers,
                body=body,
                latency_ms=latency_ms,
                error=error,
                retries=attempt,
                server_date=_parse_date(resp_headers.get("date")),
            )

    def _count_availability(self, status: int | None, error: str | None) -> None:
        """Count unavailable answers in a row; trip after ``max_unavailable`` of them."""
        unavailable = status in self.policy.retry_statuses or (status is None and bool(error))
        what = f"status {status}" if status is not None else str(error)
        self.pacer.count(unavailable, what, limit=self.policy.max_unavailable)

    def _take_from_budget(self, seconds: float) -> bool:
        """Spend ``seconds`` of the run's retry budget; ``False`` when it cannot cover them."""
        return self.pacer.spend(seconds, self.policy.retry_budget_s)

    def burst(self, copies: int, send: Callable[[httpx.Client], _T]) -> list[_T]:
        """Run ``send`` ``copies`` times at once, each with a client of its own, released
        together: spreading the copies out would turn a race into a sequence and hide a
        check-then-set bug. The copies take ``copies`` rate-limit slots before and after
        the moment they fire (:meth:`._pacer.Pacer.slot`), so the rate holds around them.
        ``send`` must pass the client on to :meth:`request` with ``throttle=False``."""
        if copies < 1:
            raise ValueError(f"a burst needs at least one copy, not {copies}")
        barrier = threading.Barrier(copies)
        with contextlib.ExitStack() as opened:
            # One connection per sender: a shared pool serialises the copies (0.24x).
            clients = [opened.enter_context(self._new_client()) for _ in range(copies)]
            self._throttle(copies)

            def fire(index: int) -> _T:
                barrier.wait(timeout=10)
                return send(clients[index])

            with concurrent.futures.ThreadPoolExecutor(max_workers=copies) as pool:
                return list(pool.map(fire, range(copies)))

    def _new_client(self) -> httpx.Client:
        if self._connect is not None:
            return self._connect()
        return _http.client(timeout_s=self.policy.timeout_s, max_connections=1)

    def _retry_delay(
        self, status: int | None, headers: Mapping[str, str], error: str | None, *, sent: bool
    ) -> float | None:
        if error is not None:
            return None if sent else 0.2
        if status in self.policy.retry_statuses:
            return retry_after_s(headers.get("retry-after"), self.policy.max_retry_after_s)
        return None


def retry_after_s(value: str | None, cap: float) -> float | None:
    """How long to wait before retrying an answer with this ``Retry-After`` (RFC 9110
    §10.2.3), or ``None``: not retried, the answer stands.

    Absent, unparsable, negative or not finite is taken as 1 s (at most ``cap``); a date
    in the past is 0. A wait longer than ``cap`` (seconds or a future date) is refused,
    not shortened: the target asked for more than the run will give, and asking again
    sooner would only add load to a service that said it has too much.
    """
    if value is None or not value.strip():
        return min(1.0, cap)
    try:
        delay = float(value)
    except ValueError:
        parsed = _parse_date(value)
        delay = max(parsed - time.time(), 0.0) if parsed is not None else 1.0
    if not math.isfinite(delay) or delay < 0:
        return min(1.0, cap)
    return delay if delay <= cap else None


#: what no header value may hold (a line break would start another header)
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _unsendable(url: str, headers: Mapping[str, str]) -> str | None:
    """Why HTTP cannot carry this request (httpx would raise, not answer), or ``None``:
    a header value that is not ASCII (a value a hostile target chose, such as the user
    id of its sign-in answer, put in a header), or a URL httpx cannot parse. The value
    is not repeated: it may be a credential."""
    # lazy: _config imports this module; httpx loads with the first request
    import httpx

    for name, value in headers.items():
        shown = name.encode("ascii", "replace").decode()
        if not (name.isascii() and value.isascii()):
            return f"the value of header {shown!r} is not ASCII"
        if _HEADER_CONTROL.search(value):
            return f"the value of header {shown!r} holds a line break or a control character"
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"the URL is not valid ({exc})"
    return None


def _not_sent(error: str, attempt: int) -> RawResponse:
    return RawResponse(
        status=None,
        headers={},
        body=b"",
        latency_ms=0.0,
        error=error,
        retries=attempt,
        server_date=None,
    )


_BODILESS = frozenset({204, 304})


def _check_framing(method: str, resp: httpx.Response) -> str | None:
    """Close ``resp``'s connection unless it can safely carry the next request, and say
    what was wrong with the answer's framing (``None``: nothing seen).

    Bytes past the end of an answer sit in h11's buffer (or arrive later on the socket,
    which httpcore checks before reusing an idle connection); on a connection kept open
    they would be read as the NEXT request's answer. A status or method that allows no
    body closes the connection whatever was seen: a body sent late is a race to lose; so
    does a 5xx (below).
    """
    stream = resp.extensions.get("network_stream")
    leftover = _leftover(resp)
    bodiless = method.upper() == "HEAD" or resp.status_code in _BODILESS
    # a server that erred often closes the connection right after its answer (uvicorn
    # does after an exception): reused, that close would land on the NEXT exchange as a
    # reset, blaming a case for its predecessor's crash
    erred = resp.status_code >= 500
    if stream is not None and (leftover is None or leftover or bodiless or erred):
        _close_on_release(resp, stream)
    if not leftover:
        return None
    what = (
        f"a body where status {resp.status_code} allows none"
        if bodiless and method.upper() != "HEAD"
        else "a body after the answer to a HEAD"
        if bodiless
        else "more bytes than the answer's framing announced"
    )
    return (
        f"answer framing broken: {what} ({len(leftover)}+ bytes past its end); the "
        "connection was closed and those bytes belong to no answer"
    )


def _close_on_release(resp: httpx.Response, stream: Any) -> None:
    """Make ``resp``'s connection close when the response releases it, never return to
    the pool: h11 is told the exchange failed, so httpcore closes the connection itself
    on release. Closing the socket here instead races with the pool under concurrent
    requests (another thread can be handed the connection whose socket is being closed:
    EBADF). Without an h11 state to reach, the socket is closed here."""
    state = _h11_state(resp)
    if state is None:
        stream.close()
        return
    state.send_failed()


def _leftover(resp: httpx.Response) -> bytes | None:
    """The bytes received past the end of ``resp`` on its HTTP/1.1 connection (h11's
    ``trailing_data``), or ``None`` when they cannot be seen (then the caller closes)."""
    state = _h11_state(resp)
    if state is None:
        return None
    data, _closed = state.trailing_data
    return bytes(data)


def _h11_state(resp: httpx.Response) -> Any:
    """The h11 state machine of ``resp``'s HTTP/1.1 connection, or ``None``."""
    node: object = resp.stream
    for _ in range(8):
        state = getattr(node, "_h11_state", None)
        if state is not None:
            return state
        node = next(
            (
                getattr(node, name)
                for name in ("_stream", "_httpcore_stream", "_connection")
                if hasattr(node, name)
            ),
            None,
        )
        if node is None:
            return None
    return None


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
