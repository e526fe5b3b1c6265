"""The pace of a run: rate-limit slots, the pause a ``Retry-After`` asks for, the retry
budget and the circuit breaker — one state per run, whatever the number of processes.

:class:`Pacer` keeps that state in memory (one process, many threads). :class:`SharedPacer`
keeps it in a small JSON file under an exclusive ``flock``, so that every pytest-xdist
worker of a run (each a process of its own) draws from the same bucket: with
``rate_limit_per_s = 5`` and ``-n 2`` the target sees 5 requests a second, not 10. The
xdist controller creates the file in a directory of its own and hands its path to the
workers through ``workerinput`` (:mod:`._xdist_share`).

Why a file and ``flock``: it works the same on Linux and macOS, needs no server to start
or stop, and cannot deadlock: the lock is held for one read-modify-write (never while
sleeping), and the kernel releases it when its holder dies, so a crashed worker never
blocks the others. Times are ``time.monotonic()``, one clock for every process of a
machine (CLOCK_MONOTONIC on Linux, mach_absolute_time on macOS).

The schedule (a GCRA, the "virtual scheduling" form of a token bucket without burst):
each request takes the next free slot, slots are ``1/rate`` apart, so any 1-second
window holds at most ``rate + 1`` requests (the +1: a closed window can hold both ends).
A race's ``k`` copies are sent at once, so they take ``k`` slots before AND after the
moment they fire: the window bound still holds when ``k <= rate + 1``, and a larger race
(which alone is above the rate) has a window to itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class PaceState:
    #: ``time.monotonic`` of the next free slot
    next_slot: float = 0.0
    #: nothing is sent before this (a ``Retry-After`` honoured)
    paused_until: float = 0.0
    #: seconds of retry waits spent so far (the retry budget)
    waited_s: float = 0.0
    #: unavailable answers in a row (no answer, 429, 503), across all senders
    streak: int = 0
    last: str = ""
    #: why sending stopped (the breaker tripped), else ``None``
    unavailable: str | None = None


class Pacer:
    """The pace of one process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = PaceState()

    @contextlib.contextmanager
    def _edit(self, *, write: bool = True) -> Iterator[PaceState]:
        with self._lock:
            yield self._state

    def state(self) -> PaceState:
        """A copy of the state, for reading."""
        with self._edit(write=False) as state:
            return PaceState(**asdict(state))

    def slot(self, rate: float | None, *, copies: int = 1) -> float:
        """Take the slot(s) of ``copies`` requests sent at once; return how many seconds
        to wait before sending them (0: now). Without a rate only a pause is waited for."""
        now = time.monotonic()
        with self._edit() as s:
            fire = max(now, s.paused_until)
            if rate:
                fire = max(fire, s.next_slot) + (copies - 1) / rate
                s.next_slot = fire + copies / rate
        return fire - now

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the target's ``Retry-After``), from any sender."""
        until = time.monotonic() + seconds
        with self._edit() as s:
            s.paused_until = max(s.paused_until, until)

    def spend(self, seconds: float, budget: float) -> bool:
        """Spend ``seconds`` of the retry ``budget``; ``False`` when it cannot cover them."""
        with self._edit() as s:
            if s.waited_s + seconds > budget:
                return False
            s.waited_s += seconds
            return True

    def count(self, unavailable: bool, what: str, *, limit: int) -> None:
        """Count an answer: ``limit`` unavailable ones in a row trip the breaker (0: never)."""
        with self._edit() as s:
            if not unavailable:
                s.streak = 0
                return
            s.streak += 1
            s.last = what
            if limit and s.streak >= limit and s.unavailable is None:
                s.unavailable = (
                    f"target unavailable: {s.streak} answers in a row were "
                    f"no answer, 429 or 503 (last: {s.last[:120]})"
                )

    @property
    def unavailable(self) -> str | None:
        return self.state().unavailable


class SharedPacer(Pacer):
    """The pace of a run shared by processes through the file at ``path`` (POSIX).

    The file is created when missing; one that cannot be read as a state (empty, cut)
    is taken as a fresh state.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def _edit(self, *, write: bool = True) -> Iterator[PaceState]:
        import fcntl  # lazy: POSIX only; a one-process run never needs it

        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            try:
                state = _decode(os.pread(self._fd, 4096, 0))
                yield state
                if write:
                    data = json.dumps(asdict(state)).encode()
                    os.ftruncate(self._fd, 0)
                    os.pwrite(self._fd, data, 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _decode(raw: bytes) -> PaceState:
    try:
        data: Any = json.loads(raw) if raw else {}
        return PaceState(**data) if isinstance(data, dict) else PaceState()
    except (ValueError, TypeError):
        return PaceState()
