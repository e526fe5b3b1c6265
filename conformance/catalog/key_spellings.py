"""HMAC keyed with every spelling of the trusted public key (issue 14, class 2).

``algorithms.key_confusion.*`` sends the classic spellings (SubjectPublicKeyInfo PEM with
and without its trailing newline, DER, the compact JWK, raw bytes; PKCS#1 PEM as
modulus-recovery tools print it). The 2023-2026 advisories live in the others: a guard
that refuses an HMAC secret only when it *starts with* ``-----BEGIN PUBLIC KEY-----``
lets CRLF, indented or BOM-prefixed PEM through (PyJWT CVE-2026-102268, fast-jwt
CVE-2026-107722), PKCS#1 PEM (fast-jwt CVE-2023-48223), DER SPKI or PKCS#1 (PyJWT
CVE-2026-102271, python-jose #398), OpenSSH (python-jose CVE-2024-33663), and the JWK or
JWKS JSON text (PyJWT CVE-2026-48526, fast-jwt CVE-2026-107724). Each case MACs a fresh
valid assertion with one spelling under the trusted key's kid; the three HMAC algorithms
take turns so that HS384 and HS512 are covered without tripling the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..forge import compact, hmac_with_public_key, jwks_text, standard_header
from .authoring import (
    Case,
    CaseContext,
    Severity,
    claims_with,
    kty_for,
    token_case,
    trusted_of_family,
)

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "algorithms"

#: spelling -> what it is
_TITLES: Mapping[str, str] = {
    "pem_crlf": "PEM with CRLF line ends",
    "pem_leading_space": "PEM with leading whitespace",
    "pem_bom": "PEM behind a UTF-8 BOM",
    "pkcs1_pem_no_newline": "PKCS#1 PEM (RSA PUBLIC KEY) without its trailing newline",
    "pkcs1_der": "DER PKCS#1 (RSAPublicKey)",
    "openssh": "an OpenSSH public key line",
    "jwk_pretty": "the published JWK as indented JSON",
    "jwks": "the whole published JWKS as served",
}

#: (key alg the family is named after, spelling, HMAC alg)
_VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("RS256", "pem_crlf", "HS256"),
    ("RS256", "pem_leading_space", "HS384"),
    ("RS256", "pem_bom", "HS512"),
    ("RS256", "pkcs1_pem_no_newline", "HS256"),
    ("RS256", "pkcs1_der", "HS384"),
    ("RS256", "openssh", "HS256"),
    ("RS256", "jwk_pretty", "HS512"),
    ("RS256", "jwks", "HS256"),
    ("ES256", "pem_crlf", "HS384"),
    ("ES256", "pem_bom", "HS256"),
    ("ES256", "openssh", "HS512"),
    ("ES256", "jwk_pretty", "HS256"),
    ("ES256", "jwks", "HS384"),
)

_REFS: Mapping[str, tuple[str, ...]] = {
    "pem_crlf": ("CVE-2026-102268", "CVE-2026-107722"),
    "pem_leading_space": ("CVE-2026-102268", "CVE-2026-107722"),
    "pem_bom": ("CVE-2026-102268",),
    "pkcs1_pem_no_newline": ("CVE-2023-48223",),
    "pkcs1_der": ("CVE-2026-102271", "python-jose #398"),
    "openssh": ("CVE-2024-33663",),
    "jwk_pretty": ("CVE-2026-48526",),
    "jwks": ("CVE-2026-107724", "Wycheproof JWKS-instead-of-JWK"),
}


def _build(key_alg: str, spelling: str, mac: str) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        key = trusted_of_family(ctx, kty_for(key_alg), prefer=(key_alg,))
        header = standard_header(key)
        if spelling == "jwks":
            secret = jwks_text(ctx.keyring.published_jwks())
            return compact({**header, "alg": mac}, claims_with(ctx), key=secret, alg=mac)
        return hmac_with_public_key(header, claims_with(ctx), key, encoding=spelling, alg=mac)

    return build


CASES: tuple[Case, ...] = tuple(
    token_case(
        f"algorithms.key_confusion.{key_alg.lower()}.{mac.lower()}.{spelling}",
        f"{mac} MACed with the published {key_alg} public key as {_TITLES[spelling]} is refused",
        category=CATEGORY,
        build=_build(key_alg, spelling, mac),
        severity=Severity.CRITICAL,
        rationale=(
            "The public key is public in every spelling. A verifier whose guard against "
            "HMAC-with-a-public-key recognises only the canonical PEM, and whose key store "
            "holds (or converts) the key in another form, verifies a MAC the attacker "
            "computed with those same bytes: a forged assertion for any user."
        ),
        references=(
            *_REFS[spelling],
            "CVE-2016-10555",
            "RFC 8725bis §2.1",
            "RFC 8725bis §3.1",
            "CWE-347",
            "CWE-1287",
        ),
        anchors=("D04",),
    )
    for key_alg, spelling, mac in _VARIANTS
)

#: threat-catalog rows of this family that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
