"""Cases of the ``replay`` category: ``jti`` single use (rows H01-H12).

Each replay happens inside one test item: the first use must be accepted (else the case
proves nothing), the second must not. RFC 7523 makes replay detection a MAY, so replays
are ``either`` there; Dynamic documents ``jti`` as the replay guard.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..forge import ecdsa_high_s
from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    break_signature,
    case,
    claims_with,
    other_scope,
    signed_payload,
    trusted_key,
    trusted_of_family,
)

#: Algorithms whose signatures differ each time (ECDSA, PSS): re-signing gives new bytes.
_RANDOMIZED = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512")

if TYPE_CHECKING:
    from .._assertion import Assertion
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "EITHER_IN_RFC7523", "NOT_APPLICABLE"]

CATEGORY = "replay"
EITHER_IN_RFC7523 = {"rfc7523": Expect.EITHER}

_REPLAY_WHY = (
    "The jti is what stops a captured assertion (from a log, a proxy, a browser extension) "
    "from being exchanged again for a fresh elevated token."
)
_DOS_WHY = (
    "If a rejected attempt records its jti, anyone who sees a jti (or guesses the format) can "
    "spoil the genuine assertion in advance: a cheap denial of service on step-up."
)


def _first(ctx: CaseContext, token: str, **send: Any) -> Exchange:
    """Send ``token`` once and require acceptance (else a replay proves nothing)."""
    exchange = ctx.send(token, label="first use", **send)
    ctx.check(ctx.accepted(exchange), "the first use of a valid assertion was not accepted")
    return exchange


def _same_token(ctx: CaseContext) -> Exchange:
    token = ctx.sign(ctx.assertion())
    _first(ctx, token)
    return ctx.send(token, label="replay")


def _same_jti(
    change: Callable[[Assertion, CaseContext], Assertion],
) -> Callable[[CaseContext], Exchange]:
    def run(ctx: CaseContext) -> Exchange:
        assertion = ctx.assertion()
        _first(ctx, ctx.sign(assertion))
        return ctx.send(ctx.sign(change(assertion, ctx)), label="same jti")

    return run


def _resigned(ctx: CaseContext) -> Exchange:
    """The same claims signed again: ECDSA and PSS signatures differ each time (the
    target's ECDSA or PSS key; skips without one)."""
    key = trusted_key(ctx, *_RANDOMIZED)
    assertion = ctx.assertion()
    token = ctx.sign(assertion, key=key)
    again = ctx.sign(assertion, key=key)
    if again == token:
        ctx.skip(f"{key.alg} signatures are deterministic: re-signing gives the same token")
    _first(ctx, token)
    return ctx.send(again, label="re-signed")


def _malleated(ctx: CaseContext) -> Exchange:
    """The accepted token with its ECDSA signature's s replaced by n - s (still valid;
    the target's ECDSA key, skips without one)."""
    key = trusted_of_family(ctx, "EC", prefer=("ES256",))
    token = ctx.sign(ctx.assertion(), key=key)
    _first(ctx, token)
    return ctx.send(ecdsa_high_s(token, key.alg), label="malleated")


def _other_session(ctx: CaseContext) -> Exchange:
    token = ctx.sign(ctx.assertion())
    _first(ctx, token)
    return ctx.send(token, session=ctx.fresh_session(0), label="replay, new session")


def _race(ctx: CaseContext) -> None:
    """Exactly one copy accepted. Two clean acceptances fail whatever the rest got; short
    of that, the case is judged only when every copy got a clean answer."""
    results = ctx.race(ctx.sign(ctx.assertion()), 16)
    accepted = sum(1 for r in results if r.accepted)
    statuses = sorted({r.status or 0 for r in results})
    unclean = [r for r in results if r.misbehaved]
    if accepted < 2 and unclean:
        got = sorted({"no answer" if r.status is None else str(r.status) for r in unclean})
        ctx.error(
            f"{len(unclean)} of {len(results)} concurrent copies got no clean answer "
            f"({', '.join(got)}): the race proves nothing"
        )
    ctx.check(
        accepted == 1,
        f"{accepted} of {len(results)} concurrent copies were accepted (statuses {statuses})",
    )


def _new_scope(assertion: Assertion, ctx: CaseContext) -> Assertion:
    return assertion.with_claims(scope=other_scope(ctx))


def _replay_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _REPLAY_WHY,
        "severity": Severity.HIGH,
        "correct": "accepts the first use, refuses every later one",
        "references": (
            "Dynamic docs: jti prevents replay",
            "OIDF CheckForClientAssertionJtiReuse",
            "RFC7523 §3(7)",
        ),
    }
    return [
        case(
            "replay.same_token.twice",
            "The same assertion sent twice",
            run=_same_token,
            anchors=("H01",),
            **common,
        ),
        case(
            "replay.same_jti.new_exp",
            "The same jti re-signed with a new exp and iat",
            run=_same_jti(lambda a, ctx: a.with_claims(iat=ctx.now(), exp=ctx.now() + 150)),
            anchors=("H02",),
            **common,
        ),
        case(
            "replay.same_jti.new_scope",
            "The same jti re-signed for another scope",
            run=_same_jti(_new_scope),
            anchors=("H02",),
            profiles=DYNAMIC,
            **common,
        ),
        case(
            "replay.same_jti.resigned",
            "The same claims signed again (new signature bytes)",
            run=_resigned,
            anchors=("H02", "H03"),
            **common,
        ),
        case(
            "replay.same_jti.malleated",
            "The accepted token with a high-S malleated ECDSA signature",
            run=_malleated,
            anchors=("H03",),
            **common,
        ),
        case(
            "replay.same_token.new_session",
            "The same assertion in a new session of the same user",
            run=_other_session,
            anchors=("H01",),
            needs=("sessions",),
            profiles=DYNAMIC,
            **common,
        ),
        case(
            "replay.race.concurrent_16",
            "16 concurrent copies of one assertion: exactly one accepted",
            run=_race,
            anchors=("H04",),
            needs=("bursts",),
            profiles=DYNAMIC,
            control=False,
            **{**common, "correct": "accepts exactly one copy (an atomic jti store)"},
        ),
    ]


