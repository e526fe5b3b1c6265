"""Cases of the ``time`` category: ``exp``, ``nbf``, ``iat`` and lifetimes (rows C01-C18).

Every offset is relative to the target's clock (``ctx.now()`` is corrected by its
``Date`` header) and two-sided around the documented leeway ``L``
(``ctx.settings.leeway_s``): ``L - 5`` s must pass and ``L + 5`` s must not, so that a
pass proves the boundary rather than a lucky clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import (
    Case,
    CaseContext,
    Expect,
    Level,
    Mutation,
    Severity,
    case,
    claims_case,
    claims_with,
    signed_payload,
)

if TYPE_CHECKING:
    from .._assertion import Assertion
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "MARGIN_S", "NOT_APPLICABLE"]

CATEGORY = "time"
MARGIN_S = 5  # either side of a boundary: Date has 1 s resolution, requests take time
Clock = Callable[[CaseContext], Any]

_EXP_WHY = (
    "exp bounds how long a leaked or logged assertion can be used; a service that does not "
    "check it (or allows a huge skew) turns a short-lived assertion into a long-lived one."
)
_FUTURE_WHY = (
    "An assertion that is not yet valid (nbf, iat in the future) was minted by a signer with "
    "a wrong clock or to be used later: accepting it extends its real lifetime."
)
_LIFETIME_WHY = (
    "A maximum assertion lifetime bounds the damage of one leaked assertion; exp far ahead "
    "(or in milliseconds) makes the assertion practically eternal."
)


def _leeway(ctx: CaseContext) -> int:
    return int(ctx.settings.leeway_s)


def _max_lifetime(ctx: CaseContext) -> int:
    return int(ctx.settings.max_assertion_lifetime_s)


def _over_max(ctx: CaseContext) -> int:
    """Seconds from now that are clearly beyond the maximum lifetime plus the leeway."""
    return _max_lifetime(ctx) + _leeway(ctx) + 60


def _inside(ctx: CaseContext) -> int:
    """A future instant just inside the leeway."""
    return ctx.now() + max(_leeway(ctx) - MARGIN_S, 0)


def _beyond(ctx: CaseContext) -> int:
    """A future instant just beyond the leeway."""
    return ctx.now() + _leeway(ctx) + MARGIN_S


def _times(**clocks: Clock) -> Mutation:
    """Set time claims, each computed from the context (the target's clock)."""
    return lambda a, ctx: a.with_claims({name: clock(ctx) for name, clock in clocks.items()})


def _raw_exp(value: Clock) -> Callable[[CaseContext], Exchange]:
    """A recipe with ``exp`` set to any JSON value (null, booleans, huge numbers)."""
    return lambda ctx: ctx.send(signed_payload(ctx, claims_with(ctx, exp=value(ctx))))


def _exp_cases() -> list[Case]:
    refs = (
        "RFC7519 §4.1.4",
        "OIDF FAPI1AdvancedFinalEnsureClientAssertionWithExpIs5MinutesInPastFails",
    )
    common: dict[str, Any] = {"rationale": _EXP_WHY, "references": refs, "category": CATEGORY}
    cases = [
        claims_case(
            "time.exp.missing",
            "exp is missing",
            mutate=lambda a, ctx: a.without("exp"),
            anchors=("C01",),
            **common,
        ),
        claims_case(
            "time.exp.past_5min",
            "exp 5 minutes in the past",
            mutate=_times(exp=lambda ctx: ctx.now() - 300),
            anchors=("C02",),
            **common,
        ),
        claims_case(
            "time.exp.past_1day",
            "exp 1 day in the past",
            mutate=_times(exp=lambda ctx: ctx.now() - 86400),
            anchors=("C02",),
            **common,
        ),
        claims_case(
            "time.exp.past_beyond_leeway",
            "exp just beyond the leeway in the past (now - (L + 5 s))",
            mutate=_times(exp=lambda ctx: ctx.now() - _leeway(ctx) - MARGIN_S),
            anchors=("C03",),
            **common,
        ),
        claims_case(
            "time.exp.past_inside_leeway",
            "exp just inside the leeway in the past (now - (L - 5 s))",
            mutate=_times(exp=lambda ctx: ctx.now() - max(_leeway(ctx) - MARGIN_S, 0)),
            expect=Expect.ACCEPT,
            anchors=("C03", "C04"),
            correct="accepts it: the documented leeway covers clock skew",
            **common,
        ),
        claims_case(
            "time.exp.numeric_string",
            "exp is a numeric string",
            mutate=_times(exp=lambda ctx: str(ctx.now() + 120)),
            anchors=("C07",),
            **common,
        ),
        claims_case(
            "time.exp.fraction",
            "exp with a fractional part",
            mutate=_times(exp=lambda ctx: ctx.now() + 120.5),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.LOW,
            anchors=("C08",),
            **common,
        ),
    ]
    weird: tuple[tuple[str, str, Clock], ...] = (
        ("null", "null", lambda ctx: None),
        ("true", "true", lambda ctx: True),
        ("false", "false", lambda ctx: False),
        ("zero", "0", lambda ctx: 0),
        ("negative", "negative", lambda ctx: -1),
        ("huge_float", "1e308", lambda ctx: 1e308),
        ("int63", "2^63", lambda ctx: 2**63),
        ("int64", "2^64", lambda ctx: 2**64),
        ("array", "an array holding a valid exp", lambda ctx: [ctx.now() + 120]),
    )
    cases += [
        case(
            f"time.exp.value_{name}",
            f"exp is {what}",
            run=_raw_exp(value),
            anchors=("C09",),
            correct="refuses it with a 4xx, never a 5xx",
            **{**common, "references": ("jwt_tool -M er", "jwt-hack claims_exp")},
        )
        for name, what, value in weird
    ]
    return cases


_TOLERANCE_PROBES = (0, 5, 15, 25, 35, 60, 120, 300, 900, 3600)


def _tolerance(ctx: CaseContext) -> None:
    """Probe exp at growing past offsets: the tolerance lies between the last accepted
    offset and the first refused one (recorded as that bracket, never as a point)."""
    accepted: int | None = None
    for offset in _TOLERANCE_PROBES:
        exchange = ctx.send(
            ctx.sign(ctx.assertion().with_claims(exp=ctx.now() - offset)), label=f"exp-{offset}s"
        )
        if exchange.misbehaved:
            ctx.error(f"the target erred on exp {offset} s in the past")
        if not exchange.accepted:
            if accepted is None:
                ctx.fact("clock_tolerance_s", 0, f"refused exp {offset} s in the past already")
            else:
                ctx.fact(
                    "clock_tolerance_s",
                    f"{accepted}–{offset}",
                    f"accepted exp {accepted} s in the past, refused {offset} s",
                )
            return
        accepted = offset
    ctx.fact(
        "clock_tolerance_s",
        None,
        f"accepted exp up to {accepted} s in the past: no bound found (exp may not be checked)",
    )


def _lifetime_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _LIFETIME_WHY,
        "references": ("RFC7523 §3(4)/§3(6)/§5", "OIDF CIBA …ExpIs70MinutesInFutureFails"),
    }
    should = {**common, "level": Level.SHOULD}
    return [
        case(
            "time.exp.tolerance_measured",
            "Measure the real clock tolerance on exp",
            run=_tolerance,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.INFO,
            anchors=("C04",),
            rationale=(
                "Knowing the real skew allowance tells a reviewer how long an expired assertion "
                "stays usable."
            ),
            references=("RFC7519 §4.1.4",),
            category=CATEGORY,
            control=False,
        ),
        claims_case(
            "time.exp.future_1day",
            "exp 1 day in the future",
            mutate=_times(exp=lambda ctx: ctx.now() + 86400),
            anchors=("C05",),
            **should,
        ),
        claims_case(
            "time.exp.future_1year",
            "exp 1 year in the future",
            mutate=_times(exp=lambda ctx: ctx.now() + 365 * 86400),
            anchors=("C05",),
            **should,
        ),
        claims_case(
            "time.lifetime.over_max",
            "exp just beyond the maximum lifetime (max + L + 60 s)",
            mutate=_times(exp=lambda ctx: ctx.now() + _over_max(ctx)),
            anchors=("C05", "C17"),
            **should,
        ),
        claims_case(
            "time.lifetime.under_max",
            "exp just under the maximum lifetime (max - 60 s)",
            mutate=_times(exp=lambda ctx: ctx.now() + max(_max_lifetime(ctx) - 60, 60)),
            expect=Expect.ACCEPT,
            anchors=("C17",),
            **should,
        ),
        claims_case(
            "time.exp.milliseconds",
            "exp in milliseconds (13 digits)",
            mutate=_times(exp=lambda ctx: (ctx.now() + 120) * 1000),
            anchors=("C06",),
            **{**common, "references": ("OIDF ValidateIdToken (exp in milliseconds)",)},
        ),
        claims_case(
            "time.iat.past_1week",
            "iat 1 week in the past while exp is valid",
            mutate=_times(iat=lambda ctx: ctx.now() - 7 * 86400),
            anchors=("C14",),
            **should,
        ),
        claims_case(
            "time.iat.past_over_max",
            "iat older than the maximum lifetime while exp is valid",
            mutate=_times(iat=lambda ctx: ctx.now() + 120 - _over_max(ctx)),
            anchors=("C14", "C17"),
            **should,
        ),
        claims_case(
            "time.iat.missing",
            "iat is missing",
            mutate=lambda a, ctx: a.without("iat"),
            expect=Expect.EITHER,
            severity=Severity.LOW,
            anchors=("C15",),
            **{
                **should,
                "references": ("OIDF ValidateClientAssertionClaims", "OIDF CIBA …MissingIatFails"),
            },
        ),
    ]


