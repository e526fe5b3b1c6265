"""The case model: one catalogued condition, as data plus a small build function.

READ docs/writing-cases.md FIRST: how to write a case, ids, levels, coverage, the flaw
matrix, and how to run cases against the emulator.

A case's ``run`` receives a :class:`CaseContext` and either returns the :class:`Exchange`
to judge against ``expect`` (the common shape), or judges itself with ``ctx.fail`` /
``ctx.check`` / ``ctx.skip`` and returns ``None``.

Judging a returned exchange (see ``conformance._engine``):

* ``reject``: a 4xx is a pass (confirmed by a positive control), a token is a fail, no
  answer or a 5xx is an error;
* ``accept``: a token is a pass, a 4xx a fail, no answer or a 5xx an error;
* ``either``: a token or a 4xx is a pass (the outcome is recorded), else an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, Unpack

from ..targets.base import TARGET_CAPABILITIES, RequestOptions

if TYPE_CHECKING:
    from .._assertion import Assertion
    from .._jose import SigningKey
    from .._keyring import Keyring
    from ..targets.base import Exchange, Session, Target

_T = TypeVar("_T")


class Expect(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    EITHER = "either"


class Level(StrEnum):
    MUST = "must"  # the documented contract or an RFC MUST: a failure fails the run
    SHOULD = "should"  # hardening from the JWT BCP: a failure is a warning unless --strict


class Kind(StrEnum):
    """What a failure of the case means (docs/levels.md)."""

    #: the target accepted what it must refuse: an attacker gains a token
    SECURITY = "security"
    #: the target refused what it should accept: stricter than needed, never a security
    #: failure; it fails the run only under --strict
    INTEROP = "interop"


class Severity(StrEnum):
    CRITICAL = "critical"  # a token for someone else / without a valid signature
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


#: The categories, in report order.
CATEGORIES = (
    "envelope",
    "claims",
    "time",
    "algorithms",
    "signature",
    "keys",
    "header",
    "replay",
    "subject",
    "scope",
    "encoding",
    "issued",
    "errors",
)

#: Capabilities a case may need; a target lacking one skips the case with the reason.
CAPABILITIES = frozenset(
    {
        "sessions",  # the target has sessions (sign-in or supplied tokens)
        "second_user",  # two distinct signed-in users
        "sensitive_operation",  # issued tokens can be used on a guarded operation
        "jwks_host",  # our JWKS host serves the trusted keys (rotation, revocation)
        "attacker_host",  # the target can reach our attacker URLs (jku/x5u cases)
        "bursts",  # concurrent bursts are allowed for this target
        "audience",  # an audience is configured
        "second_environment",  # a second environment with its own issuer and keys
        "hmac_trusted",  # the target is configured with a shared HMAC secret
    }
    | TARGET_CAPABILITIES  # the target's optional calls (sign-in, logout, races, ...)
)


class CaseContext(Protocol):
    """What a recipe may use. Implemented by ``conformance._engine.Context``."""

    keyring: Keyring
    target: Target
    settings: Any  # conformance._settings.TargetSettings: issuer, audience, scopes, subjects
    properties: Any  # conformance._settings.PropertySettings: examples and seed of a run
    refusals: Any  # conformance._hygiene.RefusalLog: the run's refusals, inspected as recorded

    @property
    def key(self) -> SigningKey:
        """The default trusted signing key (published in the JWKS)."""
        ...

    def key_material(self) -> tuple[list[str], list[str]]:
        """The default key's long public parameters (an echo of them is public: a fact)
        and its private members (an echo of them is a disclosure)."""
        ...

    def now(self) -> int:
        """The target's clock in Unix seconds (local clock corrected by its Date header)."""
        ...

    def assertion(self, *, subject: str | None = None, scope: str | None = None) -> Assertion:
        """A valid assertion: fresh ``jti``, ``iat=now``, ``exp=now+120``, ``iss``, ``aud``
        (when configured), ``sub`` (user A unless given) and ``scope`` (the first
        configured scope unless given)."""
        ...

    def sign(
        self, assertion: Assertion, key: SigningKey | None = None, alg: str | None = None
    ) -> str:
        """Sign ``assertion`` with ``key`` (default :attr:`key`); header alg/kid from the key."""
        ...

    def session(self, index: int = 0) -> Session:
        """Signed-in user ``index`` (0 = A, 1 = B), made once per run; skips if impossible."""
        ...

    def fresh_session(self, index: int = 0) -> Session:
        """A new session for user ``index`` (not cached)."""
        ...

    def send(
        self,
        token: str,
        *,
        session: Session | None = None,
        label: str = "attempt",
        anonymous: bool = False,
        **options: Unpack[RequestOptions],
    ) -> Exchange:
        """Exchange ``token`` (with user A's session unless given or ``anonymous``) and
        record the evidence; ``options`` change the request (a raw body, headers, the
        environment in the path, body fields: see ``RequestOptions``)."""
        ...

    def sign_in_exchange(self, jwt: str, *, label: str = "sign-in") -> Exchange:
        """Send ``jwt`` to the target's sign-in call as it is (skips if unsupported)."""
        ...

    def other_environment(self) -> Any:
        """The ``TargetSettings`` of the second environment (skips when there is none)."""
        ...

    def session_in_other_environment(self, index: int = 0) -> Session:
        """User ``index`` signed in to the second environment."""
        ...

    def logout(self, session: Session) -> Exchange:
        """End ``session`` at the target (skips if unsupported)."""
        ...

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        """Ask the target whether ``scope`` still needs a step-up in ``session``
        (Dynamic's ``stepUp/check``; skips on a target without the call)."""
        ...

    def token_jwks(self) -> Mapping[str, Any] | None:
        """The keys the target signs issued tokens with, or ``None`` when it does not
        publish them (skips on a target without the call)."""
        ...

    def valid(self, *, label: str = "control") -> Exchange:
        """Send a fresh valid assertion (a positive control) and record it."""
        ...

    def race(
        self, token: str, copies: int, *, session: Session | None = None
    ) -> Sequence[Exchange]:
        """Send ``copies`` identical requests at once, each on its own connection."""
        ...

    def operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        """Use an issued token on the operation guarded by ``scope``; skips if unsupported."""
        ...

    def require(self, capability: str) -> None:
        """Skip the case unless the target has ``capability``."""
        ...

    def skip(self, reason: str) -> None: ...

    def fail(self, message: str) -> None: ...

    def error(self, message: str) -> None:
        """The target misbehaved in a way that decides nothing: the verdict is ``error``."""
        ...

    def refused(self, exchange: Exchange) -> bool:
        """True for a clean refusal (a complete 4xx other than 408/429/431), False for a
        complete 2xx; anything else (no or a partial answer, 3xx, 5xx, 408/429/431) makes
        the verdict ``error`` (it proves neither)."""
        ...

    def accepted(self, exchange: Exchange) -> bool:
        """True for a clean acceptance (a complete 2xx with a usable token), False for a
        clean refusal; anything else (a 2xx without a usable token included) makes the
        verdict ``error``."""
        ...

    def check(self, condition: bool, message: str) -> None:
        """Fail with ``message`` unless ``condition``."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait on purpose (a clock or cache boundary); the time is reported apart from
        execution, so benchmarks can tell deliberate waits from slowness."""
        ...

    def fact(self, name: str, value: Any, detail: str = "") -> None:
        """Record a measured fact about the target (clock tolerance, token lifetime...)."""
        ...

    @property
    def jwks_host(self) -> Any:
        """The running ``JwksHost`` (skips unless the target uses it)."""
        ...

    @property
    def listener(self) -> Any:
        """The server planted URLs point at (a ``JwksHost``; skips when the target cannot
        reach one)."""
        ...


