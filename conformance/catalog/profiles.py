"""Where a case's semantics depend on the profile: data, applied once to the catalog.

A key is a profile (``dynamic``, ``rfc7523``) or a profile and its mode
(``rfc7523/client_assertion``, ``rfc7523/jwt_bearer``); a mode's entry wins over its
profile's, which wins over the case's own declaration (``Case.expectation``,
``Case.level_for``, ``Case.skip_reason``). The rules are in ``docs/levels.md``:

* RFC 7523 does not define a ``scope`` claim (scope is a form parameter): no case about
  it runs there, and the property oracle does not judge it (``conformance._oracle.UNJUDGED_RULES``).
* ``jti`` replay protection and a bound on ``exp`` are MAYs in RFC 7523 §3 (items 4, 7):
  ``should`` refusals there (visible warnings), ``must`` where Dynamic documents them.
* In the jwt-bearer grant ``sub`` names whom the token is for: any subject the trusted
  issuer signs is legitimate, so the cases that bind ``sub`` to a signed-in user (or to
  the client id) skip with the reason; a missing ``sub`` is still refused (RFC 7523
  §3 item 2).
* Where the profile's documentation is silent, the case is ``should`` and a target's
  ``[target.policy]`` can promote it (:data:`POLICY`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping

from .authoring import Case, Expect, Level

__all__ = [
    "DYNAMIC_ONLY",
    "EITHER_BECAUSE",
    "EXPECT_BY_PROFILE",
    "EXP_FAR_AHEAD",
    "FAR_FUTURE",
    "LEVEL_BY_PROFILE",
    "POLICY",
    "POLICY_VALUES",
    "REPLAY",
    "SKIP_BY_PROFILE",
    "apply",
    "promoted",
    "subject_binding",
]

#: Cases about Dynamic's contract only (globs over case ids): the scope claim, sessions.
DYNAMIC_ONLY: tuple[str, ...] = (
    "scope.*",
    "*.scope",
    "*.scope_*",
    "encoding.escaped_names.claim_name_scope",
    "replay.not_burned.unknown_scope",
    "issued.token.*",
    "claims.type.scope.*",
)

#: The replay cases: a second use of one assertion (or of its jti).
REPLAY = ("replay.same_token.*", "replay.same_jti.*", "replay.race.*")
_REPLAY = REPLAY
#: Assertions valid for longer than a documented maximum lifetime.
FAR_FUTURE = (
    "time.exp.future_2hours",
    "time.exp.future_1day",
    "time.exp.future_1year",
    "time.lifetime.over_max",
    "time.iat.past_1week",
    "time.iat.past_over_max",
    "time.lifetime.no_iat_*",
    "time.lifetime.nbf_no_iat_*",
)
_FAR_FUTURE = FAR_FUTURE
#: exp values that are far-future instants (decades ahead), not malformed ones
EXP_FAR_AHEAD = (
    "time.exp.milliseconds",
    "time.exp.value_int63",
    "time.exp.value_int64",
    "time.exp.value_huge_float",
)
_EXP_FAR_AHEAD = EXP_FAR_AHEAD

#: Per-profile expectations that differ from the case's own (globs over case ids).
EXPECT_BY_PROFILE: Mapping[str, Mapping[str, Expect]] = {
    "rfc7523": {
        # a replay guard and a bounded exp are MAYs: refusing is still the expectation
        # (a should, so a target without them shows a warning, never silence)
        **dict.fromkeys(_REPLAY, Expect.REJECT),
        **dict.fromkeys(_FAR_FUTURE, Expect.REJECT),
        **dict.fromkeys(_EXP_FAR_AHEAD, Expect.REJECT),
        "replay.jti.empty": Expect.EITHER,
        "replay.jti.number": Expect.EITHER,
        "replay.jti.null": Expect.EITHER,
        "claims.name_case.jti": Expect.EITHER,
        "claims.kind.*": Expect.EITHER,
    },
}

#: Per-profile levels that differ from the case's own (globs over case ids).
LEVEL_BY_PROFILE: Mapping[str, Mapping[str, Level]] = {
    "rfc7523": {
        # RFC 7523 §3 item 1: the JWT MUST contain iss (Dynamic's verify call: undocumented)
        "claims.iss.missing": Level.MUST,
        # RFC 7523 §3 item 7: the server MAY keep used jti values
        **dict.fromkeys(_REPLAY, Level.SHOULD),
        # RFC 7523 §3 item 4: the server MAY reject an exp unreasonably far in the future
        **dict.fromkeys(_EXP_FAR_AHEAD, Level.SHOULD),
        # RFC 7523 §3 item 1: iss is required, so an iss read as absent is a MUST failure
        "claims.type.iss.*": Level.MUST,
        # RFC 7523 §3 item 7: jti (and a replay guard) are optional
        "claims.type.jti.*": Level.SHOULD,
    },
    "rfc7523/jwt_bearer": {
        # the grant's sub names a principal; a non-string one from the trusted issuer is
        # strict parsing, not a misbinding (no user to match)
        "claims.sub.type_number": Level.SHOULD,
        "claims.sub.type_array": Level.SHOULD,
        "claims.sub.type_object": Level.SHOULD,
        "claims.sub.type_true": Level.SHOULD,
        "claims.type.sub.*": Level.SHOULD,
    },
}

_NO_SESSION_BINDING = (
    "in the jwt-bearer grant sub names whom the token is for (RFC 7523 §3 item 2.A): any "
    "subject the trusted issuer signs is legitimate, there is no signed-in user to match"
)


def subject_binding(reason: str) -> dict[str, str]:
    """The cases that bind ``sub`` to a signed-in user or the client id (globs), each
    with why it does not apply where nothing binds ``sub``: ``reason``, plus a remark
    for some."""
    return {
        "claims.sub.other_user": reason,
        "claims.sub.blank": reason,
        "claims.sub.type_numeric_of_subject": reason,
        "claims.sub.case_*": reason,
        "claims.sub.nfd": reason,
        "claims.sub.full_width": reason,
        "claims.sub.homoglyph": reason,
        "claims.sub.compat_char": reason,
        "claims.sub.zero_width": reason,
        "claims.sub.trailing_*": reason,
        "claims.sub.leading_space": reason,
        "claims.duplicate.sub_victim_*": reason,
        "claims.injection.sub_*": reason
        + "; whether the string reaches a query unescaped is not observable from the answer",
        "errors.*.wrong_subject": reason + "; a refusal is not owed",
        "replay.not_burned.wrong_subject": reason + "; a refusal is not owed",
    }


#: Cases that do not apply under a profile or mode, with the reason (globs over case ids).
SKIP_BY_PROFILE: Mapping[str, Mapping[str, str]] = {
    "rfc7523/jwt_bearer": subject_binding(_NO_SESSION_BINDING),
}
#: Why both answers are fine, for every case whose expectation (its own, or a profile's)
#: is ``either`` and whose ``correct`` line does not already say it (globs over case ids).
#: The observed answer is recorded either way (the result's ``outcome``).
EITHER_BECAUSE: Mapping[str, str] = {
    "claims.aud.array_with_extra": "RFC 7519 §4.1.3 accepts an array that contains the "
    "audience; FAPI refuses extra audiences: both are safe",
    "claims.aud.issuer_identifier": "RFC 7523 §3 lets the audience be the issuer "
    "identifier or the token URL: accepting or refusing the alternative gains nothing",
    "time.exp.fraction": "RFC 7519 NumericDate may be fractional: truncating or refusing "
    "changes the lifetime by under a second",
    "time.exp.tolerance_measured": "a measurement: the tolerance is recorded as a fact; the "
    "boundary cases judge it",
    "time.iat.missing": "iat is optional (RFC 7519 §4.1.6, RFC 7523 §3 item 6); exp still "
    "bounds the assertion",
    "algorithms.fully_specified.*": "RFC 9864 algorithm names are new: taking or refusing "
    "them for a key whose family is trusted is interop, not security",
    "signature.ecdsa.high_s.*": "(r, n - s) is valid ECDSA and JWS does not require low-S; "
    "only a replay guard keyed on the token text would care (replay.same_jti.malleated)",
    "signature.rsa.leading_zero_stripped": "a library that restores the zero verifies the "
    "same signature: both answers are safe, an error is not",
    "keys.revocation.removed_key": "a measurement: how long a removed key stays trusted is "
    "recorded as a fact for incident response",
    "keys.no_kid.several_candidates": "trying every candidate or refusing are both safe; "
    "an error is not",
    "keys.jwks.duplicate_kid": "refusing the keyset or disambiguating by alg and kty are both safe",
    "header.cty.*": "a cty the verifier ignores changes nothing; refusing it is stricter",
    "header.thumbprint_mismatch.*": "a verifier may refuse a wrong thumbprint or ignore the "
    "member (it selects no key); the signature still decides",
    "replay.first_use.jti_case_variant": "a case-folding replay store refuses a genuine "
    "assertion (interop); accepting it is correct: either is safe",
    "scope.multiple.with_unknown": "refusing the request or granting only the known scope "
    "are both safe; issued.token.scope_exact judges what is granted",
    "encoding.heavy_json.*": "a parser limit may refuse it and a robust parser may accept "
    "it; only a 5xx (a denial of service) is a defect",
    # profile entries
    "replay.jti.*": "RFC 7523 makes jti optional (§3 item 7): an odd jti matters only to a "
    "replay guard, which replay.same_token.twice judges",
    "claims.name_case.jti": "a JTI member is an unknown claim and jti is optional in RFC 7523",
    "claims.url.sub": 'where nothing binds sub (a profile\'s sub = "none"), a URL is a '
    "subject the trusted issuer signed; what decides is that it is never fetched",
    "claims.kind.*": "RFC 7523 does not type assertions: a sign-in JWT or an ID Token that "
    "satisfies iss, sub, aud and exp is a valid assertion there (scope and jti are not "
    "required)",
}

#: ``[target.policy]`` keys: what a target may declare "required" (promoting the named
#: ``should`` cases to ``must`` for its runs), with the globs of the cases each promotes.
POLICY: Mapping[str, tuple[str, ...]] = {
    "iss": ("claims.iss.missing",),
    "nbf_before_exp": ("time.nbf.after_exp",),
    "jti_replay": (*_REPLAY, "claims.rfc7523.jti_reuse"),
    "max_lifetime": (*_FAR_FUTURE, *_EXP_FAR_AHEAD),
    "typ": ("header.typ.refused.*",),
    # RFC 10070 client authentication: aud is the issuer as one string, explicit typing
    "client_auth_jwt": (
        "claims.rfc7523.aud_issuer_*",
        "claims.rfc7523.aud_token_url_under_issuer_rule",
        "header.rfc7523.typ_client_authentication_as_grant",
    ),
}
#: the values of a ``[target.policy]`` key: "required" promotes, "recommended" (the
#: default) leaves the catalog's level
POLICY_VALUES = ("required", "recommended")


def promoted(policy: Mapping[str, str]) -> frozenset[str]:
    """The globs of the case ids a ``[target.policy]`` table promotes to ``must`` (the
    keys of :data:`POLICY` set to ``"required"``)."""
    return frozenset(g for key, value in policy.items() if value == "required" for g in POLICY[key])


def _matching(table: Mapping[str, Mapping[str, object]], case_id: str) -> dict[str, object]:
    return {
        profile: value
        for profile, entries in table.items()
        for glob, value in entries.items()
        if fnmatch.fnmatchcase(case_id, glob)
    }


def apply(case: Case) -> Case:
    """``case`` with the profile data of this module applied."""
    changes: dict[str, object] = {}
    if any(fnmatch.fnmatchcase(case.id, glob) for glob in DYNAMIC_ONLY):
        changes["profiles"] = case.profiles & {"dynamic"}
    for name, table in (
        ("expect_by_profile", EXPECT_BY_PROFILE),
        ("level_by_profile", LEVEL_BY_PROFILE),
        ("skip_by_profile", SKIP_BY_PROFILE),
    ):
        extra = _matching(table, case.id)
        if extra:
            changes[name] = {**getattr(case, name), **extra}
    return dataclasses.replace(case, **changes) if changes else case  # type: ignore[arg-type]
