"""Sending requests under a transport policy: timeouts, bounded bodies, rate limit, and
retries for transport faults and 429/503 only (never to turn a verdict around).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import email.utils
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from . import _http

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
    ) -> None:
        self.client = client
        self.policy = policy or TransportPolicy()
        self._connect = connect
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self.retry_count = 0

    def _throttle(self) -> None:
        rate = self.policy.rate_limit_per_s
        if not rate:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / rate
        if slot > now:
            time.sleep(slot - now)

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
        whose one slot :meth:`burst` took)."""
        # lazy: _config imports this module; httpx loads with the first request
        import httpx

        use = client or self.client
        attempt = 0
        while True:
            if throttle:
                self._throttle()
            started = time.perf_counter()
            # httpx's timeout bounds each read, not the whole answer: a target that
            # trickles a byte a second must not hold the run.
            deadline = time.monotonic() + self.policy.timeout_s
            error: str | None = None
            sent = True
            status: int | None = None
            resp_headers: dict[str, str] = {}
            body = b""
            try:
                with use.stream(method, url, headers=dict(headers), content=content) as resp:
                    status = resp.status_code
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in resp.iter_raw():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > self.policy.max_body_bytes:
                            break  # bounded: a hostile target cannot exhaust memory
                        if time.monotonic() > deadline:
                            error = f"answer not complete after {self.policy.timeout_s:g} s"
                            break
                    body = b"".join(chunks)[: self.policy.max_body_bytes]
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                sent = False
                error = f"could not connect: {type(exc).__name__}: {exc}"[:300]
            except httpx.TimeoutException:
                error = f"timeout after {self.policy.timeout_s:g} s"
            except httpx.TransportError as exc:
                error = f"transport error: {type(exc).__name__}: {exc}"[:300]
            latency_ms = (time.perf_counter() - started) * 1000
            # A request that may have reached the target is never re-sent: the copy
            # would meet the replay guard and a refusal would pass for a verdict.
            retry_after = self._retry_delay(status, resp_headers, error, sent=sent)
            if retry_after is not None and attempt < self.policy.retries:
                attempt += 1
                with self._lock:
                    self.retry_count += 1
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

    def burst(self, copies: int, send: Callable[[httpx.Client], _T]) -> list[_T]:
        """Run ``send`` ``copies`` times at once, each with a client of its own, released
        together, within ONE rate-limit slot: spreading the copies out would turn a race
        into a sequence and hide a check-then-set bug. ``send`` must pass the client on to
        :meth:`request` with ``throttle=False``."""
        if copies < 1:
            raise ValueError(f"a burst needs at least one copy, not {copies}")
        barrier = threading.Barrier(copies)
        with contextlib.ExitStack() as opened:
            # One connection per sender: a shared pool serialises the copies (0.24x).
            clients = [opened.enter_context(self._new_client()) for _ in range(copies)]
            self._throttle()

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
            value = headers.get("retry-after", "1")
            try:
                delay = float(value)
            except ValueError:
                parsed = _parse_date(value)
                delay = (parsed - time.time()) if parsed else 1.0
            if not math.isfinite(delay):
                delay = 1.0
            return min(max(delay, 0.0), self.policy.max_retry_after_s)
        return None


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