# --- jti shape ----------------------------------------------------------------------------


def _raw_jti(value: Any) -> Callable[[CaseContext], Exchange]:
    return lambda ctx: ctx.send(signed_payload(ctx, claims_with(ctx, jti=value)))


_JTI_VALUES: tuple[tuple[str, str, Any], ...] = (
    ("empty", "jti is an empty string", ""),
    ("number", "jti is a number", 12345),
    ("null", "jti is null", None),
    ("true", "jti is true", True),
    ("array", "jti is an array", ["a", "b"]),
    ("object", "jti is an object", {"id": "x"}),
    ("huge_10kb", "jti is 10 KB long", "j" * 10240),
)


def _jti_cases() -> list[Case]:
    cases = [
        case(
            "replay.jti.missing",
            "jti is missing",
            category=CATEGORY,
            run=lambda ctx: ctx.send(ctx.sign(ctx.assertion().without("jti"))),
            rationale="Without a jti the service cannot tell a replay from a first use.",
            anchors=("H06",),
            expect_by_profile=EITHER_IN_RFC7523,
            references=(
                "Dynamic docs: jti required",
                "OIDF ValidateClientAssertionClaims",
                "OIDF CIBA …MissingJtiFails",
            ),
        )
    ]
    cases += [
        case(
            f"replay.jti.{name}",
            title,
            category=CATEGORY,
            run=_raw_jti(value),
            rationale=(
                "A jti that is not a non-empty, bounded string cannot be stored and compared "
                "reliably; huge ones fill the replay store."
            ),
            correct="refuses it with a 4xx, never a 5xx",
            severity=Severity.MEDIUM,
            # no document bounds a jti's length (RFC 7519 §4.1.7, Dynamic's docs): only
            # its holder can sign a huge one, so refusing it is hardening, not a contract
            level=Level.SHOULD if name == "huge_10kb" else Level.MUST,
            anchors=("H07",),
            expect_by_profile=EITHER_IN_RFC7523 if name == "huge_10kb" else None,
            references=("RFC7519 §4.1.7",),
        )
        for name, title, value in _JTI_VALUES
    ]
    return cases


