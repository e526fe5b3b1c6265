"""Lifetime arithmetic (issue 14, class 5): the maximum lifetime holds whatever claims are
present, and the issued token's lifetime is bounded whatever the assertion's is.

``times.py`` judges a long lifetime with ``iat`` = now. A validator that measures the
lifetime as ``exp - iat`` only (or ``exp - nbf``) enforces nothing when ``iat`` is
absent; one that copies the assertion's ``exp`` into the token it issues lets a long-lived
assertion buy a long-lived token. Levels follow ``times.py``: the assertion bound is a
``should`` (RFC 7523 §3 item 4 is a MAY; ``[target.policy] max_lifetime`` promotes it),
the issued token's bound a ``must`` where Dynamic documents short-lived tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Kind,
    Level,
    Severity,
    case,
    issued_claims,
)

if TYPE_CHECKING:
    from .._assertion import Assertion
    from ..targets.base import Exchange

__all__ = ["CASES", "NOT_APPLICABLE"]

#: as ``times.HARD_SKEW_S``: the clock tolerance assumed when none is declared
_HARD_SKEW_S = 300
#: an undeclared token lifetime is judged against a bound no step-up token reasonably
#: exceeds (as ``issued.token.short_lived``)
_HARD_TOKEN_S = 86400
#: the long assertion used to probe the issued token when no maximum is declared
_LONG_ASSERTION_S = 540

_WHY = (
    "A maximum assertion lifetime bounds the damage of one leaked assertion; a validator "
    "that measures it as exp - iat (or exp - nbf) enforces nothing when the signer leaves "
    "iat out, which any attacker with a signing oracle or a loose signer can do."
)


def _over_max(ctx: CaseContext) -> int:
    """Seconds ahead clearly beyond the declared maximum plus tolerance (skips without one)."""
    declared = ctx.settings.max_assertion_lifetime_s
    if declared is None:
        ctx.skip(
            "no maximum assertion lifetime is declared ([target] max_assertion_lifetime_s): "
            "time.lifetime.no_iat_1day judges a far exp without iat instead"
        )
    leeway = ctx.settings.leeway_s
    return int(declared or 0) + (_HARD_SKEW_S if leeway is None else int(leeway)) + 60


def _shape(
    exp: Callable[[CaseContext], int], *, nbf: bool = False
) -> Callable[[Assertion, CaseContext], Assertion]:
    def mutate(a: Assertion, ctx: CaseContext) -> Assertion:
        changed = a.without("iat").with_claims(exp=ctx.now() + exp(ctx))
        return changed.with_claims(nbf=ctx.now()) if nbf else changed

    return mutate


def _assertion_case(
    id: str, title: str, mutate: Callable[[Assertion, CaseContext], Assertion]
) -> Case:
    def run(ctx: CaseContext) -> Exchange:
        return ctx.send(ctx.sign(mutate(ctx.assertion(), ctx)))

    return case(
        id,
        title,
        category="time",
        run=run,
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("C17", "C05"),
        rationale=_WHY,
        correct="refuses it: the lifetime is bounded from now, whatever iat and nbf say",
        references=("RFC7523 §3(4)", "RFC7523 §5", "RFC7519 §4.1.4", "CWE-613"),
    )


def _token_lifetime(ctx: CaseContext) -> None:
    """A valid assertion with a long lifetime; the token it buys stays within the bound."""
    declared = ctx.settings.max_assertion_lifetime_s
    ahead = _LONG_ASSERTION_S if declared is None else max(int(declared) - 60, 60)
    exchange = ctx.send(
        ctx.sign(ctx.assertion().with_claims(exp=ctx.now() + ahead)), label="long assertion"
    )
    if not ctx.accepted(exchange):
        ctx.skip(f"the target refused a valid assertion living {ahead} s: nothing to judge")
    claims = issued_claims(ctx, exchange, check="lifetime")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        ctx.fail("the issued token has no numeric exp")
        return
    token_declared = ctx.settings.max_token_lifetime_s
    limit = _HARD_TOKEN_S if token_declared is None else int(token_declared)
    skew = _HARD_SKEW_S if ctx.settings.leeway_s is None else int(ctx.settings.leeway_s)
    lifetime = float(exp) - ctx.now()
    ctx.fact(
        "token_lifetime_after_long_assertion_s",
        round(lifetime),
        f"the token issued for an assertion living {ahead} s",
    )
    ctx.check(
        lifetime <= limit + skew,
        f"the token issued for an assertion living {ahead} s lives {lifetime:.0f} s, over "
        f"{limit} s: the token's lifetime follows the assertion's",
    )


CASES: tuple[Case, ...] = (
    _assertion_case(
        "time.lifetime.no_iat_over_max",
        "No iat, exp beyond the declared maximum lifetime (max + L + 60 s)",
        _shape(_over_max),
    ),
    _assertion_case(
        "time.lifetime.no_iat_1day",
        "No iat, exp 1 day in the future",
        _shape(lambda ctx: 86400),
    ),
    _assertion_case(
        "time.lifetime.nbf_no_iat_1day",
        "nbf now, no iat, exp 1 day in the future",
        _shape(lambda ctx: 86400, nbf=True),
    ),
    case(
        "issued.token.lifetime_after_long_assertion",
        "A long-lived assertion does not buy a longer-lived token",
        category="issued",
        run=_token_lifetime,
        profiles=DYNAMIC,
        expect=Expect.ACCEPT,
        kind=Kind.SECURITY,
        severity=Severity.HIGH,
        anchors=("L04",),
        control=False,
        rationale="The elevated token is documented as short-lived: a server that derives "
        "its exp from the assertion's lets whoever mints a long assertion hold an elevated "
        "token for as long.",
        correct="issues a token whose exp is at most the documented token lifetime ahead, "
        "whatever the assertion's lifetime",
        references=("Dynamic docs: short-lived elevated token", "RFC8693 §2.2.1", "CWE-613"),
    ),
)

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
