"""Weakness families: what a failing case means to a reviewer, as data.

Every case belongs to exactly one family, named by dotted id prefixes (a prefix matches
the id itself or any id that continues it after a dot; the prefixes of two families
never overlap, so there is no precedence to reason about — ``tests/test_findings.py``
proves every built-in case matches exactly one family). A finding (``conformance.
findings``) is one family and the variants of it that failed in a run.

The CWE ids are MITRE's; the ASVS ids are requirements of OWASP ASVS 5.0.0
(``5.0/en/0x18-V9-Self-contained-Tokens.md``, ``0x19-V10-OAuth-and-OIDC.md``,
``0x11-V2-Validation-and-Business-Logic.md``,
``0x25-V16-Security-Logging-and-Error-Handling.md``), each checked against the text of
the release. Extension cases outside every family get :func:`generic` for their category.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "WEAKNESSES",
    "Weakness",
    "by_family",
    "cwe_url",
    "generic",
    "markdown",
    "weakness_for",
]

BCP = "https://www.rfc-editor.org/rfc/rfc8725"
JWT = "https://www.rfc-editor.org/rfc/rfc7519"
JWS = "https://www.rfc-editor.org/rfc/rfc7515"
JWA = "https://www.rfc-editor.org/rfc/rfc7518"
RFC7523 = "https://www.rfc-editor.org/rfc/rfc7523"
ASVS_V9 = "https://github.com/OWASP/ASVS/blob/v5.0.0/5.0/en/0x18-V9-Self-contained-Tokens.md"
ASVS_V10 = "https://github.com/OWASP/ASVS/blob/v5.0.0/5.0/en/0x19-V10-OAuth-and-OIDC.md"
ASVS_V2 = (
    "https://github.com/OWASP/ASVS/blob/v5.0.0/5.0/en/0x11-V2-Validation-and-Business-Logic.md"
)
ASVS_V16 = (
    "https://github.com/OWASP/ASVS/blob/v5.0.0/5.0/en/"
    "0x25-V16-Security-Logging-and-Error-Handling.md"
)
CHEAT = "https://cheatsheetseries.owasp.org/cheatsheets/JSON_Web_Token_for_Java_Cheat_Sheet.html"


def _cwe(n: int) -> str:
    return f"CWE-{n}"


def cwe_url(cwe: str) -> str:
    """MITRE's page of ``CWE-NNN``."""
    return f"https://cwe.mitre.org/data/definitions/{cwe.removeprefix('CWE-')}.html"


@dataclass(frozen=True, slots=True)
class Weakness:
    """One weakness family: the data a finding shows and SARIF turns into a rule."""

    family: str
    title: str
    impact: str
    cwe: tuple[str, ...]
    asvs: tuple[str, ...]
    spec: tuple[str, ...]
    remediation: str
    references: tuple[str, ...]
    prefixes: tuple[str, ...]

    def matches(self, case_id: str) -> bool:
        return any(case_id == p or case_id.startswith(p + ".") for p in self.prefixes)


def _w(
    family: str,
    title: str,
    impact: str,
    *,
    cwe: tuple[int, ...],
    asvs: tuple[str, ...],
    spec: tuple[str, ...],
    remediation: str,
    references: tuple[str, ...],
    prefixes: tuple[str, ...],
) -> Weakness:
    return Weakness(
        family=family,
        title=title,
        impact=impact,
        cwe=tuple(_cwe(n) for n in cwe),
        asvs=asvs,
        spec=spec,
        remediation=remediation,
        references=references,
        prefixes=prefixes,
    )


