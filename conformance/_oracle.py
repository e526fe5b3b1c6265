"""The claims oracle: which rules of ``docs/reference-policy.md`` an assertion breaks.

Written from the policy text alone (the Header and Claims sections), without importing
the emulator, so that a bug in one is caught by the other. Property tests accept an
answer from the target exactly when :func:`violations` returns nothing.

Not covered here: the compact-JWS encoding, the signature itself, JWKS fetching, replay
and the session binding of the transport; the caller resolves the key (``key_alg``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._settings import ALLOWED_ALGS as _POLICY_ALGS

#: The policy's allow-list (exact case).
ALLOWED_ALGS: tuple[str, ...] = _POLICY_ALGS

#: Every rule name :func:`violations` can return, with the policy sentence it encodes.
RULES: Mapping[str, str] = {
    # header
    "alg_not_allowed": "alg is a string in the allow-list (exact case); none and HS* are refused",
    "key_not_found": "the key is chosen by kid from the JWKS (or the single key matching alg)",
    "alg_key_mismatch": "alg matches the selected key's type, curve and JWK alg",
    "kid_type": "kid, when present, is a non-empty string",
    "crit_present": "crit present → refused",
    "b64_present": "b64 present → refused",
    "zip_present": "zip present → refused",
    "cty_present": "cty present → refused (no nested JWTs)",
    "typ_invalid": "typ absent, JWT or application/jwt (case-insensitive)",
    # claims: presence and types
    "sub_missing": "sub is required",
    "sub_type": "sub is a non-empty string",
    "scope_missing": "scope is required",
    "scope_type": "scope is a non-empty string",
    "jti_missing": "jti is required",
    "jti_type": "jti is a non-empty string",
    "jti_too_long": "jti is at most 256 characters",
    "exp_missing": "exp is required",
    "exp_type": "exp is a finite number, not a boolean",
    "iss_missing": "iss is required",
    "iss_type": "iss is a string",
    "iat_type": "iat, when present, is a finite number",
    "nbf_type": "nbf, when present, is a finite number",
    # claims: values
    "sub_mismatch": "sub equals the session's user exactly",
    "scope_format": "scope is space-delimited: single spaces, no leading/trailing whitespace",
    "scope_unknown": "every scope item is a known scope (exact case)",
    "exp_expired": "exp > now - leeway",
    "nbf_future": "nbf <= now + leeway",
    "iat_future": "iat <= now + leeway",
    "nbf_after_exp": "nbf < exp when both are present",
    "lifetime_too_long": "exp - now <= max_lifetime + leeway",
    "iat_lifetime_too_long": "exp - iat <= max_lifetime + leeway when iat is present",
    "iss_mismatch": "iss equals the configured issuer exactly",
    "aud_missing": "aud is required when an audience is configured",
    "aud_type": "aud is a string or an array of strings",
    "aud_mismatch": "aud equals the configured audience, or is an array containing it",
}

_ACCEPTED_TYP = frozenset({"jwt", "application/jwt"})


@dataclass(frozen=True, slots=True)
class Rules:
    """The environment facts the policy is parametrised by."""

    issuer: str
    audience: str | None
    subject: str
    known_scopes: frozenset[str] | tuple[str, ...]
    leeway_s: int = 30
    max_lifetime_s: int = 600
    allowed_algs: tuple[str, ...] = ALLOWED_ALGS


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _header_violations(header: Mapping[str, Any], rules: Rules, key_alg: str | None) -> list[str]:
    out: list[str] = []
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in rules.allowed_algs:
        out.append("alg_not_allowed")
    if "kid" in header and not _is_text(header["kid"]):
        out.append("kid_type")
    if key_alg is None:
        out.append("key_not_found")
    elif isinstance(alg, str) and alg in rules.allowed_algs and alg != key_alg:
        out.append("alg_key_mismatch")
    for member in ("crit", "b64", "zip", "cty"):
        if member in header:
            out.append(f"{member}_present")
    if "typ" in header:
        typ = header["typ"]
        if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYP:
            out.append("typ_invalid")
    return out


def _typed(
    claims: Mapping[str, Any], name: str, check: Any, out: list[str], *, required: bool
) -> bool:
    """Record a missing/type violation; True when the claim is present and well-typed."""
    if name not in claims:
        if required:
            out.append(f"{name}_missing")
        return False
    if not check(claims[name]):
        out.append(f"{name}_type")
        return False
    return True


def _claims_violations(claims: Mapping[str, Any], rules: Rules, now: int) -> list[str]:
    out: list[str] = []
    leeway, max_life = rules.leeway_s, rules.max_lifetime_s

    if _typed(claims, "sub", _is_text, out, required=True) and claims["sub"] != rules.subject:
        out.append("sub_mismatch")

    if _typed(claims, "scope", _is_text, out, required=True):
        scope: str = claims["scope"]
        items = scope.split(" ")
        if scope != scope.strip() or "" in items:
            out.append("scope_format")
        if any(item and item not in rules.known_scopes for item in items):
            out.append("scope_unknown")

    if _typed(claims, "jti", _is_text, out, required=True) and len(claims["jti"]) > 256:
        out.append("jti_too_long")

    has_exp = _typed(claims, "exp", _is_number, out, required=True)
    if (
        _typed(claims, "iss", lambda v: isinstance(v, str), out, required=True)
        and claims["iss"] != rules.issuer
    ):
        out.append("iss_mismatch")
    has_iat = _typed(claims, "iat", _is_number, out, required=False)
    has_nbf = _typed(claims, "nbf", _is_number, out, required=False)

    exp: Any = claims.get("exp")
    iat: Any = claims.get("iat")
    nbf: Any = claims.get("nbf")
    if has_exp and not exp > now - leeway:
        out.append("exp_expired")
    if has_nbf and nbf > now + leeway:
        out.append("nbf_future")
    if has_iat and iat > now + leeway:
        out.append("iat_future")
    if has_nbf and has_exp and not nbf < exp:
        out.append("nbf_after_exp")
    if has_exp and exp - now > max_life + leeway:
        out.append("lifetime_too_long")
    if has_exp and has_iat and exp - iat > max_life + leeway:
        out.append("iat_lifetime_too_long")

    # With no audience configured the policy ignores aud entirely, its type included.
    if rules.audience is not None:
        if "aud" not in claims:
            out.append("aud_missing")
        else:
            aud = claims["aud"]
            if isinstance(aud, str):
                if aud != rules.audience:
                    out.append("aud_mismatch")
            elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
                if rules.audience not in aud:
                    out.append("aud_mismatch")
            else:
                out.append("aud_type")
    return out


def violations(
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    *,
    rules: Rules,
    now: int,
    key_alg: str | None,
) -> list[str]:
    """The names (keys of :data:`RULES`) of the policy rules broken, in a stable order;
    empty when the header and claims are acceptable.

    ``now`` is the server's clock. ``key_alg`` is the alg of the published key the header
    selects (by ``kid``, or the only published key matching ``alg`` when there is no
    ``kid``), or ``None`` when no published key is selected (``key_not_found``). Raises
    ``TypeError`` when ``header`` or ``claims`` is not a mapping.
    """
    if not isinstance(header, Mapping) or not isinstance(claims, Mapping):
        raise TypeError("header and claims must be mappings (decoded JSON objects)")
    return _header_violations(header, rules, key_alg) + _claims_violations(claims, rules, now)


#: Property-oracle rules (:data:`RULES`) a profile does not define, or
#: makes optional: an example that breaks only these is not judged there.
UNJUDGED_RULES: Mapping[str, frozenset[str]] = {
    # undocumented: should cases; no document bounds a jti's length (replay.jti.huge_10kb)
    "dynamic": frozenset({"iss_missing", "nbf_after_exp", "jti_too_long"}),
    "rfc7523": frozenset(
        {
            "scope_missing",  # RFC 7523 defines no scope claim
            "scope_type",
            "scope_format",
            "scope_unknown",
            "jti_missing",  # RFC 7523 §3 item 7: jti is optional
            "jti_type",
            "jti_too_long",
            "nbf_after_exp",  # not an RFC 7523 MUST: time.nbf.after_exp judges it
        }
    ),
    "rfc7523/jwt_bearer": frozenset({"sub_mismatch"}),  # any subject the issuer signs
}


def unjudged_rules(profile: str) -> frozenset[str]:
    """The oracle rules not judged under ``profile`` (``rfc7523/jwt_bearer`` adds to
    ``rfc7523``)."""
    base = profile.split("/", 1)[0]
    rules = UNJUDGED_RULES.get(base, frozenset())
    return rules | UNJUDGED_RULES.get(profile, frozenset()) if profile != base else rules
