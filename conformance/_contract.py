"""A profile's semantics from its declared contract, not from its name.

A profile file names a base (``[profile] semantics``: ``dynamic``,
``rfc7523/client_assertion``, ``rfc7523/jwt_bearer``) whose rules are the catalog's data
(``catalog/profiles.py``). Every contract key that differs from the base's default
(``_profile.BASE_DEFAULTS``) overrides those rules for the cases it concerns:
:func:`overrides` computes them, :func:`with_contract` writes them into the cases under
the base's key, where :meth:`Case.expectation`, :meth:`Case.level_for` and
:meth:`Case.skip_reason` find them. A profile that declares exactly its base's contract
(the shipped ``dynamic.toml``, ``rfc7523*.toml``) changes nothing. The rules are in
``docs/profiles.md#semantics-from-the-contract-not-from-the-name``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ._oracle import unjudged_rules
from ._profile import BASE_DEFAULTS, Profile
from .catalog.authoring import Case, Expect, Level
from .catalog.profiles import DYNAMIC_ONLY, EXP_FAR_AHEAD, FAR_FUTURE, REPLAY, subject_binding

#: The cases about the ``scope`` claim (``DYNAMIC_ONLY`` without the issued token's, and
#: a jti re-signed for another scope: without a scope claim, an undocumented claim added).
SCOPE_CASES = (
    *(g for g in DYNAMIC_ONLY if not g.startswith("issued.")),
    "replay.same_jti.new_scope",
)
ISSUED_TOKEN_CASES = ("issued.token.*",)
#: The cases that judge each of the ``[issued] checks`` (``_profile.ISSUED_CHECKS``) on a
#: decoded issued token; a check the contract leaves out skips its cases with the reason.
ISSUED_CHECK_CASES: Mapping[str, tuple[str, ...]] = {
    "signature": (
        "issued.token.is_jws",
        "issued.token.verifies",
        "issued.token.hmac_secret_not_common",
    ),
    "lifetime": (
        "issued.token.short_lived",
        "issued.token.not_outliving_session",
        "issued.token.lifetime_after_long_assertion",
    ),
    "subject": ("issued.token.bound", "claims.rfc7523.issued_subject"),
    # the injected-privilege cases judge that the token's scope is exactly the requested one
    "scope": ("issued.token.scope_exact", "claims.extra.privilege_*"),
    "single_use": ("issued.token.single_use_flag", "issued.token.fresh_each_time"),
}
#: What each check judges, for the reason a case skips without it.
ISSUED_CHECK_WHAT: Mapping[str, str] = {
    "signature": "how the issued token is signed",
    "lifetime": "the issued token's lifetime",
    "subject": "whom the issued token names",
    "scope": "the issued token's scope",
    "single_use": "the issued token's single use",
}
ISS_REQUIRED_CASES = ("claims.iss.missing", "claims.type.iss.*")
ISS_VALUE_CASES = ("claims.iss.*", "claims.type.iss.*")
#: Raw bodies written for Dynamic's wire (JSON ``{"jwt": ...}``): meaningless elsewhere.
DYNAMIC_WIRE_CASES = ("envelope.body.*", "envelope.size.body_1mb", "errors.*.jwt_number")
#: Assertions of another kind (an ID token, a sign-in JWT): only a scope claim (or a
#: type) tells them apart from the exchange's.
KIND_CASES = ("claims.kind.*",)
#: Cases whose expectation rests on ``jti`` being required (branch shapes): where the
#: contract makes it optional, an odd or missing ``jti`` is ``either`` and a ``jti`` of a
#: type a guard may skip is ``should``, as under RFC 7523 (``catalog/profiles.py``).
JTI_REQUIRED_CASES = ("replay.jti.*", "claims.name_case.jti")
JTI_TYPE_CASES = ("claims.type.jti.*",)
#: Cases that judge ``sub`` by refusing it; where nothing binds ``sub`` they are
#: ``either`` and only what else they judge (no fetch of the URL) decides (branch shapes).
SUB_VALUE_CASES = ("claims.url.sub",)
#: Assertions without a ``kid`` header.
NO_KID_CASES = ("keys.no_kid.*",)
#: The property oracle's rules about one claim (``_oracle.RULES``).
SCOPE_RULES = frozenset({"scope_missing", "scope_type", "scope_format", "scope_unknown"})
#: (``jti_too_long`` is unjudged under every base: no document bounds a jti's length)
JTI_RULES = frozenset({"jti_missing", "jti_type"})

#: ``None`` in a table: the case's own value (undoes the base's entry).
OWN = None


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a profile's contract changes, as globs over case ids."""

    expect: Mapping[str, Expect | None] = field(default_factory=dict)
    level: Mapping[str, Level | None] = field(default_factory=dict)
    #: a reason skips; ``None`` un-skips a case the base skips
    skip: Mapping[str, str | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.expect or self.level or self.skip)


