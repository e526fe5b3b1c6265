"""What docs/levels.md says about levels, expectations and kinds, checked on the catalog."""

from __future__ import annotations

import fnmatch
import re

import pytest

from conformance._oracle import unjudged_rules
from conformance._verdict import Policy, effective, settle
from conformance.catalog import BY_ID, CASES, Expect, Level
from conformance.catalog.authoring import Kind
from conformance.catalog.profiles import EITHER_BECAUSE, POLICY, promoted

PROFILE_KEYS = ("dynamic", "rfc7523/client_assertion", "rfc7523/jwt_bearer")

#: a clause: an RFC or draft section, or the profile's documented contract
CLAUSE = re.compile(r"(RFC ?\d+|8725bis|draft-ietf-[\w-]+)[^|]*§ ?\d|Dynamic (docs|API|SDK|BYOA)")

#: must cases still without a clause, in a module another change owns (the time category)
CLAUSE_GAPS = {
    *(f"time.exp.value_{v}" for v in ("null", "true", "false", "zero", "negative", "array")),
    *(f"time.exp.value_{v}" for v in ("huge_float", "int63", "int64")),
    "time.exp.milliseconds",
}

#: expect=ACCEPT cases that judge what was issued or done with it (the token's scope,
#: subject, signature, lifetime; a fetch; a misuse), so a failure is a security failure
ACCEPT_BUT_SECURITY = (
    "issued.token.*",
    "issued.operation.*",
    "scope.multiple.two",
    "scope.multiple.three",
    "claims.rfc7523.issued_subject",
)

EITHER_DEFAULT = "either refuses it with a 4xx or accepts it; never errs"


def _runs_in(case_id: str, key: str) -> bool:
    case = BY_ID[case_id]
    return key.split("/")[0] in case.profiles and case.skip_reason(key) is None


def test_every_must_case_names_a_clause() -> None:
    missing = [
        c.id
        for c in CASES
        if any(c.level_for(k) is Level.MUST for k in PROFILE_KEYS)
        and not any(CLAUSE.search(r) for r in c.references)
        and c.id not in CLAUSE_GAPS
    ]
    assert missing == []


def test_accept_cases_are_interop_unless_they_judge_the_issued_token() -> None:
    def exempt(case_id: str) -> bool:
        return any(fnmatch.fnmatchcase(case_id, g) for g in ACCEPT_BUT_SECURITY)

    wrong = [
        c.id
        for c in CASES
        if c.expect is Expect.ACCEPT and c.kind is not Kind.INTEROP and not exempt(c.id)
    ]
    assert wrong == []
    assert all(BY_ID[i].kind is Kind.SECURITY for i in BY_ID if exempt(i))
    # and a case that expects a refusal is a security case
    assert [c.id for c in CASES if c.expect is Expect.REJECT and c.kind is Kind.INTEROP] == []


def test_every_either_says_why_both_answers_are_fine() -> None:
    silent = [
        (c.id, key)
        for c in CASES
        for key in PROFILE_KEYS
        if c.expectation(key) is Expect.EITHER
        and (c.correct == EITHER_DEFAULT or c.expect is not Expect.EITHER)
        and not any(fnmatch.fnmatchcase(c.id, g) for g in EITHER_BECAUSE)
    ]
    assert silent == []


def test_no_rfc7523_case_judges_the_scope_claim() -> None:
    scoped = [c.id for c in CASES if "rfc7523" in c.profiles and "scope" in c.id]
    assert scoped == []
    for key in ("rfc7523/client_assertion", "rfc7523/jwt_bearer"):
        assert {"scope_missing", "scope_type", "scope_format", "scope_unknown"} <= (
            unjudged_rules(key)
        )
    assert "scope_unknown" not in unjudged_rules("dynamic")


