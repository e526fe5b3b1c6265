"""The engine: runs one case against a target, judges it, keeps its evidence.

``Runtime`` holds what a run shares (keyring, target, sessions, the measured clock,
facts, results); ``Context`` is what a case's recipe sees (``CaseContext``);
``run_case`` runs a recipe, judges the exchange it returns, confirms a rejection with a
positive control, and returns a :class:`CaseResult`.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Unpack

from ._assertion import Assertion
from ._hygiene import RefusalLog, public_parameters
from ._jose import SigningKey, split
from ._keyring import Keyring, private_jwk
from ._redact import remember_assertion, remember_target_secret, scrub
from ._reproduce import reproduce_line
from ._schema import Verdict
from ._settings import PropertySettings, TargetSettings
from ._verdict import (
    PASS,
    Judged,
    Judgement,
    Policy,
    confirm,
    describe,
    effective,
    judge,
    needs_control,
    outcome,
    settle,
)
from .catalog._model import Case, profile_key
from .targets.base import (
    TARGET_CAPABILITIES,
    Exchange,
    ExchangeRequest,
    RequestOptions,
    Session,
    Target,
    Unsendable,
)

#: A target ``Date`` further than this from the local clock is implausible: never trusted.
CLOCK_PLAUSIBLE_S = 86400.0
#: ``Date`` has a 1 s resolution, so it allows a span of offsets (see
#: ``Runtime._learn_clock``); a local clock within this of that span agrees with it.
CLOCK_SLACK_S = 0.5


def _number(value: Any) -> float | None:
    """A claim as a finite float, or ``None`` (not a number, a bool, huge, NaN)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


class Skip(Exception):
    """The case cannot run here (the reason is the message)."""


class Fail(AssertionError):
    """A recipe's own check failed (the message says what the target did)."""


class Erred(Exception):
    """The target misbehaved in a way that decides nothing (5xx, 429, no answer)."""