#: A case's ``run``: returns the exchange to judge, or ``None`` when it judged itself.
Recipe = Callable[[CaseContext], "Exchange | None"]
#: A ``claims_case`` mutation: the fresh valid assertion in, the changed one out.
Mutation = Callable[["Assertion", CaseContext], "Assertion"]
#: A ``token_case`` builder: the exact string to send as the assertion.
Build = Callable[[CaseContext], str]
#: ``profiles=DYNAMIC``: a case about Dynamic's contract only (sessions, scopes...).
DYNAMIC: tuple[str, ...] = ("dynamic",)


@dataclass(frozen=True, slots=True)
class Case:
    """One catalogued condition. ``id`` is stable forever once released."""

    id: str
    title: str
    category: str
    expect: Expect
    level: Level
    severity: Severity
    rationale: str
    correct: str  # one line: what a correct endpoint does
    run: Recipe = field(repr=False, compare=False)
    references: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()  # threat-catalog row ids (A01, D04, ...)
    needs: frozenset[str] = frozenset()
    profiles: frozenset[str] = frozenset({"dynamic", "rfc7523"})
    expect_by_profile: Mapping[str, Expect] = field(default_factory=dict)
    #: the case sends a positive control after a rejection (off for cases that judge themselves)
    control: bool = True
    kind: Kind = Kind.SECURITY
    #: per-profile levels and skip reasons (``catalog/profiles.py``); keys are a profile
    #: (``rfc7523``) or a profile and its mode (``rfc7523/jwt_bearer``)
    level_by_profile: Mapping[str, Level] = field(default_factory=dict)
    skip_by_profile: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.id}: unknown category {self.category!r}")
        unknown = self.needs - CAPABILITIES
        if unknown:
            raise ValueError(f"{self.id}: unknown capabilities {sorted(unknown)}")

    def expectation(self, profile: str) -> Expect:
        """The expectation under ``profile`` (``dynamic``, ``rfc7523``, ``rfc7523/jwt_bearer``:
        a mode's entry wins over its profile's, which wins over the case's own)."""
        return _by_profile(self.expect_by_profile, profile, self.expect)

    def level_for(self, profile: str) -> Level:
        """The level under ``profile`` (same lookup as :meth:`expectation`)."""
        return _by_profile(self.level_by_profile, profile, self.level)

    def skip_reason(self, profile: str) -> str | None:
        """Why the case does not apply under ``profile``, or ``None`` when it does."""
        return _by_profile(self.skip_by_profile, profile, None)

    def _repr_html_(self) -> str:
        from .._reprs import case_html  # lazy: only a notebook displaying a case needs it

        return case_html(self)


