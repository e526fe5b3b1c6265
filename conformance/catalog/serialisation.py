"""Other serialisations and algorithm-name edge cases (issue 14, class 3).

``encoding.json_serialization.{flattened,general}`` send a *valid* token in the JWS JSON
serialisation, and ``algorithms.header_alg.*`` the classic alg spellings. This module adds
what the 2024-2026 advisories exploited:

- the JSON serialisation's own parts (RFC 7515 §7.2): ``alg`` only in the unprotected
  header, ``alg: none`` there (Authlib CVE-2026-96760 accepted unsigned JSON JWS), an
  unprotected ``alg`` that contradicts the protected one (web-token GHSA-jc38-x7x8-2xc8),
  a general serialisation with no signature at all, or with an unsigned entry first;
- algorithm names that normalise to a real one (full-width, a Cyrillic look-alike, a
  zero-width space, an array holding the alg next to ``none``) and ``none`` spelled so
  that a C string compare or NFKC reads ``none`` (a trailing NUL, full-width, an array).

- a JWE the target *can* decrypt, because it is encrypted to the target's own published
  token key, holding plain claims or an unsigned nested JWT (json-jwt
  GHSA-c8v6-786g-vjx6): only a service that trusts decryption as authentication accepts.

A valid nested JWT and a JWE nobody can decrypt are ``header.cty.nested_jwt`` and
``encoding.jwe.five_segments``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..forge import JsonSignature, compact, encode_json, jwe_to, jws_json, standard_header
from .authoring import (
    Case,
    CaseContext,
    Level,
    Severity,
    claims_with,
    signed,
    token_case,
)

__all__ = ["CASES", "NOT_APPLICABLE"]

_JSON_WHY = (
    "The JWS JSON serialisation carries members the compact form rules out: an unprotected "
    "header nobody signed, several signatures or none. A verifier that accepts it where a "
    "compact JWT belongs (the Dynamic verify call and RFC 7523 both take a compact JWT) "
    "and merges the unprotected header, or treats an empty signature list as 'nothing "
    "failed', accepts an assertion no trusted key signed."
)
_JSON_REFS = (
    "RFC 7515 §7.2",
    "RFC 7519 §7.2 step 1 (a JWT is compact)",
    "RFC 7523 §2.1 (a single JWT)",
    "CVE-2026-96760",
    "GHSA-jc38-x7x8-2xc8",
    "CWE-347",
    "CWE-436",
)


def _json(
    make: Callable[[CaseContext], tuple[list[JsonSignature], bool]],
) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        entries, flattened = make(ctx)
        return jws_json(claims_with(ctx), entries, flattened=flattened)

    return build


def _unprotected_only(ctx: CaseContext) -> tuple[list[JsonSignature], bool]:
    key = ctx.key
    return [JsonSignature(header=standard_header(key), key=key.private_key, alg=key.alg)], True


def _unprotected_none(ctx: CaseContext) -> tuple[list[JsonSignature], bool]:
    return [JsonSignature(header={"alg": "none", "typ": "JWT"})], True


def _alg_conflict(ctx: CaseContext) -> tuple[list[JsonSignature], bool]:
    return [JsonSignature(protected=standard_header(ctx.key), header={"alg": "none"})], True


def _no_signatures(ctx: CaseContext) -> tuple[list[JsonSignature], bool]:
    return [], False


def _none_then_broken(ctx: CaseContext) -> tuple[list[JsonSignature], bool]:
    key = ctx.key
    broken = JsonSignature(protected=standard_header(key), signature=b"\x5a" * 64)
    return [JsonSignature(protected={"alg": "none", "typ": "JWT"}), broken], False


# (id suffix, title, build, level, anchors)
_JSON_CASES: tuple[tuple[str, str, Callable[[CaseContext], str], Level, tuple[str, ...]], ...] = (
    ("unprotected_alg_only",
     "JSON serialisation (flattened) with alg and kid only in the unprotected header, "
     "validly signed", _json(_unprotected_only), Level.SHOULD, ("K05",)),
    ("unprotected_alg_none",
     "JSON serialisation (flattened) with alg none in the unprotected header and no "
     "signature", _json(_unprotected_none), Level.MUST, ("K05", "D01")),
    ("alg_conflict_unsigned",
     "JSON serialisation (flattened): the protected header names the trusted key, the "
     "unprotected one says alg none, no signature", _json(_alg_conflict), Level.MUST,
     ("K05", "D01")),
    ("general_no_signatures",
     "JSON serialisation (general) with an empty signatures array",
     _json(_no_signatures), Level.MUST, ("K05",)),
    ("general_none_then_broken",
     "JSON serialisation (general): an alg none entry, then a broken signature by the "
     "trusted kid", _json(_none_then_broken), Level.MUST, ("K05", "D01")),
)  # fmt: skip


def _json_cases() -> list[Case]:
    return [
        token_case(
            f"encoding.json_serialization.{name}",
            title,
            category="encoding",
            build=build,
            level=level,
            # a valid signature by the trusted key in another serialisation gains nothing
            severity=Severity.MEDIUM if level is Level.SHOULD else Severity.CRITICAL,
            rationale=_JSON_WHY,
            references=_JSON_REFS,
            anchors=anchors,
        )
        for name, title, build, level, anchors in _JSON_CASES
    ]


# --- a JWE the target can decrypt ---------------------------------------------------------

_JWE_WHY = (
    "A JWE encrypted to the service's own public key is something only the service can "
    "open, and anyone can make. A service whose JOSE library decrypts whatever it is "
    "given and then trusts the content as if it were signed (json-jwt "
    "GHSA-c8v6-786g-vjx6; the sign/encrypt confusion of CVE-2023-51774) accepts claims no "
    "trusted key signed: a forged assertion for any user."
)
_JWE_REFS = ("RFC 8725bis §2.3", "RFC 8725bis §3.3", "RFC 7519 §7.2", "CVE-2023-51774", "CWE-347")
_CURVES = ("P-256", "P-384", "P-521")


def _to_target(
    plaintext: Callable[[CaseContext], bytes], cty: str | None
) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        jwks = ctx.token_jwks() or {}
        for jwk in jwks.get("keys", []) if isinstance(jwks.get("keys"), list) else []:
            if isinstance(jwk, dict) and (
                jwk.get("kty") == "RSA" or (jwk.get("kty") == "EC" and jwk.get("crv") in _CURVES)
            ):
                header = {"kid": jwk.get("kid"), **({"cty": cty} if cty else {})}
                return jwe_to(plaintext(ctx), jwk, header=header)
        ctx.skip("the target publishes no EC or RSA token key to encrypt a JWE to")
        raise AssertionError("unreachable: skip raises")

    return build


def _plain_claims(ctx: CaseContext) -> bytes:
    return encode_json(claims_with(ctx))


def _unsigned_jws(ctx: CaseContext) -> bytes:
    header = {"alg": "none", "typ": "JWT"}
    return compact(header, claims_with(ctx), signature=b"").encode("ascii")


def _jwe_cases() -> list[Case]:
    rows = (
        ("jwe.to_target_key_claims",
         "A JWE encrypted to the target's own token key, holding plain claims",
         _to_target(_plain_claims, None), ("K04",)),
        ("jwe.to_target_key_unsigned_jws",
         "A JWE encrypted to the target's own token key, holding an alg none JWT (cty JWT)",
         _to_target(_unsigned_jws, "JWT"), ("K04", "G17")),
    )  # fmt: skip
    return [
        token_case(
            f"encoding.{name}",
            title,
            category="encoding",
            build=build,
            severity=Severity.CRITICAL,
            needs=("token_jwks",),
            rationale=_JWE_WHY,
            references=_JWE_REFS,
            anchors=anchors,
        )
        for name, title, build, anchors in rows
    ]


# --- algorithm names --------------------------------------------------------------------

_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
_CYRILLIC = {"E": "\u0415", "S": "\u0405", "R": "\u0420", "P": "\u0420", "H": "\u041d"}


def _full_width(alg: str) -> str:
    return "".join(_FULL_WIDTH.get(c, c) for c in alg)


def _cyrillic(alg: str) -> str:
    # EdDSA starts with E too; every alg of the allowlist has a letter in the table
    for i, char in enumerate(alg):
        if char in _CYRILLIC:
            return alg[:i] + _CYRILLIC[char] + alg[i + 1 :]
    return alg


#: (id suffix, what, alg derived from the trusted key's alg)
_LOOKALIKES: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("full_width", "in full-width letters (NFKC folds it back)", _full_width),
    ("cyrillic_lookalike", "with a Cyrillic look-alike letter", _cyrillic),
    ("zero_width", "with a zero-width space inside", lambda a: a[:2] + "\u200b" + a[2:]),
    ("array_with_none", "as an array holding it and none", lambda a: [a, "none"]),
)

_NONE_LOOKALIKES: tuple[tuple[str, str, Any], ...] = (
    ("nul_suffix", '"none" followed by a NUL', "none\x00"),
    ("full_width", 'a full-width "none" (NFKC folds it to none)', _full_width("none")),
    ("array", 'the array ["none"]', ["none"]),
)

_NAME_WHY = (
    "alg is compared exactly against an allowlist. A verifier that normalises the name "
    "(NFKC, trimming, cutting at a NUL, taking an array's first item, case folding) reads an "
    "alg the allowlist never saw; for a none look-alike that means no signature check at all."
)
_NAME_REFS = ("RFC 8725bis §2.10", "RFC 8725bis §3.1", "RFC 7515 §4.1.1", "CWE-180", "CWE-347")


def _none_lookalike(value: Any) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        header = {**standard_header(ctx.key), "alg": value}
        return compact(header, claims_with(ctx), signature=b"")

    return build


def _lookalike(change: Callable[[str], Any]) -> Callable[[CaseContext], str]:
    return lambda ctx: signed(ctx, alg=change(ctx.key.alg))


def _alg_cases() -> list[Case]:
    out = [
        token_case(
            f"algorithms.header_alg.{name}",
            f"A valid signature by the trusted key under its alg {what} is refused",
            category="algorithms",
            build=_lookalike(change),
            severity=Severity.HIGH,
            rationale=_NAME_WHY,
            references=_NAME_REFS,
            anchors=("D14",) if name.startswith("array") else ("D13",),
        )
        for name, what, change in _LOOKALIKES
    ]
    out += [
        token_case(
            f"algorithms.none.{name}.empty_signature",
            f"alg {what} with an empty signature is refused",
            category="algorithms",
            build=_none_lookalike(value),
            severity=Severity.CRITICAL,
            rationale=_NAME_WHY,
            references=(*_NAME_REFS, "CVE-2026-28802"),
            anchors=("D01", "D14") if name == "array" else ("D01", "D13"),
        )
        for name, what, value in _NONE_LOOKALIKES
    ]
    return out


CASES: tuple[Case, ...] = (*_json_cases(), *_jwe_cases(), *_alg_cases())

#: threat-catalog rows of this family that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