#: Why a target may lack a capability, when the run has no reason of its own to give.
NEED_HINTS: Mapping[str, str] = {
    "reports_subject": "an answer that names whom it was issued for (a profile's "
    "[classify] subject; Dynamic's step-up answer names none)",
}


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case's run: its final verdict (after the run's policy), the judgement it
    settled from, and the evidence."""

    case: Case
    verdict: Verdict  # pass | fail | warn | error | skip | waived (see _verdict)
    outcome: str  # accepted | rejected | error | judged | none
    message: str
    exchanges: tuple[Exchange, ...]
    duration_ms: float
    reproduce: str = ""
    waited_ms: float = 0.0  # deliberate waits (clock and cache boundaries) within duration
    judged: Judged = "pass"  # the judgement before strict/waivers
    waiver: Mapping[str, Any] | None = None  # what the report shows about a waiver
    #: requests this case caused: its own exchanges plus its share of a positive control
    #: shared by a group of rejections (1/n each), and of any re-check
    requests: float = 0.0
    #: a rejection that still waits for a positive control (``run_case(defer_control=
    #: True)``): its ``pass`` is not proved until :func:`confirm_group` sends one
    unconfirmed: bool = False

    def _repr_html_(self) -> str:
        from ._reprs import result_html  # lazy: only a notebook displaying a result needs it

        return result_html(self)


@dataclass(frozen=True, slots=True)
class IsolatedEnvironment:
    """A second environment of the target under test that only the JWKS cases use: the
    same keys, published by a JWKS host of its own (its own rotation, revocation,
    outages), so that what those cases do to a key set cannot reach the cases of the
    environment under test (the embedded emulator has one; see ``_schedule``)."""

    settings: TargetSettings
    keyring: Keyring
    target: Target
    jwks_host: Any


@dataclass
class Runtime:
    """What one run shares between cases (one per process; xdist workers have their own)."""

    settings: TargetSettings
    keyring: Keyring
    target: Target
    policy: Policy = field(default_factory=Policy)
    properties: PropertySettings = field(default_factory=PropertySettings)
    jwks_host: Any = None  # conformance._jwks_host.JwksHost when we serve the keys
    listener: Any = None  # the JwksHost that planted URLs point at (out-of-band checks)
    #: why a capability is missing, for the skip message (``attacker_host``: no listener)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    other_settings: TargetSettings | None = None  # a second environment, when there is one
    other_target: Target | None = None  # the same service, speaking for that environment
    clock_offset_s: float = 0.0
    #: the target is the run's own embedded emulator (its port closes with the run)
    embedded: bool = False
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: every clean refusal of the run, inspected as it is recorded (``_hygiene``)
    refusals: RefusalLog = field(default_factory=RefusalLog)
    _sessions: dict[tuple[int, str | None], Session] = field(default_factory=dict)
    _private: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock_lock: threading.Lock = field(default_factory=threading.Lock)
    _clock_known: bool = False
    #: set when the run stops (a halt, a deadline, -x): waits end at once
    interrupted: threading.Event = field(default_factory=threading.Event)
    #: where the JWKS cases may run beside the others (:meth:`for_jwks_cases`)
    isolated: tuple[IsolatedEnvironment, ...] = ()

    @property
    def capabilities(self) -> frozenset[str]:
        """What cases may use: the run's settings (keys served, bursts allowed, ...) and,
        of the target's optional calls, exactly those the target offers."""
        return (self.settings.capabilities - TARGET_CAPABILITIES) | self.target.capabilities

    def for_jwks_cases(self) -> list[Runtime]:
        """A runtime for each :attr:`isolated` environment: its settings, keys, target
        and JWKS host; the run's clock (as learnt so far), facts, refusals and stop
        shared with this one; its sessions its own (another environment's)."""
        return [
            replace(
                self,
                settings=iso.settings,
                keyring=iso.keyring,
                target=iso.target,
                jwks_host=iso.jwks_host,
                isolated=(),
                facts=self.facts,
                refusals=self.refusals,
                interrupted=self.interrupted,
                _sessions={},
                _private=self._private,
                _lock=self._lock,
                _clock_lock=self._clock_lock,
            )
            for iso in self.isolated
        ]

    def now(self) -> int:
        return int(time.time() + self.clock_offset_s)

    def private_members(self, key: SigningKey) -> list[str]:
        """The private JWK members of ``key`` (``d``, ``p``..., ``k``), computed once."""
        found = self._private.get(key.kid)
        if found is None:
            jwk = private_jwk(key)
            found = [str(jwk[m]) for m in ("d", "p", "q", "dp", "dq", "qi", "k") if m in jwk]
            self._private[key.kid] = found
        return found

    def observe(self, exchange: Exchange) -> None:
        """Learn the target's clock from the first answer that carries a ``Date``, unless
        that ``Date`` cannot be right (see :data:`CLOCK_PLAUSIBLE_S`): a garbage ``Date``,
        one more than a day off, or one that an acceptance of an assertion dated by the
        local clock contradicts leaves the local clock in use. Which clock is used, and
        why, is the ``clock_source`` fact. Cases run concurrently: the first answer wins."""
        if self._clock_known:
            return
        with self._clock_lock:
            if not self._clock_known:
                self._learn_clock(exchange)

    def _learn_clock(self, exchange: Exchange) -> None:
        if exchange.server_date is None:
            if exchange.response_headers.get("date"):
                self._use_clock(
                    0.0, "local", "the target's Date header is not a date: the local clock is used"
                )
            return
        # The Date names the target's second at some moment between sending and receiving:
        # the offset lies in [date - received, date + 1 - sent]. A slow first answer (a
        # loaded machine) widens that span; it must not read as a skewed target clock.
        received = time.time()
        sent = received
        if exchange.sent_at is not None and math.isfinite(exchange.latency_ms):
            sent = exchange.sent_at
            received = min(received, sent + max(exchange.latency_ms, 0.0) / 1000)
        low, high = exchange.server_date - received, exchange.server_date + 1 - sent
        offset = (low + high) / 2
        if not math.isfinite(offset) or abs(offset) > CLOCK_PLAUSIBLE_S:
            self._use_clock(
                0.0,
                "local",
                f"the target's Date is {offset:+.3g} s off the local clock, beyond ±1 day: "
                "implausible, not trusted; the local clock is used",
            )
            return
        if low - CLOCK_SLACK_S <= 0 <= high + CLOCK_SLACK_S:
            # Date has a 1 s resolution: an offset within it is no offset.
            self._use_clock(0.0, "local", "the target's Date agrees with the local clock")
            return
        window = self._local_window(exchange)
        if window is not None and abs(offset) > window:
            self._use_clock(
                0.0,
                "local",
                f"the target's Date is {offset:+.0f} s off the local clock, yet it accepted an "
                f"assertion dated by the local clock and valid {window:.0f} s (leeway "
                "included): the Date is wrong, the local clock is good enough",
            )
            return
        self._use_clock(offset, "date", "the target's Date header (a plausible offset)")

    def _use_clock(self, offset: float, source: str, why: str) -> None:
        self.clock_offset_s = offset
        self._clock_known = True
        self.fact("clock_offset_s", round(offset, 1), "target Date minus local clock, as used")
        self.fact("clock_source", source, why)

    def _local_window(self, exchange: Exchange) -> float | None:
        """How far the target's clock can be from the local one, given that it accepted
        ``exchange``'s assertion, when that assertion was dated by the local clock (its
        ``iat`` is the local now): its lifetime plus the leeway. ``None`` when the answer
        proves nothing about the clock."""
        if not exchange.accepted or not exchange.assertion:
            return None
        try:
            _, claims, _ = split(exchange.assertion)
        except (ValueError, RecursionError):
            return None
        iat = _number(claims.get("iat")) if isinstance(claims, dict) else None
        exp = _number(claims.get("exp")) if isinstance(claims, dict) else None
        if iat is None or exp is None:
            return None
        if abs(iat - time.time()) > 60 or exp <= iat:
            return None  # not dated by the local clock (a clock case, say)
        leeway = self.settings.leeway_s if self.settings.leeway_s is not None else 300
        return float(exp - iat) + float(leeway)

    def fact(self, name: str, value: Any, detail: str = "") -> None:
        with self._lock:
            self.facts[name] = {"value": value, "detail": scrub(detail, limit=300)}

    def session(
        self, index: int, *, environment: str | None = None, fresh: bool = False
    ) -> Session:
        subjects = self.settings.subjects
        if index >= len(subjects):
            raise Skip(f"needs {index + 1} subjects; configure more under target.subjects")
        key = (index, environment)
        if fresh and subjects[index] in self.target.supplied_subjects:
            raise Skip(
                f"the session of {subjects[index]!r} is supplied, not signed in: a fresh one "
                "cannot be made (and a supplied session is never logged out)"
            )
        with self._lock:
            cached = None if fresh else self._sessions.get(key)
        if cached is not None:
            return cached
        target = self.target if environment is None else self.other_target
        if target is None:
            raise Skip("no second environment configured")
        session = target.sign_in(subjects[index])
        if session is None:
            last = target.last_sign_in
            why = f": sign-in answered {describe(last)}" if last is not None else ""
            raise Skip(
                f"cannot obtain a session for subject {subjects[index]!r} on this target{why}"
            )
        # a bearer: never in any output, whatever echoes it (unless the target chose a
        # word for it: the Authorization header is still redacted where it is recorded)
        remember_target_secret(session.token)
        if not fresh:
            with self._lock:
                self._sessions[key] = session
        return session