def overrides(profile: Profile) -> Overrides:
    """The changes ``profile``'s contract makes to its base semantics."""
    base = BASE_DEFAULTS[profile.semantics]
    claims = profile.claims
    expect: dict[str, Expect | None] = {}
    level: dict[str, Level | None] = {}
    skip: dict[str, str | None] = {}
    why = f"the {profile.name} profile"

    if profile.replay != base["replay"]:
        if profile.replay == "allowed":
            reason = f'{why} documents reuse within the lifetime ([replay] policy = "allowed")'
            skip.update(dict.fromkeys(REPLAY, reason))
        else:
            expect.update(dict.fromkeys(REPLAY, Expect.REJECT))
            must = profile.replay == "reject"
            level.update(dict.fromkeys(REPLAY, Level.MUST if must else Level.SHOULD))

    if claims.scope != base["scope"] and not claims.scope:
        reason = f"{why}'s assertion carries no scope claim ([claims] scope = false)"
        skip.update(dict.fromkeys(SCOPE_CASES, reason))
        # the issued token's scope is judged against the one the assertion asked for:
        # without a scope claim there is none (they would send one, and fail a correct
        # server whose tokens carry no scope), whatever [issued] checks says
        skip.update(dict.fromkeys(ISSUED_CHECK_CASES["scope"], reason))
        # nothing then marks an assertion's purpose: another kind of JWT with the claims
        # the contract requires is a valid assertion (as under RFC 7523)
        expect.update(dict.fromkeys(KIND_CASES, Expect.EITHER))

    if (claims.sub == "none") != (base["sub"] == "none"):
        if claims.sub == "none":
            reason = f'{why} binds no subject ([claims] sub = "none"): any subject the issuer signs'
            skip.update(subject_binding(reason))
        else:
            skip.update(dict.fromkeys(subject_binding(""), OWN))
            level.update(dict.fromkeys(("claims.sub.type_*", "claims.type.sub.*"), OWN))

    if claims.sub == "none" and base["sub"] != "none":
        expect.update(dict.fromkeys(SUB_VALUE_CASES, Expect.EITHER))

    jti_required = "jti" in claims.required
    if jti_required != ("jti" in base["required"]):
        expect.update(dict.fromkeys(JTI_REQUIRED_CASES, OWN if jti_required else Expect.EITHER))
        level.update(dict.fromkeys(JTI_TYPE_CASES, OWN if jti_required else Level.SHOULD))

    iss_required = "iss" in claims.required and claims.iss == "exact"
    if iss_required != ("iss" in base["required"]):
        level.update(dict.fromkeys(ISS_REQUIRED_CASES, Level.MUST if iss_required else OWN))
    if claims.iss == "absent" and base["iss"] != "absent":
        reason = f'{why}\'s contract has no iss ([claims] iss = "absent")'
        skip.update(dict.fromkeys(ISS_VALUE_CASES, reason))

    if claims.exp_bound != base["exp_bound"]:
        bound = claims.exp_bound == "required"
        expect.update(dict.fromkeys(EXP_FAR_AHEAD, Expect.REJECT))
        level.update(dict.fromkeys(EXP_FAR_AHEAD, Level.MUST if bound else Level.SHOULD))
    if claims.max_lifetime_s is not None:
        # a documented maximum lifetime is the contract: longer assertions are refused
        expect.update(dict.fromkeys(FAR_FUTURE, Expect.REJECT))
        level.update(dict.fromkeys(FAR_FUTURE, Level.MUST))

    if profile.keys.kid_required:
        # refusing a kid-less assertion is the documented contract; taking one anyway
        # is leniency (a should), never a security failure
        expect.update(dict.fromkeys(NO_KID_CASES, Expect.REJECT))
        level.update(dict.fromkeys(NO_KID_CASES, Level.SHOULD))

    request = profile.request
    dynamic_wire = request.body == "json" and not request.nest
    if profile.base == "dynamic" and not (
        dynamic_wire and request.fields.get("jwt") == "{assertion}"
    ):
        reason = (
            f'written for Dynamic\'s JSON {{"jwt"}} body; {why} sends the assertion '
            "otherwise (its [request])"
        )
        skip.update(dict.fromkeys(DYNAMIC_WIRE_CASES, reason))

    issued = profile.issued
    if issued.format == "opaque" and base["issued_format"] != "opaque":
        reason = f'{why} issues opaque tokens ([issued] format = "opaque"): nothing to decode'
        skip.update(dict.fromkeys(ISSUED_TOKEN_CASES, reason))
        for globs in ISSUED_CHECK_CASES.values():
            skip.update(dict.fromkeys(globs, reason))
    elif issued.format == "jwt":
        for check in base["issued_checks"]:
            if check not in issued.checks:
                reason = (
                    f'{why}\'s [issued] checks lacks "{check}": '
                    f"{ISSUED_CHECK_WHAT[check]} is not part of its contract"
                )
                skip.update(dict.fromkeys(ISSUED_CHECK_CASES[check], reason))
    return Overrides(expect=expect, level=level, skip=skip)


