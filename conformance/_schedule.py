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
  they run one at a time, beside the main lane.
* ``alone``: cases that burst or race the target (its rate limit, its jti store). They
  run after the two lanes above, with nothing else in flight. A JWKS case that counts the
  target's events in a window of time (:data:`ALONE_IDS`) runs alone in its place: the
  main lane pauses.
* ``last``: cases that judge what every other case of the process recorded (the error
  hygiene cases judge the run's refusals, :data:`JUDGES_RUN`). They run after everything
  else has finished, so no refusal of a waiting case or of the alone lane escapes them.

The two first lanes meet at a gate that keeps one order wherever the JWKS matters: the
scheduler's own (:func:`execution_order`), in which the JWKS lane's cases come first and
the main-lane cases that depend on the JWKS last. A main-lane case whose token's key
lookup depends on what the JWKS serves (:func:`depends_on_jwks`: no kid, a kid that is
not one of the trusted keys, a ``jku``/``x5u``/``jwk``/``x5c`` header, a token that does
not decode) never sends it while a JWKS case ordered before it has yet to finish, and no
JWKS case runs while it does: the cases listed in :data:`JWKS_DEPENDENT` wait at the gate
before they build anything; any other is stopped before that send and runs again, whole,
after the JWKS lane (never holding a token built long before). When the lane is over it
leaves the target holding the JWKS as published. So every such case sees one key set, the
same in every run and under ``-n``, never a key set changing under it.

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
import json
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from ._ast_lock import install as install_ast_lock
from ._engine import CaseResult, Context, Runtime, confirm_group, run_case
from ._jose import b64url_decode
from .catalog._model import Case
from .catalog.authoring import restored

Lane = Literal["main", "jwks", "alone", "last"]

#: needs of a case that bursts or races the target: it runs with nothing else in flight
ALONE_NEEDS = frozenset({"bursts", "races"})
#: JWKS cases that count the target's events in a window of time (the random-kid flood
#: counts JWKS fetches during its 20 sends): slower sends beside other cases would change
#: the count, so the main lane pauses while one runs, in its place in the plan (its
#: refetches also refresh the target's cache for the key cases after it)
ALONE_IDS = frozenset({"keys.random_kid_flood"})
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
#: cases that read the published keys while they build their tokens (the property cases
#: draw kids and algs from them): behind the gate from their start
READS_KEYS = ("*.property.*",)
#: main-lane cases held at the gate while the next ones start; one more holds the lane
#: (when the gate opens, these send at once: a small burst at most)
HELD_MAX = 4
#: header parameters that make a target fetch or trust a key named by the token
_KEY_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c"})
#: main-lane cases that wait long on purpose (past an exp plus its margin): they start
#: first, so that their waits overlap everything else
WAITS_FIRST = ("time.replay.after_exp",)
#: main-lane cases whose tokens mostly depend on what the JWKS serves (key-carrying and
#: injected headers, undecodable tokens) or that read the published keys: they run after
#: the other main cases, by when the JWKS lane is over, instead of holding the gate
#: while it runs. A misplaced case costs time (it waits at the gate), never a verdict.
JWKS_DEPENDENT = ("header.*", "encoding.*", "errors.*", "keys.*", *READS_KEYS)


def _matches(case: Case, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(case.id, glob) for glob in globs)


def execution_order(cases: Sequence[Case]) -> list[Case]:
    """The order the scheduler starts ``cases`` in (pytest still reports them in theirs).

    The JWKS lane's cases are one chain of waits for the target's refetch interval, the
    longest of the run: they come first, right after the long main-lane waits, so the
    chain starts at once and the main lane runs beside it. The main cases whose key
    lookup depends on the JWKS come last, after the JWKS lane in the order the gate keeps
    (:meth:`Scheduler._enter_gate`): the order is the plan's order for the gate, so every
    such case sees the key set after every JWKS case, in every run, as under ``-n``.
    Within each part the plan's order is kept.
    """
    first, jwks, rest, after = [], [], [], []
    for case in cases:
        name = lane(case)
        if name == "jwks":
            jwks.append(case)
        elif name != "main":
            rest.append(case)  # their own lanes run after these two: any place will do
        elif _matches(case, WAITS_FIRST):
            first.append(case)
        elif _matches(case, JWKS_DEPENDENT):
            after.append(case)
        else:
            rest.append(case)
    return [*first, *jwks, *rest, *after]


def lane(case: Case) -> Lane:
    """Which lane ``case`` runs in (see the module doc)."""
    if _matches(case, JUDGES_RUN):
        return "last"
    if case.needs & ALONE_NEEDS:
        return "alone"
    if case.needs & JWKS_NEEDS:
        return "jwks"
    return "main"


def depends_on_jwks(token: str, stable_kids: frozenset[str]) -> bool:
    """Whether the target's key lookup for ``token`` may depend on what the JWKS serves
    beyond the trusted keys: anything but a decodable header naming one of
    ``stable_kids`` and no key-carrying parameter."""
    try:
        header = json.loads(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, RecursionError):
        return True
    if not isinstance(header, dict) or header.keys() & _KEY_HEADERS:
        return True
    kid = header.get("kid")
    return not isinstance(kid, str) or kid not in stable_kids


def _stable_kids(runtime: Runtime) -> frozenset[str]:
    """The kids of the trusted keys, which no case revokes."""
    keyring = runtime.keyring
    try:
        return frozenset(keyring.trusted(alg).kid for alg in keyring.trusted_algs)
    except Exception:  # a keyring without them: every token goes through the gate
        return frozenset()


class _PutBack(BaseException):
    """Raised (from the send hook) in a main-lane case that would have to wait at the gate
    mid-case: the case stops and runs again after the JWKS lane. A ``BaseException``, so
    that no recipe's ``except Exception`` takes it for the target's doing."""


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
        # the gate between the main and the JWKS lane (positions are plan indices)
        self._gate = threading.Condition()
        self._position = {c.id: i for i, c in enumerate(self.cases)}
        self._jwks_left = [i for i, c in enumerate(self.cases) if lane(c) == "jwks"]
        self._jwks_running = False
        self._main_next = 0.0  # every main-lane case before this position has started
        self._main_busy: dict[int, bool] = {}  # in-flight main case -> it is waiting
        self._behind_gate: set[int] = set()  # main cases past the gate, still running
        self._at_gate: set[int] = set()  # main cases waiting at the gate
        self._main_paused = math.inf  # where a JWKS case runs alone (ALONE_IDS)
        self._stable = _stable_kids(runtime)
        #: main cases stopped before a send that had to wait at the gate (:class:`_PutBack`):
        #: id -> the requests their first try sent; and the queue they wait in
        self._put_back_ids: dict[str, int] = {}
        self._put_back_cases: queue.Queue[Case] = queue.Queue()
        self._last_position = len(self.cases)

    def start(self) -> Scheduler:
        install_ast_lock()  # cases on threads: one ast.parse at a time (see _ast_lock)
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

    def _enter_gate(
        self, position: int, blocked: Callable[[], None], *, wait: bool = True
    ) -> float | None:
        """A main-lane case at ``position`` is about to depend on the JWKS; ``blocked`` is
        called when it has to wait for the JWKS lane and fewer than :data:`HELD_MAX`
        others wait there (the next cases start meanwhile). Returns how long it waited;
        ``None``, without waiting, when it would have to and ``wait`` is false."""

        def open_() -> bool:
            return self._cancel.is_set() or (
                self._jwks_next() > position and not self._jwks_running
            )

        started = time.perf_counter()
        with self._gate:
            if position in self._behind_gate:
                return 0.0
            if not open_():
                if not wait:
                    return None
                if len(self._at_gate) < HELD_MAX:
                    blocked()  # else it holds the lane: no more than HELD_MAX wait here
                self._at_gate.add(position)
                self._gate.wait_for(open_)
                self._at_gate.discard(position)
            self._behind_gate.add(position)
        return time.perf_counter() - started

    def _jwks_start(self, position: int, *, alone: bool = False) -> None:
        """Wait until the JWKS case at ``position`` may start; ``alone``: pause the main
        lane and wait until every main case in flight waits (a sleep, the gate)."""
        with self._gate:
            if alone:
                self._main_paused = position
            self._gate.wait_for(
                lambda: (
                    self._cancel.is_set()
                    or (
                        self._main_next > position
                        and not self._behind_gate
                        and not any(p < position for p in self._at_gate)
                        and all(waiting for p, waiting in self._main_busy.items() if p < position)
                        and (
                            not alone
                            or all(
                                waiting or p in self._at_gate
                                for p, waiting in self._main_busy.items()
                            )
                        )
                    )
                )
            )
            self._jwks_running = True

    def _main_may_start(self, position: int) -> None:
        """Wait while a JWKS case planned before ``position`` runs alone."""
        with self._gate:
            self._gate.wait_for(lambda: self._cancel.is_set() or not position > self._main_paused)

    def _jwks_end(self, position: int) -> None:
        with self._gate:
            self._jwks_running = False
            self._main_paused = math.inf
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
            self._behind_gate.discard(position)
            self._at_gate.discard(position)
            self._gate.notify_all()

    def _lane_over(self, name: Lane) -> None:
        with self._gate:
            if name == "main":
                self._main_next = math.inf
            elif name == "jwks":
                self._jwks_left.clear()
                self._jwks_running = False
                self._main_paused = math.inf
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
            jwks = threading.Thread(
                target=self._lane, args=(by_lane["jwks"], "jwks"), name="conformance-jwks"
            )
            jwks.daemon = True
            jwks.start()
            try:
                self._lane(by_lane["main"], "main")
            finally:  # never done while the JWKS lane still runs a case (an item would too)
                jwks.join()
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

    def _lane(self, cases: Sequence[Case], name: Lane) -> None:
        """Run ``cases`` in order; in the main lane, a case that waits lets the next one
        start. Unconfirmed rejections are confirmed in groups."""
        try:
            self._run_lane(cases, name)
        finally:
            self._lane_over(name)

    def _run_lane(self, cases: Sequence[Case], name: Lane) -> None:
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
        positions = [self._position[c.id] for c in cases]
        index = 0
        while True:
            if index == len(order):
                # the main lane's cases put back while the JWKS lane ran run last
                again = self._put_back(running, drain) if name == "main" else None
                if again is None:
                    break
                order.append(again)
                positions.append(self._position[again.id])
            case = order[index]
            index += 1
            if self._stopped():
                break
            if name == "main":
                self._main_may_start(positions[index - 1])
                following = positions[index] if index < len(order) else math.inf
                running.append(self._start_case(case, finished, following))
            elif name == "jwks":
                position = self._position[case.id]
                self._jwks_start(position, alone=case.id in ALONE_IDS)
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

        A case that depends on the JWKS from its start (:data:`JWKS_DEPENDENT`) waits at
        the gate before it builds anything. Any other case that is about to send a
        token whose key lookup depends on the JWKS (:func:`depends_on_jwks`) while a
        JWKS case planned before it has yet to finish is stopped and put back: it runs
        again, whole, after the JWKS lane. Holding it at the gate instead would send a
        token built long before (a JWKS lane against a target that refetches once a
        minute takes half an hour: the token would be expired, its refusal proving
        nothing)."""
        yielded = threading.Event()
        position = self._position[case.id]
        put_back = case.id not in self._put_back_ids and not _matches(case, JWKS_DEPENDENT)
        sent = [0]

        def waiting() -> None:
            self._main_waiting(position)
            yielded.set()

        def sending(token: str) -> float:
            held = 0.0
            if depends_on_jwks(token, self._stable):
                entered = self._enter_gate(position, waiting, wait=not put_back)
                if entered is None:
                    raise _PutBack
                held = entered
            sent[0] += 1
            return held

        def work() -> None:
            try:
                if not put_back:
                    self._enter_gate(position, waiting)
                result = run_case(
                    self.runtime, case, defer_control=True, on_wait=waiting, on_send=sending
                )
                if case.id in self._put_back_ids:  # what its first try sent counts too
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