def profile_key(profile: str, mode: str | None = None) -> str:
    """The key of per-profile data for a target: ``rfc7523/jwt_bearer``, or ``dynamic``."""
    return f"{profile}/{mode}" if mode else profile


def _by_profile(table: Mapping[str, _T], profile: str, default: _T) -> _T:
    if profile in table:
        return table[profile]
    base = profile.split("/", 1)[0]
    return table.get(base, default)


def case(
    id: str,
    title: str,
    *,
    category: str,
    run: Recipe,
    rationale: str,
    correct: str | None = None,
    expect: Expect = Expect.REJECT,
    level: Level = Level.MUST,
    severity: Severity = Severity.HIGH,
    references: Sequence[str] = (),
    anchors: Sequence[str] = (),
    needs: Sequence[str] = (),
    profiles: Sequence[str] = ("dynamic", "rfc7523"),
    expect_by_profile: Mapping[str, Expect] | None = None,
    control: bool = True,
    kind: Kind | None = None,
) -> Case:
    """Build a :class:`Case` with defaults (reject, must, high). ``kind`` defaults to
    ``interop`` for a case that expects an acceptance, else ``security``."""
    if correct is None:
        correct = {
            Expect.REJECT: "refuses it with a 4xx and issues no token",
            Expect.ACCEPT: "accepts it and issues a token",
            Expect.EITHER: "either refuses it with a 4xx or accepts it; never errs",
        }[expect]
    return Case(
        id=id,
        title=title,
        category=category,
        expect=expect,
        level=level,
        severity=severity,
        rationale=rationale,
        correct=correct,
        run=run,
        references=tuple(references),
        anchors=tuple(anchors),
        needs=frozenset(needs),
        profiles=frozenset(profiles),
        expect_by_profile=dict(expect_by_profile or {}),
        control=control,
        kind=kind or (Kind.INTEROP if expect is Expect.ACCEPT else Kind.SECURITY),
    )


def claims_case(
    id: str,
    title: str,
    *,
    mutate: Mutation,
    category: str = "claims",
    **kwargs: Any,
) -> Case:
    """A case that signs a valid assertion after ``mutate`` changed its claims or header."""

    def run(ctx: CaseContext) -> Exchange:
        return ctx.send(ctx.sign(mutate(ctx.assertion(), ctx)))

    return case(id, title, category=category, run=run, **kwargs)


def token_case(id: str, title: str, *, build: Build, category: str, **kwargs: Any) -> Case:
    """A case that sends whatever string ``build`` forges."""

    def run(ctx: CaseContext) -> Exchange:
        return ctx.send(build(ctx))

    return case(id, title, category=category, run=run, **kwargs)