def _future_cases() -> list[Case]:
    refs = (
        "RFC7519 §4.1.5/§4.1.6",
        "OIDF FAPI2 …IatNbf8SecondsInTheFutureIsAccepted / …Over60SecondsInTheFutureFails",
    )
    common: dict[str, Any] = {"rationale": _FUTURE_WHY, "references": refs, "category": CATEGORY}
    accepted = {
        **common,
        "expect": Expect.ACCEPT,
        "correct": "accepts it: the documented leeway covers clock skew",
    }
    return [
        claims_case(
            "time.nbf.future_10min",
            "nbf 10 minutes in the future",
            mutate=_times(nbf=lambda ctx: ctx.now() + 600),
            anchors=("C10",),
            **common,
        ),
        claims_case(
            "time.nbf.future_beyond_leeway",
            "nbf just beyond the leeway in the future",
            mutate=_times(nbf=_beyond),
            anchors=("C10",),
            **common,
        ),
        claims_case(
            "time.nbf.future_inside_leeway",
            "nbf just inside the leeway in the future",
            mutate=_times(nbf=_inside),
            anchors=("C10", "C11"),
            **accepted,
        ),
        claims_case(
            "time.skew.iat_nbf_plus_8s",
            "iat and nbf 8 s in the future (normal skew)",
            mutate=_times(iat=lambda ctx: ctx.now() + 8, nbf=lambda ctx: ctx.now() + 8),
            anchors=("C11",),
            **accepted,
        ),
        claims_case(
            "time.skew.all_plus_62s",
            "iat, nbf and exp all shifted 62 s into the future",
            mutate=_shifted(62),
            anchors=("C12",),
            **common,
        ),
        claims_case(
            "time.iat.future_beyond_leeway",
            "iat just beyond the leeway in the future (no nbf)",
            mutate=_times(iat=_beyond),
            anchors=("C13",),
            **common,
        ),
        claims_case(
            "time.iat.future_1hour",
            "iat 1 hour in the future (no nbf)",
            mutate=_times(iat=lambda ctx: ctx.now() + 3600),
            anchors=("C13",),
            **common,
        ),
        claims_case(
            "time.iat.future_inside_leeway",
            "iat just inside the leeway in the future",
            mutate=_times(iat=_inside),
            anchors=("C13",),
            **accepted,
        ),
        claims_case(
            "time.nbf.after_exp",
            "nbf after exp, both within the leeway (empty validity window)",
            mutate=_times(exp=lambda ctx: ctx.now() - 10, nbf=lambda ctx: ctx.now() + 10),
            anchors=("C16",),
            **{**common, "level": Level.SHOULD},  # undocumented; [target.policy] nbf_before_exp
        ),
    ]


