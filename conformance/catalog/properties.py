"""Property cases: Hypothesis draws claim sets and headers near a valid assertion and the
target must accept exactly those the oracle (``conformance._oracle``) calls valid.

They are catalog cases like any other (selected, recorded and reported the same way);
their recipe runs a Hypothesis property with bounded examples and reports the seed that
reproduces a failure.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._oracle import Rules, unjudged_rules, violations
from ..forge import compact
from .authoring import Case, CaseContext, Expect, Level, Severity, case

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["ADVISORY_RULES", "CASES", "NOT_APPLICABLE"]

NOT_APPLICABLE: Mapping[str, str] = {}


def _rules(ctx: CaseContext) -> Any:
    s = ctx.settings
    return Rules(
        issuer=s.issuer,
        audience=s.audience,
        subject=s.subjects[0],
        known_scopes=tuple(s.known_scopes),
        leeway_s=s.leeway_s,
        max_lifetime_s=s.max_assertion_lifetime_s,
    )


#: Oracle rules whose rows are advisory (level should in the catalog): a target may refuse
#: or accept an assertion that breaks only these, so the property does not judge it.
ADVISORY_RULES = frozenset(
    {
        "lifetime_too_long",  # C05, C14, C17
        "iat_lifetime_too_long",
        "typ_invalid",  # G15
        "b64_present",  # G19
        "zip_present",
        "scope_format",  # J07: strict refusal or normalisation
        "cty_present",  # G17: cty JWT on signed claims is strict parsing (docs/levels.md)
        "kid_type",  # G12: a non-string kid next to a trusted signature (keys.kid.empty: must)
    }
)


def _selected_alg(header: Mapping[str, Any], jwks: Mapping[str, Any]) -> str | None:
    """The alg of the published key the header selects (by kid, else the only match)."""
    keys = [k for k in jwks.get("keys", ()) if isinstance(k, Mapping)]
    kid = header.get("kid")
    if "kid" in header:
        chosen = [k for k in keys if k.get("kid") == kid] if isinstance(kid, str) else []
    else:
        chosen = [k for k in keys if k.get("alg") == header.get("alg")]
    if len(chosen) != 1:
        return None
    alg = chosen[0].get("alg")
    return alg if isinstance(alg, str) else None


def _unique_jti(claims: dict[str, Any]) -> dict[str, Any]:
    """Keep replay protection from masking the rule under test: an ordinary jti is made
    unique per example; odd ones (empty, huge, non-string) are kept as drawn."""
    jti = claims.get("jti")
    if isinstance(jti, str) and 0 < len(jti) <= 64:
        claims["jti"] = secrets.token_urlsafe(16)
    return claims


def _property(
    draw_token: Callable[
        [Any, CaseContext, dict[str, Any]],
        tuple[dict[str, Any], dict[str, Any], str, str | None],
    ],
) -> Callable[[CaseContext], Exchange | None]:
    def run(ctx: CaseContext) -> Exchange | None:
        # lazy: hypothesis; the catalog loads in every pytest run
        from hypothesis import HealthCheck, given, seed, settings
        from hypothesis import strategies as st

        rules = _rules(ctx)
        # what the profile does not define or makes optional is not judged (the oracle's data)
        mode = ctx.target.description.get("mode")
        profile = f"{ctx.target.profile}/{mode}" if mode else ctx.target.profile
        advisory = ADVISORY_RULES | unjudged_rules(profile)
        mismatches: list[str] = []
        # Building a strategy costs more than drawing from it: the draws of this run keep
        # theirs here and rebuild only when what it depends on changes.
        strategies: dict[str, Any] = {}

        @settings(
            max_examples=ctx.properties.examples,
            deadline=None,
            database=None,
            derandomize=False,
            print_blob=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def prop(data: Any) -> None:
            header, claims, token, key_alg = draw_token(data, ctx, strategies)
            now = ctx.now()
            broken = violations(header, claims, rules=rules, now=now, key_alg=key_alg)
            exchange = ctx.send(token, label="example")
            if exchange.misbehaved:
                raise AssertionError(f"target misbehaved on header={header!r} claims={claims!r}")
            if broken and set(broken) <= advisory:
                return  # either answer is allowed (the hand-written should-cases judge it)
            if exchange.accepted == bool(broken):
                what = "accepted" if exchange.accepted else "refused"
                why = f"breaks {', '.join(broken)}" if broken else "is valid"
                mismatches.append(
                    f"{what} an assertion that {why}: header={header!r} claims={claims!r}"
                )
                raise AssertionError(mismatches[-1])

        if ctx.properties.seed is not None:
            # The run's seed (in results.json): --hypothesis-seed=N draws the same examples.
            prop = seed(ctx.properties.seed)(prop)
        try:
            prop()
        except AssertionError as exc:
            ctx.fail(
                f"{mismatches[0] if mismatches else exc} (Hypothesis shrank it; "
                f"rerun with --hypothesis-seed={ctx.properties.seed} to draw the same examples)"
            )
        return None

    return run


def _draw_claims(
    data: Any, ctx: CaseContext, strategies: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], str, str | None]:
    from ..strategies import claim_sets  # lazy: strategies imports hypothesis

    now = ctx.now()
    # The strategy's times are absolute: it follows the target's clock, second by second.
    if strategies.get("claims_now") != now:
        s = ctx.settings
        strategies["claims_now"] = now
        strategies["claims"] = claim_sets(
            valid=dict(ctx.assertion().claims),
            now=now,
            leeway_s=s.leeway_s,
            max_lifetime_s=s.max_assertion_lifetime_s,
            known_scopes=tuple(s.known_scopes),
        )
    claims = _unique_jti(dict(data.draw(strategies["claims"], label="claims")))
    key = ctx.key
    header = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    return header, claims, compact(header, claims, key=key), key.alg


def _draw_header(
    data: Any, ctx: CaseContext, strategies: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], str, str | None]:
    from ..strategies import header_mutations  # lazy: strategies imports hypothesis

    key = ctx.key
    jwks = ctx.keyring.published_jwks()
    kids = tuple(k["kid"] for k in jwks["keys"])
    # The strategy draws kids of the published keys: rebuilt only when those change.
    if strategies.get("header_kids") != kids:
        strategies["header_kids"] = kids
        strategies["header"] = header_mutations(
            valid={"alg": key.alg, "kid": key.kid, "typ": "JWT"}, kids=kids
        )
    header = dict(data.draw(strategies["header"], label="header"))
    claims = dict(ctx.assertion().claims)
    selected = _selected_alg(header, jwks)
    # Sign with the key the header selects when we hold it, so that the only thing under
    # test is the header itself (not a signature by the wrong key).
    signer = key
    for candidate in ctx.keyring.published():
        if candidate.kid == header.get("kid") or (
            "kid" not in header and candidate.alg == header.get("alg")
        ):
            signer = candidate
            break
    return header, claims, compact(header, claims, key=signer, alg=signer.alg), selected


CASES: tuple[Case, ...] = (
    case(
        "claims.property.oracle",
        "Random claim sets near a valid assertion: accepted exactly when every rule holds",
        category="claims",
        run=_property(_draw_claims),
        expect=Expect.EITHER,
        level=Level.MUST,
        severity=Severity.HIGH,
        rationale="Hand-written cases test the boundaries someone thought of; drawing claim sets "
        "(dropped claims, wrong JSON types, shifted times, case and Unicode variants of sub, "
        "unknown scopes) finds the combinations no one did. The oracle encodes the reference "
        "policy independently of any implementation.",
        correct="accepts an assertion if and only if it satisfies every claims rule of the policy",
        references=("RFC 7519 §4, §7.2", "RFC 7523 §3", "Dynamic docs: external auth step-up"),
        anchors=("B01", "B03", "C01", "C10", "J03"),
        control=False,
    ),
    case(
        "header.property.oracle",
        "Random header mutations: accepted exactly when the header is acceptable",
        category="header",
        run=_property(_draw_header),
        expect=Expect.EITHER,
        level=Level.MUST,
        severity=Severity.HIGH,
        rationale="Header parameters steer how a token is verified (alg, kid, crit, typ). "
        "Drawing header variants checks the allow-list and the critical-extension rules "
        "beyond the hand-written cases.",
        correct="accepts the token if and only if its header satisfies every header rule",
        references=("RFC 7515 §4.1", "draft-ietf-oauth-rfc8725bis §3.1, §3.11"),
        anchors=("D13", "D15", "G13", "G15"),
        control=False,
    ),
)
