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


#: Without a declared leeway the property judges time claims between a target with no
#: tolerance and one with the hard bound (``catalog/times.py``): a claim set only one of
#: them accepts may get either answer.
_HARD_SKEW_S = 300
_DEFAULT_MAX_LIFETIME_S = 600  # only draws boundaries: lifetime rules are advisory
#: RFC 7515 §4.1 header names; a target may refuse any other (stricter, not weaker).
_REGISTERED_HEADER = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)


def _rules(ctx: CaseContext, *, leeway_s: int | None = None) -> Any:
    s = ctx.settings
    max_life = s.max_assertion_lifetime_s
    return Rules(
        issuer=s.issuer,
        audience=s.audience,
        subject=s.subjects[0],
        known_scopes=tuple(s.known_scopes),
        leeway_s=leeway_s if leeway_s is not None else (s.leeway_s or 0),
        max_lifetime_s=_DEFAULT_MAX_LIFETIME_S if max_life is None else max_life,
    )


def _expected(
    ctx: CaseContext,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    key_alg: str | None,
    *,
    now: int | None = None,
) -> list[str] | None:
    """The rules the target must refuse for (empty: it must accept) at ``now`` (the
    target's clock, by default as it reads now), or ``None`` when a legitimate policy may
    give either answer."""
    now = ctx.now() if now is None else now
    # what the profile does not define or makes optional is not judged (the oracle's data)
    mode = ctx.target.description.get("mode")
    declared = ctx.target.description.get("unjudged_rules")  # a declarative profile's
    advisory = ADVISORY_RULES | (
        frozenset(declared)
        if declared is not None
        else unjudged_rules(f"{ctx.target.profile}/{mode}" if mode else ctx.target.profile)
    )
    if header.get("crit") == []:
        # RFC 7515 §4.1.11: recipients MAY refuse an empty crit (header.crit.empty_list:
        # should); an unknown name in crit is the MUST
        advisory |= {"crit_present"}
    broken = violations(header, claims, rules=_rules(ctx), now=now, key_alg=key_alg)
    if ctx.settings.leeway_s is None:
        lenient = violations(
            header, claims, rules=_rules(ctx, leeway_s=_HARD_SKEW_S), now=now, key_alg=key_alg
        )
        if not set(lenient) - advisory and broken:
            return None  # refused by a strict clock, accepted by a lenient one
        broken = lenient
    if broken and set(broken) <= advisory:
        return None  # the hand-written should-cases judge it
    if (
        "key_not_found" in broken
        and set(broken) - {"key_not_found"} <= advisory
        and header.get("alg") == ctx.key.alg
    ):
        # Signed by the trusted key under an unknown kid: a target that ignores the kid
        # when one key fits the alg verifies it, and gains an attacker nothing.
        return None
    if not broken and set(header) - _REGISTERED_HEADER:
        return None  # an unregistered header member: ignoring or refusing it is fine
    return broken


def _crossed(
    ctx: CaseContext,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    key_alg: str | None,
    expected: list[str],
) -> bool:
    """Whether the oracle's answer for this example changed between the moment it was
    judged and the moment the answer came back (the target checked it in between, and its
    clock reads whole seconds: up to one more). Drawn times keep a margin from every
    boundary, but a loaded machine can hold an example longer than that margin; such an
    example proves nothing either way, whichever answer the target gave."""
    after = ctx.now()
    later = (after, after + 1)
    return any(_expected(ctx, header, claims, key_alg, now=t) != expected for t in later)


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
        "iat_future",  # C13: iat age is hardening (time.iat.future_1hour: should)
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
    if isinstance(jti, str) and 0 < len(jti) <= 256:
        # unique, and as long as drawn (at least 22 characters) so that a 256-character
        # jti stays at the length limit without meeting the replay guard twice
        length = max(len(jti), 22)
        claims["jti"] = secrets.token_urlsafe(length)[:length]
    return claims


class _Misbehaved(Exception):
    """A drawn example got a 5xx, a 429 or no answer: nothing is proved (an ``error``)."""


def _blob(exc: BaseException) -> str:
    """The ``@reproduce_failure(...)`` line Hypothesis adds to the shrunk failure's notes."""
    for note in getattr(exc, "__notes__", ()):
        at = note.find("@reproduce_failure(")
        if at >= 0:
            return str(note[at:].split(" as a decorator")[0]).strip()
    return ""


def _final_example() -> bool:
    """True while Hypothesis replays the shrunk example (its last run, the one it reports)."""
    from hypothesis.control import current_build_context  # lazy: see run

    try:
        return bool(getattr(current_build_context(), "is_final", False))
    except Exception:  # outside a test context: not the final replay
        return False