def _shifted(seconds: int) -> Mutation:
    def mutate(a: Assertion, ctx: CaseContext) -> Assertion:
        if _leeway(ctx) + MARGIN_S > seconds:
            ctx.skip(
                f"the documented leeway ({_leeway(ctx)} s) is too large for a {seconds} s probe"
            )
        now = ctx.now() + seconds
        return a.with_claims(iat=now, nbf=now, exp=now + 120)

    return mutate


def _replay_after_exp(ctx: CaseContext) -> Exchange:
    """Accepted just before it expires (within the leeway), replayed once it has."""

    margin = 3
    exp = ctx.now() - max(_leeway(ctx) - margin, 0)
    token = ctx.sign(ctx.assertion().with_claims(exp=exp))
    first = ctx.send(token, label="first")
    ctx.check(first.accepted, "a valid assertion close to its expiry was not accepted")
    ctx.sleep(2 * margin)
    return ctx.send(token, label="after exp")


CASES: tuple[Case, ...] = (
    *_exp_cases(),
    *_lifetime_cases(),
    *_future_cases(),
    case(
        "time.replay.after_exp",
        "An accepted assertion replayed after its exp (plus leeway) has passed",
        category=CATEGORY,
        run=_replay_after_exp,
        anchors=("C18", "H01"),
        rationale=(
            "A jti store may evict entries; the assertion's own exp must still stop it, or a "
            "captured assertion works again once the store forgot it."
        ),
        references=("RFC7523 §3(7)",),
    ),
)

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
