"""What the pytest-xdist controller shares with its workers, through ``workerinput``: the
run's pace file (one rate limit, ``Retry-After`` pause, retry budget and circuit breaker
for every worker: :class:`._pacer.SharedPacer`) and the moment the run started.

The controller runs no case, but it is the run: its wall time from start to end is the
run's ``duration_s``, and workers count the run's deadline from the same start. The pace
file lives in a directory of the controller's own, removed when pytest ends.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._pacer import SharedPacer

PACE_KEY = "conformance_pace"
STARTED_KEY = "conformance_started"


@dataclass(frozen=True, slots=True)
class RunClock:
    """When the run started: ``time.time()`` and its ISO 8601 form."""

    started: float
    started_at: str

    @classmethod
    def now(cls) -> RunClock:
        started = time.time()
        iso = dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds")
        return cls(started, iso)


_CLOCK = pytest.StashKey[RunClock]()
_DIR = pytest.StashKey[Path]()


def start_clock(config: pytest.Config) -> None:
    """At ``pytest_configure``: the controller's clock, or the one a worker was given."""
    given = getattr(config, "workerinput", {}).get(STARTED_KEY)
    clock = RunClock(*given) if isinstance(given, list | tuple) else RunClock.now()
    config.stash[_CLOCK] = clock


def run_clock(config: pytest.Config) -> RunClock:
    clock = config.stash.get(_CLOCK, None)
    return clock if clock is not None else RunClock.now()


def share_with(node: Any) -> None:
    """At ``pytest_configure_node`` (controller): give a worker the run's clock and the
    path of the run's pace file."""
    config: pytest.Config = node.config
    directory = config.stash.get(_DIR, None)
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="conformance-run-"))
        config.stash[_DIR] = directory
    clock = run_clock(config)
    node.workerinput[STARTED_KEY] = [clock.started, clock.started_at]
    node.workerinput[PACE_KEY] = str(directory / "pace.json")


def shared_pacer(config: pytest.Config) -> SharedPacer | None:
    """A worker's handle on the run's pace file; ``None`` outside xdist, for a worker
    started by a controller without this plugin, or where there is no ``flock``
    (Windows: each worker then keeps its own pace, as before)."""
    path = getattr(config, "workerinput", {}).get(PACE_KEY)
    return SharedPacer(path) if isinstance(path, str) and os.name == "posix" else None


def cleanup(config: pytest.Config) -> None:
    """At ``pytest_unconfigure`` (controller): remove the pace file's directory."""
    directory = config.stash.get(_DIR, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