class Context:
    """The ``CaseContext`` of one case run."""

    def __init__(self, runtime: Runtime, case: Case) -> None:
        self.runtime = runtime
        self.case = case
        self.keyring: Keyring = runtime.keyring
        self.target: Target = runtime.target
        self.settings: TargetSettings = runtime.settings
        self.properties: PropertySettings = runtime.properties
        self.refusals: RefusalLog = runtime.refusals
        self.exchanges: list[Exchange] = []
        self.waited_s = 0.0
        #: called once before this case's first deliberate wait (the scheduler then runs
        #: other cases while it waits: ``conformance._schedule``)
        self.on_wait: Callable[[], None] | None = None
        #: called with every token before it is sent (the scheduler keeps a token whose
        #: key lookup depends on what the JWKS serves away from JWKS-changing cases)
        self.on_send: Callable[[str], float] | None = None
        #: seconds the scheduler held this case back (not its own time: out of its duration)
        self.held_s = 0.0

    # -- keys, clock, assertions -------------------------------------------------------
    @property
    def key(self) -> SigningKey:
        return self.keyring.trusted(self.settings.default_alg)

    def now(self) -> int:
        return self.runtime.now()

    def assertion(
        self,
        *,
        subject: str | None = None,
        scope: str | None = None,
        settings: TargetSettings | None = None,
    ) -> Assertion:
        use = settings or self.settings
        now = self.now()
        claims: dict[str, Any] = {
            "iss": use.issuer,
            "sub": subject if subject is not None else use.subjects[0],
            "scope": scope if scope is not None else use.scopes[0],
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 120,
        }
        if scope is None and not use.scope_claim:
            # a contract without a scope claim: a server that refuses unknown claims must
            # take the valid assertion (a case that asks for a scope still gets one)
            del claims["scope"]
        if use.audience:
            claims["aud"] = use.audience
        return Assertion(**claims)

    def sign(
        self, assertion: Assertion, key: SigningKey | None = None, alg: str | None = None
    ) -> str:
        return assertion.signed_with(key or self.key, alg=alg)

    # -- sessions ----------------------------------------------------------------------
    def session(self, index: int = 0) -> Session:
        self.require("sessions")
        if index > 0:
            self.require("second_user")
        return self.runtime.session(index)

    def fresh_session(self, index: int = 0) -> Session:
        self.require("sessions")
        return self.runtime.session(index, fresh=True)

    def other_environment(self) -> TargetSettings:
        """The settings of the second environment (skips when there is none)."""
        self.require("second_environment")
        if self.runtime.other_settings is None:
            raise Skip("no second environment configured")
        return self.runtime.other_settings

    def session_in_other_environment(self, index: int = 0) -> Session:
        other = self.other_environment()
        return self.runtime.session(index, environment=other.environment_id)

    # -- sending -----------------------------------------------------------------------
    def _record(self, exchange: Exchange) -> Exchange:
        self.runtime.observe(exchange)
        self.exchanges.append(exchange)
        if exchange.rejected:
            public, private = self.key_material()
            self.runtime.refusals.observe(
                self.case.id, self.case.category, exchange, public=public, private=private
            )
        return exchange

    def key_material(self) -> tuple[list[str], list[str]]:
        """The default key's long public parameters (an echo is a fact) and its private
        members (an echo is a disclosure)."""
        try:
            key = self.key
        except Exception:  # no default key here: nothing to look for
            return [], []
        return public_parameters(key.public_jwk), self.runtime.private_members(key)

    def send(
        self,
        token: str,
        *,
        session: Session | None = None,
        label: str = "attempt",
        anonymous: bool = False,
        **options: Unpack[RequestOptions],
    ) -> Exchange:
        if session is None and not anonymous and "sessions" in self.runtime.capabilities:
            session = self.runtime.session(0)
        # every assertion's signature is a secret by value, however malformed the token
        remember_assertion(token)
        self._sending(token)
        request = ExchangeRequest.of(token, session=session, label=label, **options)
        return self._record(self.target.exchange(request))

    def _sending(self, token: str) -> None:
        if self.on_send is not None:
            self.held_s += self.on_send(token)

    def valid(self, *, label: str = "control") -> Exchange:
        return self.send(self.sign(self.assertion()), label=label)

    def race(
        self, token: str, copies: int, *, session: Session | None = None
    ) -> Sequence[Exchange]:
        self.require("bursts")
        self.require("races")
        use = session or self.session(0)
        remember_assertion(token)
        self._sending(token)
        sent = self.target.race(ExchangeRequest(token, session=use, label="race"), copies)
        return [self._record(replace(e, label=f"race-{i}")) for i, e in enumerate(sent)]

    def operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        self.require("sensitive_operation")
        return self._record(
            self.target.sensitive_operation(session, elevated_token, scope, label=label)
        )

    def logout(self, session: Session) -> Exchange:
        self.require("logout")
        if session.subject in self.target.supplied_subjects:
            raise Skip("a supplied session is never logged out: later cases need it")
        return self._record(self.target.logout(session))

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        self.require("step_up_check")
        return self._record(self.target.step_up_check(session, scope, label=label))

    def sign_in_exchange(self, jwt: str, *, label: str = "sign-in") -> Exchange:
        self.require("sign_in")
        remember_assertion(jwt)
        self._sending(jwt)
        return self._record(self.target.sign_in_exchange(ExchangeRequest(jwt, label=label)))

    def token_jwks(self) -> Mapping[str, Any] | None:
        self.require("token_jwks")
        return self.target.token_jwks()

    # -- judging -----------------------------------------------------------------------
    def require(self, capability: str) -> None:
        if capability not in self.runtime.capabilities:
            why = self.runtime.unavailable.get(capability)
            if why:
                raise Skip(f"needs {capability}: {why}")
            raise Skip(f"needs capability {capability!r}, which this target does not offer")

    def skip(self, reason: str) -> None:
        raise Skip(reason)

    def fail(self, message: str) -> None:
        raise Fail(message)

    def error(self, message: str) -> None:
        raise Erred(message)

    def refused(self, exchange: Exchange) -> bool:
        """True for a clean refusal (a complete 4xx other than 408/429/431), False for a
        complete 2xx (an operation answers without a token); anything else (no or a
        partial answer, 3xx, 5xx, 408/429/431) proves nothing either way: ``error``."""
        if exchange.rejected:
            return True
        if exchange.complete and 200 <= (exchange.status or 0) < 300:
            return False
        raise Erred(f"the target misbehaved: {describe(exchange)}")

    def accepted(self, exchange: Exchange) -> bool:
        """True for a clean acceptance (a complete 2xx with a usable token), False for a
        clean refusal; anything else (a 2xx without a usable token, no answer, 3xx, 5xx,
        408/429/431) proves nothing either way: the verdict is ``error``."""
        if exchange.accepted:
            return True
        if exchange.rejected:
            return False
        raise Erred(f"the target misbehaved: {describe(exchange)}")

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise Fail(message)

    def fact(self, name: str, value: Any, detail: str = "") -> None:
        self.runtime.fact(name, value, detail)

    def sleep(self, seconds: float) -> None:
        self.waited_s += seconds
        if self.on_wait is not None:  # each wait: a case may wait more than once
            self.on_wait()
        if self.runtime.interrupted.wait(seconds):  # a stopping run does not wait it out
            raise Erred("the run stopped during this case's wait: nothing is proved")

    @property
    def jwks_host(self) -> Any:
        self.require("jwks_host")
        if self.runtime.jwks_host is None:
            raise Skip("the suite does not serve this target's keys")
        return self.runtime.jwks_host

    @property
    def listener(self) -> Any:
        """The server planted URLs point at (skips when the target cannot reach one)."""
        self.require("attacker_host")
        if self.runtime.listener is None:
            raise Skip("no listener the target can reach was started")
        return self.runtime.listener


