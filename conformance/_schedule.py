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
  they run one at a time per key set: beside the main lane when the target has isolated
  environments for them (``Runtime.isolated``: the embedded emulator's C1 and C2, each
  its own lane, the cases dealt in turn), else first, with no main-lane request in flight.
* ``alone``: cases that burst or race the target (its rate limit, its jti store). They
  run after the two lanes above, with nothing else in flight.
* ``last``: cases that judge what every other case of the process recorded (the error
  hygiene cases judge the run's refusals, :data:`JUDGES_RUN`). They run after everything
  else has finished, so no refusal of a waiting case or of the alone lane escapes them.

Without an isolated environment, the JWKS lane goes first and alone
(:func:`execution_order`). Each of its cases changes
what the target's key lookups see — for *every* token: a target may refuse a whole key set
that holds one hostile entry, or have none while its JWKS is down, and a correct target
that does so would refuse the main lane's valid assertions meanwhile (a false failure).
So no main-lane request is sent while the JWKS lane runs: the main cases ordered after it
start once it is over, and the few started before it (:data:`WAITS_FIRST`, long waits)
only wait beside it; one whose wait ends while the lane still runs holds its request at
most :data:`HOLD_S` seconds (a token built long before its send would prove nothing near a
time boundary), else it stops and runs again, whole, after the lane. The lane ends by
making the target fetch the JWKS as published, so every case after it finds the key set
the plan began with, in every run and under ``-n``. An isolated environment has the
same keys as the one under test, on a JWKS host of its own: what its cases do to that
key set cannot reach a main-lane token, so nothing is held and nothing restored.

A passing rejection is not proved until a positive control is accepted after it. The
JWKS lane sends it right after each case, as before (the control is part of what the
target's key cache sees between JWKS cases). The other lanes collect unconfirmed
rejections into groups of up to
:data:`GROUP_MAX` rejections and :data:`GROUP_MAX_S` seconds (a control long after a
rejection proves less of it: against a slow target a group closes by time, not count),
and confirm each group with one control
(:func:`~conformance._engine.confirm_group`), which re-checks every case of the group on
its own when that control is refused.

Anything the scheduler did not produce (it stopped, the run halted, a worker got cases of
another share) is run by the item itself, the old way: a result is never missing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from ._ast_lock import install as install_ast_lock
from ._engine import CaseResult, Context, Runtime, confirm_group, run_case
from .catalog._model import Case
from .catalog.authoring import after_refetch, restored, signed, unique_kid

Lane = Literal["main", "jwks", "alone", "last"]

#: needs of a case that bursts or races the target: it runs with nothing else in flight
ALONE_NEEDS = frozenset({"bursts", "races"})
#: cases that judge the run's log of refusals (``conformance._hygiene``): they run after
#: every other case of the process, whatever its lane
JUDGES_RUN = ("errors.hygiene.*",)
#: needs of a case that changes or observes the JWKS host: one such case at a time
JWKS_NEEDS = frozenset({"jwks_host"})
#: rejections confirmed by one positive control (a refused control re-checks them all;
#: 24 until 2026-12-02: 48 saves a dozen requests of the default plan, the proof is the same)
GROUP_MAX = 48
#: seconds after its first rejection that a group closes, however few it holds: the lane
#: looks at each case it starts or finishes, and every :data:`_POLL_S` while it waits
GROUP_MAX_S = 5.0
_POLL_S = 0.5
#: main-lane cases that wait long on purpose (past an exp plus its margin): they start
#: first, so that their waits overlap the JWKS lane
WAITS_FIRST = ("time.replay.after_exp",)
#: seconds a main-lane case whose wait ended during the JWKS lane may hold its request
#: until the lane is over; longer, it runs again after the lane (its token, built for
#: then, could have crossed a time boundary: the time cases keep 3 s from theirs)
HOLD_S = 2.0


def _matches(case: Case, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(case.id, glob) for glob in globs)


def execution_order(cases: Sequence[Case]) -> list[Case]:
    """The order the scheduler starts ``cases`` in (pytest still reports them in theirs):
    the long main-lane waits, the JWKS lane, the rest in the plan's order.

    The JWKS lane is the run's longest chain of waits (one per refetch interval of the
    target), and no main-lane request may overlap it: it comes first, so that the long
    waits that may overlap it do."""
    first, jwks, rest = [], [], []
    for case in cases:
        name = lane(case)
        if name == "jwks":
            jwks.append(case)
        elif name == "main" and _matches(case, WAITS_FIRST):
            first.append(case)
        else:
            rest.append(case)
    return [*first, *jwks, *rest]


def lane(case: Case) -> Lane:
    """Which lane ``case`` runs in (see the module doc)."""
    if _matches(case, JUDGES_RUN):
        return "last"
    if case.needs & ALONE_NEEDS:
        return "alone"
    if case.needs & JWKS_NEEDS:
        return "jwks"
    return "main"


class _PutBack(BaseException):
    """Raised (from the send hook) in a main-lane case that would hold its request longer
    than :data:`HOLD_S` for the JWKS lane: the case stops and runs again after the lane.
    A ``BaseException``, so that no recipe's ``except Exception`` takes it for the
    target's doing."""


class Scheduler:
    """Runs ``cases`` on background threads; :meth:`result` hands each one's result out."""

    def __init__(
        self,
        runtime: Runtime,
        cases: Sequence[Case],
        *,
        halted: Callable[[], bool] = lambda: False,
        group_max: int = GROUP_MAX,
        group_max_s: float = GROUP_MAX_S,
    ) -> None:
        self.runtime = runtime
        #: the isolated environments the JWKS cases run in, a lane each, beside the
        #: others (set at :meth:`start`, after the baseline: they share the clock learnt
        #: there); none: the JWKS lane runs first and alone
        self.jwks_runtimes: list[Runtime] = []
        self.cases = execution_order(cases)
        self.group_max = max(1, group_max)
        self.group_max_s = group_max_s
        self.clock: Callable[[], float] = time.monotonic  # the groups' clock (tests set it)
        self._halted = halted
        self._results: dict[str, CaseResult] = {}
        self._done = False
        self._cond = threading.Condition()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        # between the main and the JWKS lane (positions in the execution order)
        self._gate = threading.Condition()
        self._position = {c.id: i for i, c in enumerate(self.cases)}
        self._jwks_left = [i for i, c in enumerate(self.cases) if lane(c) == "jwks"]
        self._jwks_started = False  # the JWKS lane began: no main request until it ends
        self._main_next = 0.0  # every main-lane case before this position has started
        self._main_busy: dict[int, bool] = {}  # in-flight main case -> it is waiting
        #: main cases stopped before a request held too long (:class:`_PutBack`):
        #: id -> the requests their first try sent; and the queue they wait in
        self._put_back_ids: dict[str, int] = {}
        self._put_back_cases: queue.Queue[Case] = queue.Queue()
        self._last_position = len(self.cases)

    def start(self) -> Scheduler:
        install_ast_lock()  # cases on threads: one ast.parse at a time (see _ast_lock)
        self.jwks_runtimes = self.runtime.for_jwks_cases()
        if self.jwks_runtimes:  # the lanes overlap: nothing is held at a gate
            self._jwks_left = []
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
        """Start no further case; the waits of those under way end at once (the run is
        stopping: what they decide now is not used)."""
        self._cancel.set()
        self.runtime.interrupted.set()
        with self._gate:
            self._gate.notify_all()

    # -- the gate ---------------------------------------------------------------------

    def _jwks_next(self) -> float:
        return self._jwks_left[0] if self._jwks_left else math.inf

    def _jwks_running(self) -> bool:
        return self._jwks_started and bool(self._jwks_left)

    def _may_send(self, position: int, *, hold: bool) -> float | None:
        """The main case at ``position`` is about to send: wait while the JWKS lane runs,
        at most :data:`HOLD_S` when ``hold`` (``None`` when that was not enough). Returns
        how long it waited; the case is active from now (no JWKS case starts meanwhile)."""
        started = time.perf_counter()
        with self._gate:
            free = self._gate.wait_for(
                lambda: self._cancel.is_set() or not self._jwks_running(),
                timeout=HOLD_S if hold else None,
            )
            if not free:
                return None
            if position in self._main_busy:
                self._main_busy[position] = False
        return time.perf_counter() - started

    def _jwks_start(self, position: int) -> None:
        """Wait until the JWKS case at ``position`` may start: every main case ordered
        before it has started, and every main case in flight waits."""
        with self._gate:
            self._gate.wait_for(
                lambda: (
                    self._cancel.is_set()
                    or (self._main_next > position and all(self._main_busy.values()))
                )
            )
            self._jwks_started = True

    def _main_may_start(self, position: int) -> None:
        """Wait until every JWKS case ordered before ``position`` has finished."""
        with self._gate:
            self._main_next = max(self._main_next, position)  # the ones before it started
            self._gate.notify_all()
            self._gate.wait_for(lambda: self._cancel.is_set() or self._jwks_next() > position)

    def _jwks_end(self, position: int) -> None:
        with self._gate:
            if position in self._jwks_left:
                self._jwks_left.remove(position)
            self._gate.notify_all()

    def _main_started(self, position: int, following: float) -> None:
        """The main case at ``position`` started; ``following``: the position of the main
        lane's next case (every main case before it has started)."""
        with self._gate:
            self._main_busy[position] = False
            self._main_next = max(self._main_next, following)
            self._gate.notify_all()

    def _main_waiting(self, position: int) -> None:
        """The case at ``position`` waits (``ctx.sleep``, or at the gate)."""
        with self._gate:
            if position in self._main_busy:
                self._main_busy[position] = True
            self._gate.notify_all()

    def _main_finished(self, position: int) -> None:
        with self._gate:
            self._main_busy.pop(position, None)
            self._gate.notify_all()

    def _lane_over(self, name: Lane) -> None:
        with self._gate:
            if name == "main":
                self._main_next = math.inf
            elif name == "jwks":
                self._jwks_left.clear()
            self._gate.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the lanes --------------------------------------------------------------------

    def _stopped(self) -> bool:
        if self._cancel.is_set() or self._halted():
            self.runtime.interrupted.set()  # the waits under way end (in an error) now
            return True
        return False

    def _run(self) -> None:
        try:
            by_lane: dict[Lane, list[Case]] = {"main": [], "jwks": [], "alone": [], "last": []}
            for case in self.cases:
                by_lane[lane(case)].append(case)
            # one JWKS lane per isolated environment (its share of the cases in turn), or
            # one gated lane in the environment under test
            isolated: Sequence[Runtime | None] = self.jwks_runtimes or [None]
            jwks = [
                threading.Thread(
                    target=self._lane,
                    args=(by_lane["jwks"][i :: len(isolated)], "jwks", runtime),
                    name=f"conformance-jwks-{i}",
                    daemon=True,
                )
                for i, runtime in enumerate(isolated)
            ]
            for thread in jwks:
                thread.start()
            try:
                self._lane(by_lane["main"], "main")
            finally:  # never done while a JWKS lane still runs a case (an item would too)
                for thread in jwks:
                    thread.join()
            self._lane(by_lane["alone"], "alone")
            self._lane(by_lane["last"], "last")
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _publish(self, results: Sequence[CaseResult]) -> None:
        with self._cond:
            for r in results:
                self._results[r.case.id] = r
            self._cond.notify_all()

    def _lane(self, cases: Sequence[Case], name: Lane, isolated: Runtime | None = None) -> None:
        """Run ``cases`` in order; in the main lane, a case that waits lets the next one
        start. Unconfirmed rejections are confirmed in groups. ``isolated``: the runtime
        of the isolated environment a JWKS lane runs in."""
        try:
            self._run_lane(cases, name, isolated)
        finally:
            self._lane_over(name)

    def _run_lane(self, cases: Sequence[Case], name: Lane, isolated: Runtime | None) -> None:
        finished: queue.Queue[CaseResult] = queue.Queue()
        group: list[CaseResult] = []
        opened = [0.0]  # when the group's first rejection arrived (self.clock)
        running: list[threading.Thread] = []

        def close(*, full: bool = False) -> None:
            if group and (full or self.clock() - opened[0] >= self.group_max_s):
                self._publish(confirm_group(self.runtime, group))
                group.clear()

        def take(result: CaseResult) -> None:
            if not result.unconfirmed:
                self._publish([result])
                return
            if not group:
                opened[0] = self.clock()
            group.append(result)
            close(full=len(group) >= self.group_max)

        def drain() -> None:
            while True:
                try:
                    take(finished.get_nowait())
                except queue.Empty:
                    close()  # a group that got old while no rejection came
                    return

        order = list(cases)
        index = 0
        while True:
            if index == len(order):
                # the main lane's cases put back while the JWKS lane ran run last
                again = self._put_back(running, drain) if name == "main" else None
                if again is None:
                    break
                order.append(again)
            case = order[index]
            index += 1
            if self._stopped():
                break
            if name == "main":
                self._main_may_start(self._position[case.id])
                following = self._position[order[index].id] if index < len(order) else math.inf
                running.append(self._start_case(case, finished, following))
            elif isolated is not None:  # a JWKS lane in an environment of its own
                if index == 1:
                    self._sign_in(isolated)
                # confirmed right after it, as below
                finished.put(run_case(isolated, case))
            elif name == "jwks":
                position = self._position[case.id]
                self._jwks_start(position)
                try:
                    # confirmed right after it, not in a group: the control is part of
                    # what the target's key cache sees between JWKS cases (measured: a
                    # grouped control changed a key case's verdict under a variant)
                    result = run_case(self.runtime, case)
                    if index == len(order) and not self._stopped():
                        result = self._leave_jwks_restored(result)
                    finished.put(result)
                finally:
                    self._jwks_end(position)
            else:
                finished.put(run_case(self.runtime, case, defer_control=True))
            drain()
        for thread in running:
            while thread.is_alive():  # a slow case: its group's time still counts
                thread.join(_POLL_S)
                drain()
        drain()
        if group and not self._stopped():
            self._publish(confirm_group(self.runtime, group))

    @staticmethod
    def _sign_in(runtime: Runtime) -> None:
        """Sign in to the isolated environment before its first JWKS case, as the
        baseline did to the environment under test: a case that breaks the key set
        first would otherwise find no session to be had (best effort: a case that
        still needs one signs in, and says so when it cannot)."""
        with contextlib.suppress(Exception):
            runtime.session(0)

    def _leave_jwks_restored(self, last: CaseResult) -> CaseResult:
        """After the JWKS lane's last case: make the target fetch the JWKS as published
        now (:func:`~conformance.catalog.authoring.restored`), so that the cases after the
        lane find its key cache as the plan began, not holding what the lane's last cases
        served (a key set that had a second key of an alg makes a token without kid
        ambiguous). Its exchanges are part of ``last``'s evidence and requests."""
        ctx = Context(self.runtime, last.case)
        # best effort: when it fails, the next cases run as they would have
        with contextlib.suppress(Exception):
            restored(ctx)
            # restored() had the target fetch a key of its own, then withdrew it: one
            # more fetch (a token with a kid it has not seen, refused), or the target
            # would hold that second key of the default alg, and refuse a correct token
            # without kid as ambiguous (keys.no_kid.single_candidate under ES384)
            after_refetch(ctx, lambda: signed(ctx, kid=unique_kid("settle")), label="JWKS settled")
        return replace(
            last,
            exchanges=(*last.exchanges, *ctx.exchanges),
            requests=last.requests + len(ctx.exchanges),
        )

    def _put_back(
        self, running: Sequence[threading.Thread], drain: Callable[[], None]
    ) -> Case | None:
        """The next case put back (:class:`_PutBack`), once one is; ``None`` when every
        case of the main lane has finished without one."""
        while True:
            try:
                case = self._put_back_cases.get_nowait()
            except queue.Empty:
                alive = [t for t in running if t.is_alive()]
                if not alive and self._put_back_cases.empty():
                    return None
                if alive:
                    alive[0].join(_POLL_S)
                drain()
                continue
            with self._gate:  # after every case planned, the JWKS lane's included
                self._position[case.id] = self._last_position = self._last_position + 1
            return case

    def _start_case(
        self, case: Case, finished: queue.Queue[CaseResult], following: float
    ) -> threading.Thread:
        """Start ``case`` on its own thread; return once it finished or began to wait.

        A request it is about to send while the JWKS lane runs waits for the lane, at most
        :data:`HOLD_S`; longer, the case stops and is put back: it runs again, whole,
        after the lane (a case put back waits as long as it takes)."""
        yielded = threading.Event()
        position = self._position[case.id]
        again = case.id in self._put_back_ids
        sent = [0]

        def waiting() -> None:
            self._main_waiting(position)
            yielded.set()

        def sending(token: str) -> float:
            held = self._may_send(position, hold=not again)
            if held is None:
                raise _PutBack
            sent[0] += 1
            return held

        def work() -> None:
            try:
                result = run_case(
                    self.runtime, case, defer_control=True, on_wait=waiting, on_send=sending
                )
                if again:  # what its first try sent counts too
                    result = replace(result, requests=result.requests + self._put_back_ids[case.id])
                finished.put(result)
            except _PutBack:
                self._put_back_ids[case.id] = sent[0]
                self._put_back_cases.put(case)
            finally:
                self._main_finished(position)
                yielded.set()

        self._main_started(position, following)
        thread = threading.Thread(target=work, name=f"case-{case.id}", daemon=True)
        thread.start()
        yielded.wait()
        return thread