@pytest.mark.parametrize(
    ("case_id", "key", "level", "expect"),
    [
        # lenient parsing of what the trusted key signed: hardening
        ("encoding.text.payload_utf16le", "dynamic", Level.SHOULD, Expect.REJECT),
        ("encoding.text.payload_utf32", "rfc7523", Level.SHOULD, Expect.REJECT),
        ("encoding.json.header_utf8_bom", "dynamic", Level.SHOULD, Expect.REJECT),
        ("encoding.json.payload_nan", "dynamic", Level.SHOULD, Expect.REJECT),
        ("encoding.base64.padding_signature", "dynamic", Level.SHOULD, Expect.REJECT),
        ("encoding.whitespace.trailing_newline", "dynamic", Level.SHOULD, Expect.REJECT),
        ("encoding.noncanonical.payload", "dynamic", Level.SHOULD, Expect.REJECT),
        ("header.kid.integer", "dynamic", Level.SHOULD, Expect.REJECT),
        ("header.cty.jwt_on_claims", "dynamic", Level.SHOULD, Expect.REJECT),
        # a malformed token stays a must
        ("encoding.segments.two", "dynamic", Level.MUST, Expect.REJECT),
        ("header.kid.sql_union", "dynamic", Level.MUST, Expect.REJECT),
        # strictness is interop
        ("header.unknown_member.string", "dynamic", Level.SHOULD, Expect.ACCEPT),
        # undocumented for Dynamic; RFC 7523 §3 (1) requires iss
        ("claims.iss.missing", "dynamic", Level.SHOULD, Expect.REJECT),
        ("claims.iss.missing", "rfc7523/jwt_bearer", Level.MUST, Expect.REJECT),
        ("time.nbf.after_exp", "dynamic", Level.SHOULD, Expect.REJECT),
        ("time.nbf.after_exp", "rfc7523", Level.SHOULD, Expect.REJECT),
        # replay and far-future exp: documented by Dynamic; MAYs in RFC 7523, never silent
        ("replay.same_token.twice", "dynamic", Level.MUST, Expect.REJECT),
        ("replay.same_token.twice", "rfc7523", Level.SHOULD, Expect.REJECT),
        ("replay.same_jti.malleated", "rfc7523/jwt_bearer", Level.SHOULD, Expect.REJECT),
        ("claims.rfc7523.jti_reuse", "rfc7523", Level.SHOULD, Expect.REJECT),
        ("time.exp.future_1year", "rfc7523", Level.SHOULD, Expect.REJECT),
        ("time.lifetime.over_max", "rfc7523", Level.SHOULD, Expect.REJECT),
        ("time.exp.milliseconds", "rfc7523", Level.SHOULD, Expect.REJECT),
        # the jwt-bearer grant still needs a sub
        ("claims.sub.missing", "rfc7523/jwt_bearer", Level.MUST, Expect.REJECT),
        ("claims.sub.type_number", "rfc7523/jwt_bearer", Level.SHOULD, Expect.REJECT),
        ("claims.sub.type_number", "rfc7523/client_assertion", Level.MUST, Expect.REJECT),
    ],
)
def test_the_cases_named_in_the_issue_have_the_levels_of_the_rules(
    case_id: str, key: str, level: Level, expect: Expect
) -> None:
    case = BY_ID[case_id]
    assert (case.level_for(key), case.expectation(key)) == (level, expect)


def test_sub_binding_skips_in_the_jwt_bearer_grant_only() -> None:
    bound = [
        "claims.sub.other_user",
        "claims.sub.case_upper",
        "claims.sub.homoglyph",
        "claims.sub.trailing_nul",
        "claims.injection.sub_sql",
        "claims.duplicate.sub_victim_last",
        "errors.status.wrong_subject",
    ]
    for case_id in bound:
        reason = BY_ID[case_id].skip_reason("rfc7523/jwt_bearer")
        assert reason is not None and "jwt-bearer" in reason
        assert _runs_in(case_id, "rfc7523/client_assertion")
        assert _runs_in(case_id, "dynamic")
    assert _runs_in("claims.sub.missing", "rfc7523/jwt_bearer")
    assert _runs_in("claims.rfc7523.issued_subject", "rfc7523/jwt_bearer")


def test_a_stricter_target_never_fails_a_security_case() -> None:
    # a refusal only fails an accept case, and those are interop (or judge the issued token)
    today = __import__("datetime").date(2026, 1, 1)
    for case_id in ("header.unknown_member.string", "envelope.valid.baseline"):
        assert settle(BY_ID[case_id], "fail", Policy(), today=today).verdict == "warn"


def test_target_policy_promotes_should_cases_to_must() -> None:
    today = __import__("datetime").date(2026, 1, 1)
    case = BY_ID["claims.iss.missing"]
    plain = effective(case, "dynamic", Policy())
    assert plain.level is Level.SHOULD
    assert settle(plain, "fail", Policy(), today=today).verdict == "warn"
    policy = Policy(promoted=promoted({"iss": "required", "nbf_before_exp": "recommended"}))
    strict = effective(case, "dynamic", policy)
    assert strict.level is Level.MUST
    assert settle(strict, "fail", policy, today=today).verdict == "fail"
    assert effective(BY_ID["time.nbf.after_exp"], "dynamic", policy).level is Level.SHOULD
    replay = promoted({"jti_replay": "required"})
    assert (
        effective(BY_ID["replay.same_token.twice"], "rfc7523", Policy(promoted=replay)).level
        is Level.MUST
    )
    # every policy key promotes at least one case
    ids = list(BY_ID)
    assert all(any(fnmatch.filter(ids, g) for g in globs) for globs in POLICY.values())