def _case_variant(ctx: CaseContext) -> Exchange:
    jti = "CONFORMANCE-" + secrets.token_hex(8).upper()
    _first(ctx, ctx.sign(ctx.assertion().with_claims(jti=jti)))
    second = ctx.send(
        ctx.sign(ctx.assertion().with_claims(jti=jti.lower())), label="lower-case jti"
    )
    ctx.fact("jti_case_sensitive", second.accepted)
    return second


def _similar_jti(derive: Callable[[str], str]) -> Callable[[CaseContext], Exchange]:
    """A jti that was used, then a different one derived from it: a first use."""

    def run(ctx: CaseContext) -> Exchange:
        jti = "conformance-" + secrets.token_hex(8)
        _first(ctx, ctx.sign(ctx.assertion().with_claims(jti=jti)))
        return ctx.send(ctx.sign(ctx.assertion().with_claims(jti=derive(jti))), label="similar jti")

    return run


def _spoiled(spoil: Callable[[CaseContext, Assertion], str]) -> Callable[[CaseContext], Exchange]:
    """A rejected attempt with jti X, then the genuine assertion with jti X. When the
    target accepts the spoiled attempt (an expired exp with exp unchecked, say), nothing
    was rejected, so nothing can be proved about rejects: the case skips and says why (the
    acceptance itself is the failure of the case that tests that rule)."""

    def run(ctx: CaseContext) -> Exchange:
        genuine = ctx.assertion()
        attempt = ctx.send(spoil(ctx, genuine), label="rejected attempt")
        # only a clean refusal is a rejected attempt: a 5xx or no answer proves nothing
        if ctx.accepted(attempt):
            ctx.skip(
                "the target accepted the spoiled attempt, so no rejected attempt was made and "
                "this case proves nothing (the case of that rule reports the acceptance)"
            )
        return ctx.send(ctx.sign(genuine), label="genuine")

    return run


_SPOILERS: tuple[tuple[str, str, Callable[[CaseContext, Any], str]], ...] = (
    ("bad_signature", "a broken signature", lambda ctx, a: break_signature(ctx.sign(a))),
    (
        "attacker_key",
        "a signature by an unknown key",
        lambda ctx, a: ctx.sign(a, key=ctx.keyring.attacker(ctx.key.alg)),
    ),
    ("expired", "an expired exp", lambda ctx, a: ctx.sign(a.with_claims(exp=ctx.now() - 3600))),
    (
        "wrong_subject",
        "another user's sub",
        lambda ctx, a: ctx.sign(a.with_claims(sub="conformance-nobody")),
    ),
    (
        "unknown_scope",
        "an unknown scope",
        lambda ctx, a: ctx.sign(a.with_claims(scope="conformance:unknown")),
    ),
)


def _other_environment_first(ctx: CaseContext) -> Exchange:
    """jti X used in environment B, then jti X in environment A."""
    other = ctx.other_environment()
    jti = "conformance-" + secrets.token_hex(8)
    theirs = ctx.assertion().with_claims(iss=other.issuer, jti=jti).without("aud")
    session = ctx.session_in_other_environment(0)
    token = ctx.sign(theirs, key=ctx.keyring.other_environment(ctx.key.alg))
    first = ctx.send(
        token, session=session, environment_id=other.environment_id, label="environment B"
    )
    ctx.check(ctx.accepted(first), "the valid assertion in the second environment was not accepted")
    return ctx.send(ctx.sign(ctx.assertion().with_claims(jti=jti)), label="environment A")


