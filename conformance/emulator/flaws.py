"""Named flaws: composable modifiers that each break one behaviour of the emulator.

Each flaw turns one check off, or breaks it the way real services have got it wrong, so
that the suite can prove it notices. ``Flaw.breaks`` lists the threat-catalog row ids
(``docs/threat-catalog.md``) whose correct outcome the flaw turns into a wrong one. The
clean emulator (no flaw) follows ``docs/reference-policy.md`` exactly.

This module is pure data: importing it is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .._exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class Flaw:
    """One named way to be wrong."""

    name: str
    description: str
    breaks: tuple[str, ...]
    #: ``None``: the flaw shows through Dynamic's verify call (most break the validation
    #: every shape shares); else the one shipped profile whose route it breaks
    #: (``shapes.py``): only a run of that profile can catch it
    shape: str | None = None


_ALL = (
    Flaw(
        "alg_none_accepted",
        "alg 'none' (any case) is accepted without a signature check, with or without a "
        "signature segment",
        ("D01", "D02"),
    ),
    Flaw(
        "hmac_key_confusion",
        "HS256 is allowed and verified with the PEM bytes of the published public key "
        "(CVE-2016-10555)",
        ("D04",),
    ),
    Flaw(
        "hmac_key_spellings",
        "HS256/384/512 are allowed and verified with the published public key as a key "
        "store may hold it (PKCS#1 or DER, CRLF, indented or BOM-prefixed PEM, OpenSSH, "
        "JWK JSON); a prefix guard refuses only the canonical SPKI PEM (CVE-2026-102268, "
        "CVE-2024-33663, CVE-2026-48526)",
        ("D04",),
    ),
    Flaw(
        "signature_not_checked",
        "the key is selected but the signature is never verified",
        ("E01", "E02", "E03", "E04", "F02"),
    ),
    Flaw(
        "ecdsa_range_unchecked",
        "ECDSA signatures are split in halves of any length and r, s reduced modulo n "
        "without the 0 < r, s < n check; s = 0 inverts to 0 (CVE-2022-21449)",
        ("E05", "E06", "E07"),
    ),
    Flaw(
        "exp_not_checked",
        "exp is neither required nor compared with the clock",
        ("C01", "C02", "C03"),
    ),
    Flaw("huge_leeway", "the clock leeway is one day instead of 30 s", ("C02", "C03", "C12")),
    Flaw("nbf_ignored", "nbf is never compared with the clock", ("C10",)),
    Flaw(
        "no_max_lifetime",
        "no maximum assertion lifetime: exp far in the future, exp in milliseconds and old "
        "iat are accepted",
        ("C05", "C06", "C14", "C17"),
    ),
    Flaw("jti_not_checked", "jti is neither required nor recorded", ("H01", "H02", "H06")),
    Flaw(
        "jti_race",
        "the jti store is check-then-set with a short pause between, so concurrent copies "
        "of one assertion all pass",
        ("H04",),
    ),
    Flaw(
        "jti_burned_by_rejects",
        "the jti is recorded before the other checks, so a rejected attempt burns it",
        ("H09",),
    ),
    Flaw(
        "sub_not_compared",
        "sub is not compared with the session's user",
        ("B02", "I01"),
    ),
    Flaw("sub_case_insensitive", "sub is compared case-insensitively", ("B04",)),
    Flaw(
        "unknown_scopes_accepted",
        "scope items are not checked against the known scopes",
        ("J03", "J11"),
    ),
    Flaw("broad_token", "the issued token carries every known scope", ("L03",)),
    Flaw("long_lived_token", "the issued elevated token lives 30 days", ("L04",)),
    Flaw(
        "token_reusable",
        "the elevated token's single use is not enforced",
        ("H12", "L07"),
    ),
    Flaw(
        "jku_trusted",
        "a jku header is fetched and its JWKS trusted for key selection",
        ("G03",),
    ),
    Flaw(
        "embedded_jwk_trusted",
        "a jwk header is trusted as the verification key (CVE-2018-0114)",
        ("G01",),
    ),
    Flaw(
        "alg_not_matched",
        "the header alg is not checked against the key's JWK alg or curve (an RS512 header "
        "is accepted on a key published as RS256)",
        ("D11",),
    ),
    Flaw(
        "json_serialization_accepted",
        "a JWS JSON serialisation is accepted as the assertion: the unprotected header "
        "updates the protected one, an unsigned alg none entry counts as verified and an "
        "empty signatures array passes (CVE-2026-96760, GHSA-jc38-x7x8-2xc8)",
        ("K05",),
    ),
    Flaw(
        "jwe_decrypted_as_trusted",
        "a JWE encrypted to the service's own key is decrypted and its content trusted as "
        "if signed: raw claims, or a nested JWS read unverified (json-jwt "
        "GHSA-c8v6-786g-vjx6, CVE-2023-51774 class)",
        ("K04",),
    ),
    Flaw(
        "alg_name_normalised",
        "the header alg is normalised before the allowlist check (NFKC, case, whitespace, "
        "zero-width characters, a NUL and what follows, an array's first item)",
        ("D13", "D14"),
    ),
    Flaw("crit_ignored", "the crit header is ignored", ("G13",)),
    Flaw(
        "iss_not_checked",
        "iss is not compared with the environment's issuer, and the JWKS is chosen by the "
        "token's iss among the configured environments (multi-tenant confusion)",
        ("B07", "B08", "B09"),
    ),
    Flaw(
        "time_claims_type_skipped",
        "nbf and iat are compared with the clock only when they are JSON integers: a "
        "string, float, array, object or null is skipped as if absent (Rust jsonwebtoken "
        "CVE-2026-25537)",
        ("C10", "C13"),
    ),
    Flaw(
        "iss_substring_match",
        "iss is compared with a substring test (`iss in issuer`), so a part of the issuer "
        "passes (PyJWT CVE-2024-53861)",
        ("B08",),
    ),
    Flaw(
        "server_error_on_malformed",
        "malformed input (bad encoding, non-object JSON, wrong body types) raises an "
        "unhandled exception: a 500",
        ("A04", "K10", "K11", "M01"),
    ),
    Flaw(
        "leaky_errors",
        "error texts reveal internals: 'Invalid signature. Expected <key material> got "
        "<signature>' (CVE-2019-7644) and exception reprs",
        ("M03",),
    ),
    # -- issue 14, classes 4-9 (branch detb) --
    Flaw(
        "jti_prototype_names",
        "jti values named like a JavaScript Object.prototype member (__proto__, constructor, "
        "toString, hasOwnProperty...) are never recorded: a plain-object replay store",
        ("H01",),
    ),
    Flaw(
        "jti_store_bounded",
        "the jti store keeps only the 64 newest jtis (a bounded cache): an assertion "
        "replayed after enough other assertions is accepted again",
        ("H01",),
    ),
    Flaw(
        "lifetime_needs_iat",
        "the maximum assertion lifetime is enforced as exp - iat only: without iat, any "
        "exp is accepted",
        ("C17",),
    ),
    Flaw(
        "token_exp_from_assertion",
        "the elevated token's exp is copied from the assertion's exp, so a long-lived "
        "assertion buys a long-lived token",
        ("L04",),
    ),
    Flaw(
        "operation_without_token",
        "the sensitive operation checks the elevated token only when the header is present: "
        "without it, the session alone is enough",
        ("L06",),
    ),
    Flaw(
        "logout_not_enforced",
        "logout answers 204 but the session stays valid",
        ("A03",),
    ),
    Flaw(
        "errors_reflect_input",
        "refusals are HTML pages that quote the assertion's kid and sub unescaped",
        ("M03",),
    ),
    Flaw(
        "stall_on_many_segments",
        "a token with many '.' separators is re-split in a quadratic loop: a multi-second "
        "stall before the refusal",
        ("K13",),
    ),
    Flaw(
        "own_tokens_accepted",
        "the verify call also accepts JWTs signed by the service's own token key (its session "
        "and elevated tokens) as assertions",
        ("B21",),
    ),
)

#: The out-of-band and key-life-cycle flaws (issue 13): what a target does outside the
#: HTTP answer — fetching URLs from the token, and how it caches and fetches its JWKS.
_OUT_OF_BAND = (
    Flaw(
        "token_urls_fetched",
        "every http(s) URL in the token (jku, x5u, kid, an embedded jwk's members, claim "
        "values) is fetched while the token is checked (SSRF), though keys still come from "
        "the configured JWKS",
        ("B23", "G03", "G04", "G05", "G10", "G11"),
    ),
    Flaw(
        "jwks_fail_open",
        "when the JWKS cannot be fetched (5xx, timeout, bad JSON, too large), the signature "
        "check is skipped: fail open during an outage",
        ("F17",),
    ),
    Flaw(
        "jwks_redirect_followed",
        "the JWKS fetch follows redirects to any origin or address, and trusts what it finds",
        ("F17",),
    ),
    Flaw(
        "revoked_key_kept",
        "a key once fetched stays trusted forever: removing it from the JWKS revokes nothing",
        ("F16",),
    ),
    Flaw(
        "jwks_fetch_per_kid",
        "every unknown kid triggers its own JWKS fetch (no refetch interval): a flood of "
        "random kids is a flood of fetches",
        ("F18",),
    ),
    Flaw(
        "key_use_ignored",
        "a JWK's use and key_ops are ignored: an encryption key verifies signatures",
        ("F08",),
    ),
)

#: The shape flaws (issue 15): one check dropped on one of the other exchange shapes
#: (``shapes.py``, and Dynamic's sign-in as a target of its own); the shared validation
#: flaws above apply to every shape already.
_SHAPES = (
    Flaw(
        "signin_aud_ignored",
        "Dynamic's sign-in call does not compare aud with the environment's configured "
        "audience (the verify call still does): a JWT minted for another relying party "
        "signs its user in",
        ("B10", "B11"),
        shape="dynamic-signin",
    ),
    Flaw(
        "signin_subject_folded",
        "Dynamic's sign-in call looks the user up by the subject folded (NFKC, case "
        "folding, surrounding whitespace and NUL stripped): a JWT for 'Alice' signs in as "
        "'alice'",
        ("B04", "B05"),
        shape="dynamic-signin",
    ),
    Flaw(
        "subject_token_replayable",
        "the RFC 8693 token endpoint does not record the subject token's jti (a stateless "
        "exchange): one subject token buys any number of access tokens",
        ("H01", "H02"),
        shape="rfc8693",
    ),
    Flaw(
        "attest_aud_ignored",
        "the Stytch-shaped attest call checks the profile's issuer but not its audience",
        ("B10", "B11"),
        shape="stytch-attest",
    ),
    Flaw(
        "custom_jwt_exp_unchecked",
        "the Privy-shaped custom JWT call requires exp but never compares it (nor nbf or "
        "iat) with the clock: an expired token signs its user in",
        ("C02", "C03"),
        shape="privy-custom-jwt",
    ),
)

#: The flaws that only a run of a shape's profile can catch, by profile name.
SHAPE_FLAWS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        shape: tuple(f.name for f in _SHAPES if f.shape == shape)
        for shape in dict.fromkeys(f.shape for f in _SHAPES if f.shape is not None)
    }
)

#: Every flaw by name, in a stable order.
FLAWS: Mapping[str, Flaw] = MappingProxyType(
    {flaw.name: flaw for flaw in (*_ALL, *_OUT_OF_BAND, *_SHAPES)}
)


def check_flaws(names: Iterable[str]) -> frozenset[str]:
    """The given flaw names as a frozenset; raises :class:`ConfigError` on an unknown one."""
    chosen = frozenset(names)
    unknown = sorted(chosen - FLAWS.keys())
    if unknown:
        raise ConfigError(
            f"unknown flaw {', '.join(map(repr, unknown))}; known flaws: {', '.join(FLAWS)}"
        )
    return chosen
