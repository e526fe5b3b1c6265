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

The two first lanes meet at a gate that keeps the plan's order wherever the JWKS
matters: a main-lane case whose token's key lookup depends on what the JWKS serves
(:func:`depends_on_jwks`: no kid, a kid that is not one of the trusted keys, a
``jku``/``x5u``/``jwk``/``x5c`` header, a token that does not decode), and a property
case (it draws from the published keys), waits before that send until every JWKS case
planned before it has finished, and no JWKS case runs while it does; a JWKS case starts
only when every main-lane case planned before it has finished or is waiting. So such a
case sees the keys it would have seen in plan order, never a key set changing under it.

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

import fnmatch
import json
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal

from ._engine import CaseResult, Runtime, confirm_group, run_case
from ._jose import b64url_decode
from .catalog._model import Case

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
#: rejections confirmed by one positive control (a refused control re-checks them all)
GROUP_MAX = 24
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


def lane(case: Case) -> Lane:
    """Which lane ``case`` runs in (see the module doc)."""
    if any(fnmatch.fnmatchcase(case.id, glob) for glob in JUDGES_RUN):
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
        self.cases = list(cases)
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
        """Start no further case; the waits of those under way end at once (the run is
        stopping: what they decide now is not used)."""
        self._cancel.set()
        self.runtime.interrupted.set()
        with self._gate:
            self._gate.notify_all()

    # -- the gate ---------------------------------------------------------------------

    def _jwks_next(self) -> float:
        return self._jwks_left[0] if self._jwks_left else math.inf

    def _enter_gate(self, position: int, blocked: Callable[[], None]) -> float:
        """A main-lane case at ``position`` is about to depend on the JWKS; ``blocked`` is
        called when it has to wait for the JWKS lane and fewer than :data:`HELD_MAX`
        others wait there (the next cases start meanwhile). Returns how long it waited."""

        def open_() -> bool:
            return self._cancel.is_set() or (
                self._jwks_next() > position and not self._jwks_running
            )

        started = time.perf_counter()
        with self._gate:
            if position in self._behind_gate:
                return 0.0
            if not open_():
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
            self._lane(by_lane["main"], "main")
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

        positions = [self._position[c.id] for c in cases]
        for index, case in enumerate(cases):
            if self._stopped():
                break
            if name == "main":
                self._main_may_start(positions[index])
                following = positions[index + 1] if index + 1 < len(cases) else math.inf
                running.append(self._start_case(case, finished, following))
            elif name == "jwks":
                position = self._position[case.id]
                self._jwks_start(position, alone=case.id in ALONE_IDS)
                try:
                    # confirmed right after it, not in a group: the control is part of
                    # what the target's key cache sees between JWKS cases (measured: a
                    # grouped control changed a key case's verdict under a variant)
                    finished.put(run_case(self.runtime, case))
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

    def _start_case(
        self, case: Case, finished: queue.Queue[CaseResult], following: float
    ) -> threading.Thread:
        """Start ``case`` on its own thread; return once it finished or began to wait."""
        yielded = threading.Event()
        position = self._position[case.id]

        def waiting() -> None:
            self._main_waiting(position)
            yielded.set()

        def sending(token: str) -> float:
            if depends_on_jwks(token, self._stable):
                return self._enter_gate(position, waiting)
            return 0.0

        def work() -> None:
            try:
                if any(fnmatch.fnmatchcase(case.id, glob) for glob in READS_KEYS):
                    self._enter_gate(position, waiting)
                finished.put(
                    run_case(
                        self.runtime,
                        case,
                        defer_control=True,
                        on_wait=waiting,
                        on_send=sending,
                    )
                )
            finally:
                self._main_finished(position)
                yielded.set()

        self._main_started(position, following)
        thread = threading.Thread(target=work, name=f"case-{case.id}", daemon=True)
        thread.start()
        yielded.wait()
        return thread