WEAKNESSES: tuple[Weakness, ...] = (
    # --- the request envelope -------------------------------------------------------
    _w(
        "envelope.valid",
        "A valid assertion is refused",
        "No attacker gain: legitimate step-ups fail, so the integration does not work.",
        cwe=(20,),
        asvs=(),
        spec=("RFC 7523 §3",),
        remediation="Accept a correctly signed, fresh assertion for the session's user; "
        "compare the server's validation settings with the documented contract.",
        references=(RFC7523,),
        prefixes=("envelope.valid",),
    ),
    _w(
        "envelope.session",
        "Exchange without a valid session",
        "An attacker without a signed-in session, or with a forged one, obtains a token.",
        cwe=(287, 347),
        asvs=("V9.1.1", "V10.3.2"),
        spec=("Dynamic docs: external auth step-up (bearer session)",),
        remediation="Authenticate the session bearer (signature, expiry, revocation) before "
        "reading the assertion; refuse the exchange without one.",
        references=(ASVS_V9,),
        prefixes=("envelope.session",),
    ),
    _w(
        "envelope.request",
        "Malformed exchange request accepted",
        "Request parsing is lenient: a token may be issued for a request the contract "
        "forbids, or a parser differential hides the assertion actually judged.",
        cwe=(20, 436),
        asvs=("V2.2.1", "V10.4.10"),
        spec=("RFC 7523 §2.1, §2.2", "RFC 6749 §5.2"),
        remediation="Validate the request body against the documented shape (one assertion, "
        "the right content type and grant parameters) and refuse anything else with 400.",
        references=(RFC7523, "https://www.rfc-editor.org/rfc/rfc6749#section-5.2"),
        prefixes=("envelope.body", "envelope.rfc7523", "errors.rfc7523"),
    ),
    _w(
        "envelope.environment",
        "Environment id not checked exactly",
        "An assertion or session of one environment is honoured by another.",
        cwe=(863, 697),
        asvs=("V9.2.3",),
        spec=("Dynamic docs: environment id in the path",),
        remediation="Resolve the environment from the path by exact match and refuse "
        "unknown, malformed or mismatched ids.",
        references=(ASVS_V9,),
        prefixes=("envelope.environment",),
    ),
    _w(
        "dos.resources",
        "Oversized or costly input processed",
        "An attacker spends the server's memory or CPU with one request (denial of service).",
        cwe=(400, 770),
        asvs=("V2.4.1", "V16.5.3"),
        spec=("RFC 9110 §15.5.14",),
        remediation="Bound the request body and token size before decoding, and limit JSON "
        "depth and number sizes; answer 413 or 400 without parsing further.",
        references=(BCP,),
        prefixes=(
            "envelope.size",
            "encoding.heavy_json",
            "encoding.exhaustion",
            "keys.random_kid_flood",
        ),
    ),
    # --- claims ------------------------------------------------------------------------
    _w(
        "claims.sub",
        "Subject not bound exactly",
        "A token is issued for a subject other than the signed-in user (or client): "
        "account takeover through a look-alike or another user's id.",
        cwe=(639, 863, 697),
        asvs=("V10.3.2", "V10.3.3"),
        spec=("RFC 7523 §3 item 2", "RFC 7519 §4.1.2"),
        remediation="Require `sub` as a string and compare it byte for byte with the "
        "session's user (or the client_id); no case folding, trimming or normalisation.",
        references=(RFC7523, JWT, ASVS_V10),
        prefixes=(
            "claims.sub",
            "claims.rfc7523.sub_not_client_id",
            "claims.rfc7523.request_object_no_sub",
            "claims.rfc7523.issued_subject",
        ),
    ),
    _w(
        "subject.session",
        "Assertion not bound to the session",
        "A user's assertion works with another user's or environment's session, or after "
        "logout: a token for someone else.",
        cwe=(639, 863, 613),
        asvs=("V10.3.2", "V10.3.3"),
        spec=("Dynamic docs: external auth step-up (session binding)",),
        remediation="Bind the exchange to the live session: its user, its environment and "
        "its revocation state must all match the assertion.",
        references=(ASVS_V10,),
        prefixes=(
            "subject.session",
            "subject.environment",
            "subject.identifier",
            "issued.logout",
        ),
    ),
    _w(
        "subject.answer",
        "Token or session issued for another subject",
        "Signing in (or exchanging) with a `sub` that differs from a user's only by case, a "
        "trailing NUL or space, or a Unicode look-alike yields that user's session: an "
        "attacker who may mint tokens for their own subjects takes over another account.",
        cwe=(287, 178, 176),
        asvs=(),
        spec=("RFC 7519 §4.1.2", "RFC 7519 §7.3 (case-sensitive string comparison)"),
        remediation="Look users up by the exact `sub` string (no case folding, trimming or "
        "Unicode normalisation), or refuse subjects outside a documented character set.",
        references=(JWT,),
        prefixes=("subject.answer",),
    ),
    _w(
        "claims.iss",
        "Issuer not checked exactly",
        "Assertions from another issuer, or from a look-alike of the trusted one, are accepted.",
        cwe=(345, 697),
        asvs=("V9.1.3", "V10.3.3"),
        spec=("RFC 7523 §3 item 1", "RFC 8725 §3.8"),
        remediation="Require `iss` and compare it exactly with the configured issuer, and "
        "select keys by that issuer only.",
        references=(RFC7523, BCP),
        prefixes=("claims.iss", "claims.rfc7523.iss_not_client_id"),
    ),
    _w(
        "claims.aud",
        "Audience not enforced",
        "An assertion minted for another service is replayed here (token substitution).",
        cwe=(345, 863),
        asvs=("V9.2.3", "V10.3.1"),
        spec=("RFC 7523 §3 item 3", "RFC 7519 §4.1.3", "RFC 8725 §3.9"),
        remediation="Require `aud` and accept it only when it (or an element of it) equals "
        "this endpoint's identifier; refuse wrong types.",
        references=(RFC7523, BCP, ASVS_V9),
        prefixes=(
            "claims.aud",
            "claims.rfc7523.aud_token_url",
            "claims.rfc7523.aud_other_server",
            "claims.rfc7523.aud_issuer_in_array",
            "claims.rfc7523.aud_issuer_and_other",
            "claims.rfc7523.aud_token_url_under_issuer_rule",
        ),
    ),
    _w(
        "claims.extra",
        "Extra claims change what is issued",
        "Claims the profile does not define (roles, admin flags, URLs) are honoured: "
        "privilege escalation through the assertion.",
        cwe=(269, 863),
        asvs=("V10.3.2",),
        spec=("RFC 7519 §4",),
        remediation="Ignore claims the profile does not define; never copy them into the "
        "issued token or use them in authorization decisions.",
        references=(JWT,),
        prefixes=("claims.extra", "claims.url"),
    ),
    _w(
        "claims.type",
        "Claims of the wrong type or shape accepted",
        "A payload that is not a JSON object, or claim names in the wrong case, still "
        "yields a token: validation is bypassed by type confusion.",
        cwe=(1287, 843),
        asvs=("V9.1.1", "V2.2.1"),
        spec=("RFC 7519 §7.2",),
        remediation="Require the payload to be a JSON object with correctly typed, "
        "case-sensitive claim names before any check.",
        references=(JWT,),
        prefixes=("claims.payload", "claims.name_case", "claims.type"),
    ),
    _w(
        "parsing.duplicate",
        "Duplicate JSON members parsed ambiguously",
        "Two parsers see two different tokens: one member is checked, the other used.",
        cwe=(436,),
        asvs=("V9.1.1",),
        spec=("RFC 7515 §4", "RFC 7519 §4"),
        remediation="Reject headers and payloads with duplicate member names (RFC 7515 "
        "§4 allows refusing them) instead of keeping the first or the last.",
        references=(JWS, JWT),
        prefixes=("claims.duplicate", "header.duplicate"),
    ),
    _w(
        "claims.injection",
        "Injection payloads in claims mishandled",
        "Claim values reach a query, a log or a path unescaped: injection into the "
        "server's back end.",
        cwe=(20, 89, 22),
        asvs=("V2.2.1", "V16.4.1"),
        spec=("RFC 8725 §3.10",),
        remediation="Treat every claim as untrusted data: validate its format and use "
        "parameterised queries and encoded log output.",
        references=(BCP,),
        prefixes=("claims.injection",),
    ),
    _w(
        "token.type",
        "Token type or purpose confused",
        "A token of another kind (an ID token, a session token, an issued token, a JWT "
        "typed for another use) is accepted as an assertion or a bearer.",
        cwe=(345, 843),
        asvs=("V9.2.2",),
        spec=("RFC 8725 §3.11, §3.12",),
        remediation="Check the token's type (`typ`) and purpose; accept only assertions "
        "where an assertion is expected and only session tokens as the bearer.",
        references=(BCP, ASVS_V9),
        prefixes=("claims.kind", "claims.purpose", "header.typ.refused", "subject.confusion"),
    ),
    _w(
        "property.oracle",
        "Random claim sets or headers judged wrongly",
        "Property tests found an assertion the validation rules should refuse (or accept) "
        "that this target treats otherwise.",
        cwe=(20,),
        asvs=("V9.1.1", "V9.2.1"),
        spec=("RFC 7519 §7.2", "RFC 7523 §3"),
        remediation="Reproduce the shrunk example from the evidence and fix the rule it breaks.",
        references=(JWT, RFC7523),
        prefixes=("claims.property", "header.property"),
    ),
    # --- time --------------------------------------------------------------------------
    _w(
        "time.validity",
        "Expired or not-yet-valid assertions accepted",
        "A stolen or old assertion keeps working after `exp` (or before `nbf`/`iat`).",
        cwe=(613, 1287),
        asvs=("V9.2.1",),
        spec=("RFC 7519 §4.1.4, §4.1.5", "RFC 7523 §3 item 4"),
        remediation="Require `exp` as a NumericDate and refuse tokens outside "
        "[nbf - leeway, exp + leeway] with a leeway of a few minutes at most.",
        references=(JWT, RFC7523, ASVS_V9),
        prefixes=(
            "time.exp.missing",
            "time.exp.past_5min",
            "time.exp.past_1day",
            "time.exp.past_beyond_leeway",
            "time.exp.past_beyond_recommended",
            "time.exp.past_inside_leeway",
            "time.exp.numeric_string",
            "time.exp.fraction",
            "time.exp.value_null",
            "time.exp.value_true",
            "time.exp.value_false",
            "time.exp.value_zero",
            "time.exp.value_negative",
            "time.exp.value_huge_float",
            "time.exp.value_int63",
            "time.exp.value_int64",
            "time.exp.value_array",
            "time.exp.tolerance_measured",
            "time.exp.milliseconds",
            "time.nbf",
            "time.iat.missing",
            "time.iat.future_beyond_leeway",
            "time.iat.future_beyond_recommended",
            "time.iat.future_1hour",
            "time.iat.future_inside_leeway",
            "time.skew",
            "time.replay",
        ),
    ),
    _w(
        "time.lifetime",
        "Long-lived assertions accepted",
        "An assertion valid for days or years (or issued long ago) can be stolen and used "
        "much later.",
        cwe=(613,),
        asvs=("V9.2.1",),
        spec=("RFC 7523 §3 item 4",),
        remediation="Bound `exp - iat` (and the age of `iat`) to the profile's maximum "
        "lifetime, a few minutes for a one-time assertion.",
        references=(RFC7523, BCP),
        prefixes=(
            "time.exp.future_2hours",
            "time.exp.future_1day",
            "time.exp.future_1year",
            "time.lifetime",
            "time.iat.past_1week",
            "time.iat.past_over_max",
        ),
    ),
    # --- algorithms and signatures ----------------------------------------------------
    _w(
        "alg.none",
        "Unsigned assertions accepted (alg none or empty signature)",
        "Anyone can mint an assertion for any user without a key: full authentication bypass.",
        cwe=(347, 327),
        asvs=("V9.1.1", "V9.1.2"),
        spec=("RFC 8725 §3.1", "RFC 7518 §3.6"),
        remediation="Verify every assertion with an allow-list of asymmetric algorithms "
        "fixed by configuration; never take `none` or an empty signature.",
        references=(f"{BCP}#section-3.1", ASVS_V9, CHEAT),
        prefixes=("algorithms.none", "algorithms.null_signature"),
    ),
    _w(
        "alg.key_confusion",
        "HMAC accepted with a public or guessable key",
        "An attacker signs with HS* using the published public key or a common secret and "
        "obtains tokens for any user.",
        cwe=(347, 327, 326),
        asvs=("V9.1.2",),
        spec=("RFC 8725 §3.1, §3.2",),
        remediation="Bind each key to one algorithm and refuse symmetric algorithms when "
        "the issuer publishes asymmetric keys; never use a JWK's public bytes as a secret.",
        references=(f"{BCP}#section-3.1", ASVS_V9),
        prefixes=("algorithms.key_confusion", "algorithms.hmac"),
    ),
    _w(
        "alg.allowlist",
        "Algorithm outside the allow-list or mismatched to its key accepted",
        "The algorithm header, not the key, decides verification: a door to key confusion "
        "and weak algorithms.",
        cwe=(347, 327),
        asvs=("V9.1.2",),
        spec=("RFC 8725 §3.1", "RFC 7515 §4.1.1"),
        remediation="Compare `alg` exactly against a per-key allow-list (the key's `alg`) "
        "and refuse unknown, malformed or JWE algorithms.",
        references=(f"{BCP}#section-3.1", JWS),
        prefixes=(
            "algorithms.mismatch",
            "algorithms.header_alg",
            "algorithms.outside_allowlist",
        ),
    ),
    _w(
        "alg.supported",
        "An allowed algorithm is refused",
        "No attacker gain: clients using a documented algorithm cannot step up.",
        cwe=(20,),
        asvs=(),
        spec=("RFC 7518 §3.1",),
        remediation="Accept every algorithm the profile documents for the published keys.",
        references=(JWA,),
        prefixes=("algorithms.allowed", "algorithms.fully_specified"),
    ),
    _w(
        "signature.invalid",
        "Altered or invalid signatures accepted",
        "A token whose content or signature was changed still verifies: forgery of any claim.",
        cwe=(347,),
        asvs=("V9.1.1",),
        spec=("RFC 7515 §5.2", "RFC 8725 §3.3, §3.4"),
        remediation="Verify the signature over the exact bytes received with a maintained "
        "library; refuse malformed signatures (wrong length, out-of-range ECDSA values).",
        references=(JWS, BCP, ASVS_V9),
        prefixes=("signature",),
    ),
    # --- keys --------------------------------------------------------------------------
    _w(
        "keys.selection",
        "Assertion verified with an untrusted, removed or wrong key",
        "An attacker key, another issuer's key or a revoked key signs accepted assertions.",
        cwe=(347, 345),
        asvs=("V9.1.3",),
        spec=("RFC 7515 §4.1.4", "RFC 8725 §3.10"),
        remediation="Select the verification key from the issuer's current JWKS by `kid` "
        "and refuse unknown kids; refresh the set on rotation and drop removed keys.",
        references=(JWS, ASVS_V9),
        prefixes=("keys.kid", "keys.no_kid", "keys.rotation", "keys.revocation"),
    ),
    _w(
        "keys.jwks",
        "Unsafe keys of the JWKS used",
        "Weak, mistyped or encryption-only keys of the key set verify assertions.",
        cwe=(326, 347),
        asvs=("V9.1.3",),
        spec=("RFC 7517 §4.2, §4.3", "RFC 8725 §3.5"),
        remediation="Use only signature keys (`use`/`key_ops`) of the expected type and "
        "strength; skip malformed or ambiguous entries instead of trusting them.",
        references=("https://www.rfc-editor.org/rfc/rfc7517", BCP),
        prefixes=("keys.jwks",),
    ),
    _w(
        "keys.jwks_fetch",
        "JWKS fetch failures fail open or stall",
        "When the key set cannot be fetched the endpoint accepts, hangs or crashes.",
        cwe=(636, 755),
        asvs=("V16.5.2", "V16.5.3"),
        spec=(),
        remediation="Bound JWKS fetches (time, size), keep the last good set, and refuse "
        "assertions when no valid key is available.",
        references=(ASVS_V16,),
        prefixes=("keys.jwks_fetch_failure", "keys.jwks_outage"),
    ),
    # --- header ------------------------------------------------------------------------
    _w(
        "header.embedded_key",
        "Key or key URL taken from the token header",
        "The attacker ships their own key (`jwk`, `jku`, `x5u`, `x5c`) and signs any "
        "assertion with it.",
        cwe=(347, 345, 918),
        asvs=("V9.1.3",),
        spec=("RFC 8725 §3.10", "RFC 7515 §4.1.2-4.1.6"),
        remediation="Ignore key-carrying headers; take keys only from the issuer's "
        "pre-configured JWKS (an allow-list of sources, per ASVS 9.1.3).",
        references=(BCP, ASVS_V9),
        prefixes=(
            "header.jwk",
            "header.jku",
            "header.x5u",
            "header.x5c",
            "header.thumbprint_mismatch",
        ),
    ),
    _w(
        "header.kid_injection",
        "kid used unsafely",
        "The `kid` reaches a file path, query or command: key confusion with a known file "
        "or injection into the key lookup.",
        cwe=(22, 89, 1287),
        asvs=("V9.1.3", "V2.2.1"),
        spec=("RFC 8725 §3.10", "RFC 7515 §4.1.4"),
        remediation="Look `kid` up in the in-memory key set only, as an opaque string of "
        "bounded length; never build paths or queries from it.",
        references=(BCP,),
        prefixes=("header.kid",),
    ),
    _w(
        "header.unsupported",
        "Header parameters ignored or misprocessed",
        "Headers that change how the token must be read (`crit`, `b64`, `zip`, `cty`) are "
        "ignored: the checked content is not the content used.",
        cwe=(20, 436),
        asvs=("V9.1.1",),
        spec=("RFC 7515 §4.1.11", "RFC 7797 §3", "RFC 8725 §3.6"),
        remediation="Refuse tokens with `crit` extensions you do not implement, `zip` on a "
        "JWS, `b64`, or a nested `cty`.",
        references=(JWS, BCP),
        prefixes=(
            "header.crit",
            "header.b64",
            "header.zip",
            "header.cty",
            "header.unknown_member",
        ),
    ),
    _w(
        "header.typ",
        "An allowed typ is refused",
        "No attacker gain: assertions with a documented `typ` (or none) cannot step up.",
        cwe=(20,),
        asvs=(),
        spec=("RFC 7519 §5.1",),
        remediation="Accept `typ` values the profile allows, compared case-insensitively "
        "as RFC 7515 §4.1.9 recommends, and an absent `typ` unless the profile requires it.",
        references=(JWT,),
        prefixes=(
            "header.typ.accepted",
            "header.rfc7523.typ_client_authentication",
            "header.rfc7523.typ_client_authentication_as_grant",
        ),
    ),
    # --- replay ------------------------------------------------------------------------
    _w(
        "replay",
        "Assertions can be replayed",
        "A captured assertion (or a re-signed copy of its jti) is exchanged again for "
        "another token.",
        cwe=(294,),
        asvs=("V10.4.16",),
        spec=("RFC 7523 §3 item 7", "RFC 7519 §4.1.7"),
        remediation="Require `jti` and store each (issuer, jti) until the assertion "
        "expires; refuse a second use, whatever else changed.",
        references=(RFC7523, JWT),
        prefixes=(
            "replay.same_token",
            "replay.same_jti",
            "replay.jti",
            "replay.first_use",
            "replay.elevated_token",
            "claims.rfc7523.jti_reuse",
        ),
    ),
    _w(
        "replay.race",
        "Concurrent copies of one assertion all succeed",
        "A replay guard checked before it is written lets parallel copies through (TOCTOU).",
        cwe=(367, 294),
        asvs=("V2.3.4",),
        spec=("RFC 7523 §3 item 7",),
        remediation="Record the jti atomically (a unique insert) before issuing the token.",
        references=(RFC7523,),
        prefixes=("replay.race",),
    ),
    _w(
        "replay.burned",
        "A refused attempt spends the jti",
        "An attacker who sees a jti can burn it with a broken copy and block the real "
        "step-up (denial of service).",
        cwe=(400,),
        asvs=(),
        spec=("RFC 7523 §3 item 7",),
        remediation="Record the jti only after the assertion passed every other check.",
        references=(RFC7523,),
        prefixes=("replay.not_burned",),
    ),
    # --- scope and issued tokens -----------------------------------------------------
    _w(
        "scope",
        "Scope not checked exactly",
        "The assertion obtains a broader or unknown scope (wildcards, look-alikes, other "
        "delimiters).",
        cwe=(269, 863),
        asvs=("V10.3.2", "V10.4.11"),
        spec=("RFC 6749 §3.3", "RFC 8693 §4.2"),
        remediation="Parse `scope` as one space-delimited string and grant only exact, "
        "known, allowed values; refuse anything else.",
        references=("https://www.rfc-editor.org/rfc/rfc6749#section-3.3", ASVS_V10),
        prefixes=("scope",),
    ),
    _w(
        "issued.token",
        "Issued token is weak or wrongly scoped",
        "The token issued lives too long, is not signed properly, not bound, or carries "
        "more than was asked.",
        cwe=(613, 863, 347),
        asvs=("V9.2.1", "V10.3.2"),
        spec=("Dynamic docs: elevated access token",),
        remediation="Issue a short-lived signed token with exactly the granted scope, bound "
        "to the session, and a fresh one each time.",
        references=(ASVS_V9,),
        prefixes=("issued.response", "issued.token"),
    ),
    _w(
        "issued.step_up",
        "Step-up state not enforced",
        "The service stops requiring a step-up (after a refused verify, or once the "
        "single-use token is spent): the sensitive operation without a fresh assertion.",
        cwe=(841,),
        asvs=("V2.3.1",),
        spec=("Dynamic docs: external auth step-up (stepUp/check)",),
        remediation="Keep the step-up requirement until a verify is accepted, and require "
        "it again once the issued token is spent or expired.",
        references=(ASVS_V2,),
        prefixes=("issued.step_up",),
    ),
    _w(
        "issued.operation",
        "Issued token honoured beyond its grant",
        "The sensitive operation accepts an issued token for another scope, user or "
        "environment, or a tampered one.",
        cwe=(863, 347),
        asvs=("V10.3.1", "V10.3.2"),
        spec=("Dynamic docs: elevated access token",),
        remediation="Verify the issued token's signature, subject, environment and scope "
        "at the operation.",
        references=(ASVS_V10,),
        prefixes=("issued.operation",),
    ),
    # --- encoding ------------------------------------------------------------------------
    _w(
        "encoding.lenient",
        "Non-canonical token encodings accepted",
        "Lenient parsing; it gains a token only where a second spelling slips past a "
        "replay guard keyed on the token's text.",
        cwe=(20, 180),
        asvs=("V9.1.1",),
        spec=("RFC 7515 §2, §7.1", "RFC 8725 §3.7"),
        remediation="Accept only the JWS Compact Serialization: three base64url segments "
        "without padding or whitespace, UTF-8 JSON objects.",
        references=(JWS, BCP),
        prefixes=(
            "encoding.empty",
            "encoding.segments",
            "encoding.jwe",
            "encoding.json_serialization",
            "encoding.base64",
            "encoding.whitespace",
            "encoding.invalid_char",
            "encoding.noncanonical",
            "encoding.text",
            "encoding.json",
            "encoding.json_whitespace",
            "encoding.wrapped",
            "encoding.escaped_names",
        ),
    ),
    # --- errors --------------------------------------------------------------------------
    _w(
        "errors.contract",
        "Error responses break the contract",
        "Clients cannot tell a refusal from a fault (wrong status, body or charset).",
        cwe=(755,),
        asvs=("V16.5.1",),
        spec=("RFC 6749 §5.2",),
        remediation="Answer refusals with the documented 4xx status and JSON error body in UTF-8.",
        references=("https://www.rfc-editor.org/rfc/rfc6749#section-5.2", ASVS_V16),
        prefixes=(
            "errors.status",
            "errors.body",
            "errors.charset",
            "errors.hygiene.every_refusal_json_error",
        ),
    ),
    _w(
        "errors.disclosure",
        "Error responses disclose internals",
        "Stack traces, key material or which check failed help an attacker tune a forgery.",
        cwe=(209, 204),
        asvs=("V16.5.1",),
        spec=(),
        remediation="Return a generic error message; log the detail server-side only.",
        references=(ASVS_V16,),
        prefixes=("errors.disclosure", "errors.hygiene.every_refusal_discloses_nothing"),
    ),
)

