"""The scheduler: runs one process's cases ahead of pytest, so that waits overlap and
rejections share their positive controls; each pytest item then collects its result.

Three lanes, by what a case does to state other cases rely on (:func:`lane`):

* ``main``: cases that only send assertions. They run one after another, except that a
  case entering a deliberate wait (``ctx.sleep``: a clock boundary, a cache interval)
  lets the next case start while it waits; it resumes on its own thread when its wait
  is over. Each case keeps its own ``jti``s, times and clock reads (its own
  :class:`~conformance._engine.Context`).
* ``jwks``: cases that use the suite's JWKS host (rotation, revocation, outages,
  hostile key sets, fetch counts). They change or observe what the target fetches, so
  they run one at a time and never overlap each other; they run alongside the main
  lane, whose assertions are signed by keys the target already holds.
* ``alone``: cases that burst or race the target (its rate limit, its jti store). They
  run last, with nothing else in flight.

Within a lane, a passing rejection is not proved until a positive control is accepted
after it: the lane collects unconfirmed rejections into groups of up to
:data:`GROUP_MAX` and confirms each group with one control
(:func:`~conformance._engine.confirm_group`), which re-checks every case of the group on
its own when that control is refused.

Anything the scheduler did not produce (it stopped, the run halted, a worker got cases of
another share) is run by the item itself, the old way: a result is never missing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Literal

from ._engine import CaseResult, Runtime, confirm_group, run_case
from .catalog._model import Case

Lane = Literal["main", "jwks", "alone"]

#: needs of a case that bursts or races the target: it runs with nothing else in flight
ALONE_NEEDS = frozenset({"bursts", "races"})
#: needs of a case that changes or observes the JWKS host: one such case at a time
JWKS_NEEDS = frozenset({"jwks_host"})
#: rejections confirmed by one positive control (a refused control re-checks them all)
GROUP_MAX = 24


def lane(case: Case) -> Lane:
    """Which lane ``case`` runs in (see the module doc)."""
    if case.needs & ALONE_NEEDS:
        return "alone"
    if case.needs & JWKS_NEEDS:
        return "jwks"
    return "main"


class Scheduler:
    """Runs ``cases`` on background threads; :meth:`result` hands each one's result out."""

    def __init__(
        self,
        runtime: Runtime,
        cases: Sequence[Case],
        *,
        halted: Callable[[], bool] = lambda: False,
        group_max: int = GROUP_MAX,
    ) -> None:
        self.runtime = runtime
        self.cases = list(cases)
        self.group_max = max(1, group_max)
        self._halted = halted
        self._results: dict[str, CaseResult] = {}
        self._done = False
        self._cond = threading.Condition()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._run, name="conformance-cases", daemon=True)
        self._thread.start()
        return self

    def result(self, case_id: str) -> CaseResult | None:
        """The result of ``case_id`` once it is decided; ``None`` when the scheduler
        stopped without it (the caller runs the case itself)."""
        with self._cond:
            self._cond.wait_for(lambda: case_id in self._results or self._done)
            return self._results.pop(case_id, None)

    def close(self) -> None:
        """Start no further case (one under way finishes its current request)."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the lanes --------------------------------------------------------------------

    def _stopped(self) -> bool:
        return self._cancel.is_set() or self._halted()

    def _run(self) -> None:
        try:
            by_lane: dict[Lane, list[Case]] = {"main": [], "jwks": [], "alone": []}
            for case in self.cases:
                by_lane[lane(case)].append(case)
            jwks = threading.Thread(
                target=self._lane, args=(by_lane["jwks"], False), name="conformance-jwks"
            )
            jwks.daemon = True
            jwks.start()
            self._lane(by_lane["main"], True)
            jwks.join()
            self._lane(by_lane["alone"], False)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _publish(self, results: Sequence[CaseResult]) -> None:
        with self._cond:
            for r in results:
                self._results[r.case.id] = r
            self._cond.notify_all()

    def _lane(self, cases: Sequence[Case], overlap: bool) -> None:
        """Run ``cases`` in order; with ``overlap``, a case that waits lets the next one
        start. Unconfirmed rejections are confirmed in groups."""
        finished: queue.Queue[CaseResult] = queue.Queue()
        group: list[CaseResult] = []
        running: list[threading.Thread] = []

        def take(result: CaseResult) -> None:
            if not result.unconfirmed:
                self._publish([result])
                return
            group.append(result)
            if len(group) >= self.group_max:
                self._publish(confirm_group(self.runtime, group))
                group.clear()

        def drain() -> None:
            while True:
                try:
                    take(finished.get_nowait())
                except queue.Empty:
                    return

        for case in cases:
            if self._stopped():
                break
            if overlap:
                running.append(self._start_case(case, finished))
            else:
                finished.put(run_case(self.runtime, case, defer_control=True))
            drain()
        for thread in running:
            thread.join()
        drain()
        if group and not self._stopped():
            self._publish(confirm_group(self.runtime, group))

    def _start_case(self, case: Case, finished: queue.Queue[CaseResult]) -> threading.Thread:
        """Start ``case`` on its own thread; return once it finished or began to wait."""
        yielded = threading.Event()

        def work() -> None:
            try:
                finished.put(run_case(self.runtime, case, defer_control=True, on_wait=yielded.set))
            finally:
                yielded.set()

        thread = threading.Thread(target=work, name=f"case-{case.id}", daemon=True)
        thread.start()
        yielded.wait()
        return thread