def target_profile(target: Target) -> str:
    """The key of the per-profile data that applies to ``target``: its profile, with its
    mode when it has one (``rfc7523/jwt_bearer``)."""
    mode = target.description.get("mode")
    return profile_key(target.profile, mode if isinstance(mode, str) else None)


#: A case's own acceptance proves its rejection only if sent this soon after it (the
#: scheduler's groups close as soon: ``_schedule.GROUP_MAX_S``); a later one is no
#: control "right after" the rejection, and the engine sends its own.
OWN_CONTROL_WITHIN_S = 5.0


def _accepted_after(exchanges: Sequence[Exchange], rejection: Exchange) -> bool:
    """Whether the case itself had an assertion accepted soon after ``rejection``
    (restoring the target's JWKS ends with one): that acceptance is the positive control
    already."""
    for index, exchange in enumerate(exchanges):
        if exchange is rejection:
            return any(
                later.accepted and _soon_after(later, rejection) for later in exchanges[index + 1 :]
            )
    return False


def _soon_after(later: Exchange, rejection: Exchange) -> bool:
    if later.sent_at is None or rejection.sent_at is None:
        return False
    return later.sent_at - rejection.sent_at <= OWN_CONTROL_WITHIN_S


def run_case(
    runtime: Runtime,
    case: Case,
    *,
    defer_control: bool = False,
    on_wait: Callable[[], None] | None = None,
    on_send: Callable[[str], float] | None = None,
) -> CaseResult:
    """Run ``case`` and decide its verdict under ``runtime.policy``. Never raises for what
    the target does.

    A passing rejection is confirmed by a positive control sent right after it; with
    ``defer_control`` it is returned ``unconfirmed`` instead, for :func:`confirm_group` to
    confirm with one control shared by a group of rejections. ``on_wait`` is called before
    each deliberate wait of the case (``ctx.sleep``), ``on_send`` with each token before
    it is sent (it returns how long it held the case back: not the case's own time)."""
    profile = target_profile(runtime.target)
    case = effective(case, profile, runtime.policy)
    ctx = Context(runtime, case)
    ctx.on_wait = on_wait
    ctx.on_send = on_send
    unconfirmed = False
    started = time.perf_counter()
    judgement, result_outcome = PASS, "none"
    try:
        missing = case.needs - runtime.capabilities
        if missing:
            hints = {**NEED_HINTS, **runtime.unavailable}
            why = "; ".join(f"{name}: {hints[name]}" for name in sorted(missing) if name in hints)
            raise Skip(
                f"needs {why}"
                if why and len(missing) == 1
                else f"needs {', '.join(sorted(missing))}, which this target does not offer"
                + (f" ({why})" if why else "")
            )
        not_here = case.skip_reason(profile)
        if not_here:
            raise Skip(not_here)
        returned = case.run(ctx)
        if returned is not None:
            result_outcome = outcome(returned)
            judgement = judge(case, profile, returned)
        elif ctx.exchanges:
            # a self-judged case (several exchanges, its own checks): its outcome is its
            # judgement, not the status of whichever exchange came last
            result_outcome = "judged"
        last = returned if returned is not None else ctx.exchanges[-1] if ctx.exchanges else None
        if (
            last is not None
            and needs_control(case, judgement, last)
            and not _accepted_after(ctx.exchanges, last)
        ):
            if defer_control:
                unconfirmed = True
            else:
                judgement = confirm(ctx.valid(label="control"))
    except (Skip, Unsendable) as exc:
        judgement = Judgement("skip", str(exc))
    except Fail as exc:
        judgement = Judgement("fail", str(exc))
    except Erred as exc:
        judgement = Judgement("error", str(exc))
    except Exception as exc:  # a broken recipe or library: an error, with the reason
        judgement = Judgement("error", f"the case could not run: {type(exc).__name__}: {exc}")
    if result_outcome == "none" and ctx.exchanges:
        # the case sent something, then decided by its own checks (a listener that saw a
        # fetch, a disclosure in a body): "none" says nothing was sent
        result_outcome = "judged"
    duration_ms = (time.perf_counter() - started - ctx.held_s) * 1000
    settled = settle(case, judgement.verdict, runtime.policy, today=dt.date.today())
    return CaseResult(
        case=case,
        verdict=settled.verdict,
        judged=judgement.verdict,
        waiver=settled.waiver,
        outcome=result_outcome,
        message=scrub(judgement.message, limit=2000),
        exchanges=tuple(ctx.exchanges),
        duration_ms=duration_ms,
        reproduce=reproduce_line(ctx.exchanges, case_id=case.id, embedded=runtime.embedded),
        waited_ms=ctx.waited_s * 1000,
        requests=float(len(ctx.exchanges)),
        unconfirmed=unconfirmed and judgement.verdict == "pass",
    )