_BY_FAMILY: Mapping[str, Weakness] = {w.family: w for w in WEAKNESSES}


def generic(category: str) -> Weakness:
    """The family of an extension case no built-in family names: one per category."""
    return Weakness(
        family=f"other.{category}",
        title=f"Other {category} cases failed",
        impact="See each case's rationale: these cases come from an extension module.",
        cwe=(),
        asvs=(),
        spec=(),
        remediation="See each case's rationale and references.",
        references=(),
        prefixes=(),
    )


def weakness_for(case_id: str, category: str) -> Weakness:
    """The family of a case: the one whose prefixes match its id, else the generic one of
    its category."""
    for weakness in WEAKNESSES:
        if weakness.matches(case_id):
            return weakness
    return generic(category)


def by_family(family: str) -> Weakness | None:
    return _BY_FAMILY.get(family)


def markdown() -> str:
    """docs/weaknesses.md: every family with its ids, CWE, ASVS, spec and remediation
    (``python3 -m conformance.catalog.weaknesses > docs/weaknesses.md``)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Weakness families",
        "",
        "Generated by `python3 -m conformance.catalog.weaknesses` (a test keeps it current).",
        "A finding is one family and the variants of it that failed, warned or erred in a run;",
        "a SARIF rule is a family. CWE ids are MITRE's; ASVS ids are OWASP ASVS 5.0.0's.",
        "",
        "| family | title | CWE | ASVS 5.0 | spec | cases (id prefixes) | remediation |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in WEAKNESSES:
        cwe = ", ".join(f"[{c}]({cwe_url(c)})" for c in w.cwe)
        prefixes = " ".join(f"`{p}`" for p in w.prefixes)
        lines.append(
            f"| `{w.family}` | {cell(w.title)} | {cwe} | {', '.join(w.asvs)} "
            f"| {cell('; '.join(w.spec))} | {prefixes} | {cell(w.remediation)} |"
        )
    lines += ["", "An extension case outside every family belongs to `other.<category>`."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
