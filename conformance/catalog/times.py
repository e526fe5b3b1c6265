"""Cases of the ``time`` category: ``exp``, ``nbf``, ``iat`` and lifetimes (rows C01-C18).

Every offset is relative to the target's clock (``ctx.now()`` is corrected by its
``Date`` header). Policy numbers are measured, not assumed:

* a **declared** leeway ``L`` (``ctx.settings.leeway_s``) or maximum lifetime is an
  expectation: two-sided cases around it (``L - 5`` s must pass, ``L + 5`` s must not, so
  that a pass proves the boundary rather than a lucky clock);
* **without** one, those cases skip; the ``*_measured`` cases bracket the real value and
  record it as a fact (``clock_tolerance_s``, ``nbf_tolerance_s``,
  ``max_assertion_lifetime_s``); a ``must`` case fails only beyond a hard bound no
  reasonable policy exceeds (:data:`HARD_SKEW_S`), and a ``should`` case warns beyond the
  recommended value (:data:`RECOMMENDED_SKEW_S`, :data:`RECOMMENDED_LIFETIME_S`).
  Strictness (a tolerance of 0-5 s, a short lifetime) is never a failure.
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

__all__ = [
    "CASES",
    "CATEGORY",
    "HARD_SKEW_S",
    "MARGIN_S",
    "NOT_APPLICABLE",
    "RECOMMENDED_LIFETIME_S",
    "RECOMMENDED_SKEW_S",
]

CATEGORY = "time"
MARGIN_S = 5  # either side of a boundary: Date has 1 s resolution, requests take time
#: No reasonable clock tolerance exceeds this: RFC 7519 §4.1.4 allows "usually no more than
#: a few minutes", and the largest common library default is 5 minutes (.NET
#: TokenValidationParameters.ClockSkew). exp this far past (nbf, iat this far ahead) must
#: be refused whatever was declared.
HARD_SKEW_S = 300
#: The recommended clock tolerance: Spring Security's JwtTimestampValidator default, and the
#: OpenID FAPI 2 conformance suite's bound ("iat/nbf over 60 seconds in the future fails").
#: Beyond it a ``should`` case warns.
RECOMMENDED_SKEW_S = 60
#: The recommended maximum assertion lifetime (RFC 7523 §3: exp "unreasonably far in the
#: future" MAY be refused; the OpenID CIBA suite refuses 70 minutes). Beyond it, plus the
#: hard skew bound, a ``should`` case warns.
RECOMMENDED_LIFETIME_S = 3600
_UNDECLARED = (
    "no {what} is declared for this target ([target] {key}): the real value is measured "
    "by {measured} and judged against the hard and recommended bounds instead"
)
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


def _declared(ctx: CaseContext, key: str, what: str, measured: str) -> int:
    """The value the target declares under ``key``; the case skips when none is."""
    value = getattr(ctx.settings, key)
    if value is None:
        ctx.skip(_UNDECLARED.format(what=what, key=key, measured=measured))
    return int(value or 0)


def _leeway(ctx: CaseContext) -> int:
    """The declared leeway; the case skips when none is declared."""
    return _declared(
        ctx,
        "leeway_s",
        "clock leeway",
        "time.exp.tolerance_measured and time.nbf.tolerance_measured",
    )


def _max_lifetime(ctx: CaseContext) -> int:
    """The declared maximum assertion lifetime; the case skips when none is declared."""
    return _declared(
        ctx, "max_assertion_lifetime_s", "maximum assertion lifetime", "time.lifetime.measured"
    )


def _over_max(ctx: CaseContext) -> int:
    """Seconds from now that are clearly beyond the maximum lifetime plus the leeway."""
    declared = ctx.settings.leeway_s
    return _max_lifetime(ctx) + (HARD_SKEW_S if declared is None else declared) + 60


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
            f"exp beyond the hard bound: more than 5 minutes in the past (now - "
            f"{HARD_SKEW_S + MARGIN_S} s)",
            mutate=_times(exp=lambda ctx: ctx.now() - HARD_SKEW_S - MARGIN_S),
            anchors=("C02",),
            correct="refuses it: no reasonable clock tolerance reaches 5 minutes",
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
            "time.exp.past_beyond_recommended",
            f"exp {RECOMMENDED_SKEW_S + MARGIN_S} s in the past (beyond the recommended "
            f"{RECOMMENDED_SKEW_S} s tolerance)",
            mutate=_times(exp=lambda ctx: ctx.now() - RECOMMENDED_SKEW_S - MARGIN_S),
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            anchors=("C03",),
            correct=f"refuses it: a clock tolerance over {RECOMMENDED_SKEW_S} s keeps expired "
            "assertions usable longer than needed",
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


#: Offsets (s) probed to bracket a tolerance, clear of the common policy values (0, 5, 30,
#: 60, 120, 300 s) so that no probe sits on a boundary.
SKEW_PROBES = (10, 20, 45, 90, 180, HARD_SKEW_S + MARGIN_S)
#: Lifetimes (s) probed to bracket the maximum assertion lifetime, clear of the common
#: values (600, 3600 s, each plus a leeway of 0-300 s).
LIFETIME_PROBES = (300, 800, 1800, 3000, 4500, 7200, 86400)


def _bracket(
    ctx: CaseContext,
    *,
    fact: str,
    probes: tuple[int, ...],
    claims: Callable[[int], dict[str, Any]],
    what: str,
) -> None:
    """Probe growing offsets until the first refusal: the value lies between the last
    accepted offset and the first refused one (recorded as that bracket, never a point)."""
    accepted: int | None = None
    for offset in probes:
        exchange = ctx.send(
            ctx.sign(ctx.assertion().with_claims(claims(offset))), label=f"{fact}-{offset}s"
        )
        if exchange.misbehaved:
            ctx.error(f"the target erred on {what.format(offset)}")
        if not exchange.accepted:
            if accepted is None:
                ctx.fact(fact, f"< {offset}", f"refuses {what.format(offset)} already")
            else:
                ctx.fact(
                    fact,
                    f"{accepted}–{offset}",
                    f"accepts {what.format(accepted)}, refuses {what.format(offset)}",
                )
            return
        accepted = offset
    ctx.fact(
        fact,
        f">= {accepted}",
        f"accepts {what.format(accepted)}: no bound found up to there",
    )


def _tolerance(ctx: CaseContext) -> None:
    """The clock tolerance on exp, bracketed."""
    _bracket(
        ctx,
        fact="clock_tolerance_s",
        probes=SKEW_PROBES,
        claims=lambda offset: {"exp": ctx.now() - offset},
        what="exp {} s in the past",
    )


def _nbf_tolerance(ctx: CaseContext) -> None:
    """The clock tolerance on nbf, bracketed (exp a minute after nbf)."""

    def claims(offset: int) -> dict[str, Any]:
        nbf = ctx.now() + offset
        return {"nbf": nbf, "exp": nbf + 60}

    _bracket(
        ctx,
        fact="nbf_tolerance_s",
        probes=SKEW_PROBES,
        claims=claims,
        what="nbf {} s in the future",
    )


def _lifetime(ctx: CaseContext) -> None:
    """The maximum assertion lifetime (plus tolerance), bracketed (iat now)."""
    _bracket(
        ctx,
        fact="max_assertion_lifetime_s",
        probes=LIFETIME_PROBES,
        claims=lambda offset: {"iat": ctx.now(), "exp": ctx.now() + offset},
        what="exp {} s ahead",
    )


def _measured(
    case_id: str, title: str, run: Callable[[CaseContext], None], anchors: tuple[str, ...]
) -> Case:
    return case(
        case_id,
        title,
        run=run,
        expect=Expect.EITHER,
        level=Level.SHOULD,
        severity=Severity.INFO,
        anchors=anchors,
        rationale=(
            "Policy numbers differ between correct servers: the suite measures them rather "
            "than assuming one, and a reviewer sees how long an expired, early or far-future "
            "assertion stays usable. The bounds are judged by the other time cases."
        ),
        correct="any answer: the bracket is recorded as a fact",
        references=("RFC7519 §4.1.4/§4.1.5", "RFC7523 §3"),
        category=CATEGORY,
        control=False,
    )


def _lifetime_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _LIFETIME_WHY,
        "references": ("RFC7523 §3(4)/§3(6)/§5", "OIDF CIBA …ExpIs70MinutesInFutureFails"),
    }
    should = {**common, "level": Level.SHOULD}
    return [
        _measured(
            "time.exp.tolerance_measured",
            "Measure the real clock tolerance on exp",
            _tolerance,
            ("C04",),
        ),
        _measured(
            "time.nbf.tolerance_measured",
            "Measure the real clock tolerance on nbf",
            _nbf_tolerance,
            ("C11",),
        ),
        _measured(
            "time.lifetime.measured",
            "Measure the real maximum assertion lifetime",
            _lifetime,
            ("C17",),
        ),
        claims_case(
            "time.exp.future_2hours",
            f"exp 2 hours in the future (beyond the recommended {RECOMMENDED_LIFETIME_S} s "
            "lifetime)",
            mutate=_times(exp=lambda ctx: ctx.now() + 7200),
            anchors=("C05", "C17"),
            **should,
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
            "exp just beyond the declared maximum lifetime (max + L + 60 s; L = 300 s when no "
            "leeway is declared)",
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
    recommended = {
        **common,
        "level": Level.SHOULD,
        "severity": Severity.MEDIUM,
        "correct": f"refuses it: a clock tolerance over {RECOMMENDED_SKEW_S} s lets early "
        "assertions in",
    }
    accepted = {
        **common,
        "expect": Expect.ACCEPT,
        "correct": "accepts it: the documented leeway covers clock skew",
    }
    return [
        claims_case(
            "time.nbf.future_10min",
            "nbf 10 minutes in the future (beyond the hard bound of 5 minutes)",
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
            "time.nbf.future_beyond_recommended",
            f"nbf {RECOMMENDED_SKEW_S + MARGIN_S} s in the future (beyond the recommended "
            f"{RECOMMENDED_SKEW_S} s tolerance)",
            mutate=_times(nbf=lambda ctx: ctx.now() + RECOMMENDED_SKEW_S + MARGIN_S),
            anchors=("C10",),
            **recommended,
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
            "time.iat.future_beyond_recommended",
            f"iat {RECOMMENDED_SKEW_S + MARGIN_S} s in the future (no nbf; beyond the "
            f"recommended {RECOMMENDED_SKEW_S} s tolerance)",
            mutate=_times(iat=lambda ctx: ctx.now() + RECOMMENDED_SKEW_S + MARGIN_S),
            anchors=("C13",),
            **recommended,
        ),
        claims_case(
            "time.iat.future_1hour",
            "iat 1 hour in the future (no nbf)",
            mutate=_times(iat=lambda ctx: ctx.now() + 3600),
            anchors=("C13",),
            # should (docs/levels.md, rule 2: iat age): the trusted signer dated it; no
            # RFC MUST makes iat a not-before, and OpenID Certified oidc-provider accepts it
            **{**common, "level": Level.SHOULD},
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