def _property(
    draw_token: Callable[
        [Any, CaseContext, dict[str, Any]],
        tuple[dict[str, Any], dict[str, Any], str, str | None],
    ],
    fact_prefix: str,
) -> Callable[[CaseContext], Exchange | None]:
    def run(ctx: CaseContext) -> Exchange | None:
        # lazy: hypothesis; the catalog loads in every pytest run
        from hypothesis import HealthCheck, given, seed, settings
        from hypothesis import strategies as st
        from hypothesis.errors import FlakyFailure

        # Building a strategy costs more than drawing from it: the draws of this run keep
        # theirs here and rebuild only when what it depends on changes.
        strategies: dict[str, Any] = {}

        @settings(
            max_examples=ctx.properties.examples,
            deadline=None,
            database=None,
            derandomize=False,
            print_blob=True,
            report_multiple_bugs=False,  # one failure, shrunk: the one reported
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def prop(data: Any) -> None:
            header, claims, token, key_alg = draw_token(data, ctx, strategies)
            broken = _expected(ctx, header, claims, key_alg)
            label = "shrunk example" if _final_example() else "example"
            exchange = ctx.send(token, label=label)
            if broken is not None and _crossed(ctx, header, claims, key_alg, broken):
                broken = None  # a time boundary passed while it was in flight: either answer
            sent = f"header={header!r} claims={claims!r}"
            seen["accepted" if exchange.accepted else "refused"] += not exchange.misbehaved
            if exchange.misbehaved:
                answer = f"HTTP {exchange.status}" if exchange.error is None else exchange.error
                raise _Misbehaved(f"the target misbehaved ({answer}) on {sent}")
            if broken is None:
                return  # either answer is allowed
            if exchange.accepted and broken:
                raise AssertionError(
                    f"accepted an assertion that breaks {', '.join(broken)}: {sent}"
                )
            if not exchange.accepted and not broken:
                # Stricter than the oracle is never a security failure (a kid policy, a
                # key-selection rule the oracle does not model): a fact, not a verdict.
                strict.append(sent)

        strict: list[str] = []
        seen = {"accepted": 0, "refused": 0}
        if ctx.properties.seed is not None:
            # The run's seed (in results.json): --hypothesis-seed=N draws the same examples.
            prop = seed(ctx.properties.seed)(prop)
        try:
            prop()
        except (AssertionError, _Misbehaved) as exc:
            # Hypothesis raises the failure of the shrunk example, after shrinking: that
            # one is reported (the first failing example is usually far from minimal).
            blob = _blob(exc)
            how = (
                f"the shrunk example; --hypothesis-seed={ctx.properties.seed} draws the same "
                "examples" + (f"; Hypothesis: {blob}" if blob else "")
            )
            if isinstance(exc, _Misbehaved):
                ctx.error(f"{exc} ({how})")
            ctx.fail(f"{exc} ({how})")
        except FlakyFailure as exc:
            # The failing example did not fail again when Hypothesis replayed it. A replay
            # re-sends the same assertion, which the target's replay guard (rightly)
            # refuses: the first answer is the evidence, and it stands.
            first = exc.exceptions[0] if exc.exceptions else exc
            why = (
                f"seen on the first send; its replay met the target's replay guard, so "
                f"Hypothesis could not shrink it; --hypothesis-seed={ctx.properties.seed} "
                "draws the same examples"
            )
            if isinstance(first, _Misbehaved):
                ctx.error(f"{first} ({why})")
            ctx.fail(f"{first} ({why})")
        if seen["refused"] and (strict or not seen["accepted"]):
            # Refusing valid examples is allowed, so the refusals are proved by a positive
            # control here (the case has no other: a target that went down and refused
            # everything would otherwise pass)
            control = ctx.valid(label="control")
            if not control.accepted:
                answer = f"HTTP {control.status}" if control.error is None else control.error
                ctx.error(
                    f"the target refused {seen['refused']} example(s), {len(strict)} of them "
                    f"valid, and the positive control sent after them ({answer}): its "
                    "refusals prove nothing"
                )
        if strict:
            ctx.fact(
                f"{fact_prefix}_property_valid_examples_refused",
                len(strict),
                f"refused {len(strict)} example(s) the oracle holds valid (stricter than "
                f"needed, not a failure); the first: {strict[0]}",
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
            leeway_s=s.leeway_s or 0,
            max_lifetime_s=s.max_assertion_lifetime_s or _DEFAULT_MAX_LIFETIME_S,
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
        "Random claim sets near a valid assertion: every one that breaks a rule is refused",
        category="claims",
        run=_property(_draw_claims, "claims"),
        expect=Expect.EITHER,
        level=Level.MUST,
        severity=Severity.HIGH,
        rationale="Hand-written cases test the boundaries someone thought of; drawing claim sets "
        "(dropped claims, wrong JSON types, shifted times, case and Unicode variants of sub, "
        "unknown scopes) finds the combinations no one did. The oracle encodes the reference "
        "policy independently of any implementation.",
        correct=(
            "refuses every assertion that breaks a claims rule of the policy (a valid one "
            "it refuses is a fact: stricter than needed is no failure)"
        ),
        references=("RFC 7519 §4, §7.2", "RFC 7523 §3", "Dynamic docs: external auth step-up"),
        anchors=("B01", "B03", "C01", "C10", "J03"),
        control=False,
    ),
    case(
        "header.property.oracle",
        "Random header mutations: every header that breaks a rule is refused",
        category="header",
        run=_property(_draw_header, "header"),
        expect=Expect.EITHER,
        level=Level.MUST,
        severity=Severity.HIGH,
        rationale="Header parameters steer how a token is verified (alg, kid, crit, typ). "
        "Drawing header variants checks the allow-list and the critical-extension rules "
        "beyond the hand-written cases.",
        correct=(
            "refuses every token whose header breaks a header rule (a valid one it "
            "refuses is a fact: stricter than needed is no failure)"
        ),
        references=("RFC 7515 §4.1", "draft-ietf-oauth-rfc8725bis §3.1, §3.11"),
        anchors=("D13", "D15", "G13", "G15"),
        control=False,
    ),
)