def unjudged(profile: Profile) -> frozenset[str]:
    """The property oracle's rules ``profile`` does not judge: its base's
    (``_oracle.unjudged_rules``), with the rules of the claims its contract adds or drops."""
    base = BASE_DEFAULTS[profile.semantics]
    rules = set(unjudged_rules(profile.semantics))
    claims = profile.claims
    if not claims.scope:
        rules |= SCOPE_RULES
    if claims.sub == "none":
        rules.add("sub_mismatch")
    elif base["sub"] == "none":
        rules.discard("sub_mismatch")
    for name, related in (("iss", {"iss_missing"}), ("jti", JTI_RULES)):
        required = name in claims.required
        if required != (name in base["required"]):
            rules = rules - related if required else rules | related
    return frozenset(rules)


def _matching(table: Mapping[str, object], case_id: str) -> tuple[bool, object]:
    found, value = False, None
    for glob, entry in table.items():
        if fnmatch.fnmatchcase(case_id, glob):
            found, value = True, entry
    return found, value


def with_contract(cases: Iterable[Case], profile: Profile) -> tuple[Case, ...]:
    """``cases`` with ``profile``'s :func:`overrides` written under its semantics key
    (``dynamic``, ``rfc7523/jwt_bearer``...); unchanged when it declares its base's
    contract."""
    changes = overrides(profile)
    if not changes:
        return tuple(cases)
    key = profile.semantics
    out = []
    for case in cases:
        update: dict[str, object] = {}
        for name, table, own in (
            ("expect_by_profile", changes.expect, case.expect),
            ("level_by_profile", changes.level, case.level),
            ("skip_by_profile", changes.skip, None),
        ):
            found, value = _matching(table, case.id)
            if found:
                update[name] = {**getattr(case, name), key: own if value is OWN else value}
        out.append(dataclasses.replace(case, **update) if update else case)  # type: ignore[arg-type]
    return tuple(out)