def confirm_group(runtime: Runtime, group: Sequence[CaseResult]) -> list[CaseResult]:
    """Confirm the unconfirmed rejections of ``group`` (in the order they were answered)
    with ONE positive control sent after the last of them: when it is accepted, every
    rejection of the group counts, each result carrying the control in its evidence and
    ``1/n`` of its request. When it is not, the target may have started refusing
    everything somewhere in the group: each case is run again on its own, with its own
    control right after its rejection (:func:`run_case`), and that run decides."""
    if not group:
        return []
    ctx = Context(runtime, group[0].case)
    try:
        control: Exchange | None = ctx.valid(label="control")
    except Exception:  # no session, a broken library: the control proves nothing
        control = None
    share = 1.0 / len(group)
    if control is not None and confirm(control).verdict == "pass":
        return [
            replace(
                r,
                exchanges=(*r.exchanges, control),
                requests=r.requests + share,
                unconfirmed=False,
            )
            for r in group
        ]
    checked = []
    for first in group:
        again = run_case(runtime, first.case)
        answered = describe(control) if control is not None else "not sent"
        note = (
            "re-checked on its own: the positive control shared by its group of rejections "
            f"was not accepted ({answered})"
        )
        message = f"{again.message} ({note})" if again.message else ""
        shared = (control,) if control is not None else ()
        checked.append(
            replace(
                again,
                message=scrub(message, limit=2000) if message else again.message,
                exchanges=(*first.exchanges, *shared, *again.exchanges),
                requests=first.requests + share + again.requests,
                duration_ms=first.duration_ms + again.duration_ms,
                waited_ms=first.waited_ms + again.waited_ms,
            )
        )
    return checked


def failure_message(result: CaseResult, *, rerun: str = "") -> str:
    """The one-screen failure text (JUnit, terminal, report)."""
    case = result.case
    lines = [
        f"[{case.id}] {case.title} ({case.level.value}, {case.severity.value})",
        f"A correct endpoint: {case.correct}",
        f"This endpoint:      {result.message}",
        f"Why it matters:     {case.rationale}",
    ]
    if case.references:
        lines.append(f"References:         {'; '.join(case.references)}")
    if result.reproduce:
        lines.append(f"Reproduce:          {result.reproduce}")
    if rerun:
        lines.append(f"                    {rerun}")
    # scrubbed again: a secret learned after the case's evidence was made is cut here too
    return scrub("\n".join(lines), limit=8000)