def _first_use_cases() -> list[Case]:
    accept: dict[str, Any] = {"category": CATEGORY, "expect": Expect.ACCEPT}
    cases = [
        case(
            "replay.first_use.accepted",
            "A fresh assertion is accepted on its first use",
            run=lambda ctx: ctx.valid(label="first use"),
            rationale=(
                "A replay check that runs twice per request (or on a retry path) flags the first "
                "use as a replay and breaks every step-up."
            ),
            anchors=("H11",),
            references=(
                "Dynamic docs: external auth step-up",
                "authelia #7790",
                "DuendeSoftware/foss #323",
            ),
            severity=Severity.HIGH,
            **accept,
        ),
        case(
            "replay.first_use.jti_case_variant",
            "jti 'ABC…' used, then 'abc…' (another jti)",
            run=_case_variant,
            rationale=(
                "jti is a case-sensitive string: a store that folds case refuses genuine "
                "assertions (and shows it normalises)."
            ),
            anchors=("H08",),
            references=("RFC7519 §4.1.7",),
            **{**accept, "expect": Expect.EITHER, "level": Level.SHOULD, "severity": Severity.LOW},
        ),
        case(
            "replay.first_use.other_environment_jti",
            "A jti used in another environment is a first use here",
            run=_other_environment_first,
            rationale=(
                "jti values are unique per issuer only: a store shared across environments lets "
                "one tenant block another's assertions."
            ),
            anchors=("H10",),
            needs=("second_environment", "sessions"),
            profiles=DYNAMIC,
            references=("RFC7519 §4.1.7", "danielfett/draft-dpop #32"),
            **{**accept, "level": Level.SHOULD, "severity": Severity.LOW},
        ),
    ]
    similar = (
        ("prefix", "a jti that extends a used one", lambda j: j + "-2"),
        ("truncated", "a used jti minus its last character", lambda j: j[:-1]),
    )
    cases += [
        case(
            f"replay.first_use.similar_jti_{name}",
            f"First use of {what}",
            run=_similar_jti(derive),
            rationale=(
                "A replay store that matches by prefix or similarity refuses genuine first uses."
            ),
            anchors=("H11",),
            severity=Severity.MEDIUM,
            references=("RFC 7519 §4.1.7 (jti is case-sensitive, compared exactly)",),
            **accept,
        )
        for name, what, derive in similar
    ]
    cases += [
        case(
            f"replay.not_burned.{name}",
            f"A rejected attempt with {what} does not spend the jti",
            run=_spoiled(spoil),
            rationale=_DOS_WHY,
            correct="refuses the attempt, then accepts the genuine assertion with the same jti",
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            anchors=("H09",),
            references=("thunder-id PR #5392",),
            **accept,
        )
        for name, what, spoil in _SPOILERS
    ]
    return cases


def _token_twice(ctx: CaseContext) -> None:
    """The elevated token used twice on its operation: the second use is refused."""
    scope = ctx.settings.scopes[0]
    session = ctx.session(0)
    issued = ctx.send(ctx.sign(ctx.assertion(scope=scope)), session=session, label="issue")
    ctx.check(ctx.accepted(issued), "the valid assertion was not accepted")
    token = issued.issued_token or ""
    first = ctx.operation(session, token, scope, label="first use")
    ctx.check(
        not ctx.refused(first),
        f"the fresh elevated token did not work on its operation (status {first.status})",
    )
    second = ctx.operation(session, token, scope, label="second use")
    ctx.check(ctx.refused(second), "the single-use elevated token worked twice")


CASES: tuple[Case, ...] = (
    *_replay_cases(),
    *_jti_cases(),
    *_first_use_cases(),
    case(
        "replay.elevated_token.used_twice",
        "The elevated token works once on its operation, not twice",
        category=CATEGORY,
        run=_token_twice,
        rationale=(
            "The SDK treats the elevated token as single use: a reusable token turns one step-up "
            "into a session-long privilege for whoever captures it."
        ),
        correct="the operation succeeds once and is refused the second time",
        anchors=("H12", "L07"),
        needs=("sessions", "sensitive_operation"),
        profiles=DYNAMIC,
        references=("Dynamic SDK: singleUse elevated token",),
        control=False,
    ),
)

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {
    "H05": (
        "replay after a service restart or against another node/region needs control over "
        "the deployment (restart, routing); a black-box suite cannot force either"
    ),
}
