"""Cases of the ``algorithms`` category: the header ``alg`` (threat-catalog rows D01-D17).

``alg: none`` in every casing, HMAC key confusion with the published public key in each
encoding, weak and empty HMAC secrets, every allow-listed alg as a positive control, a
header ``alg`` that does not fit the selected key, and malformed or foreign ``alg``
values.

Keys: a case about "a valid signature by a trusted key" signs with the target's own key
(``ctx.key``); a case about one algorithm or one key family takes that key with
``trusted_key``/``trusted_of_family`` and skips on a target without one. The malformed
``alg`` values are written for ES256 and rewritten for the trusted key's alg.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._settings import ALLOWED_ALGS as _POLICY_ALGS
from ..forge import (
    alg_none,
    alg_none_keeping_signature,
    compact,
    hmac_with_public_key,
    replace_signature,
    signing_input_of,
    standard_header,
    strip_signature,
)
from .authoring import (
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    after_refetch,
    case,
    claims_with,
    extra_jwks_entries,
    kty_for,
    signed,
    token_case,
    trusted_key,
    trusted_of_family,
    unique_kid,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["ALLOWED_ALGS", "BCP_ALLOWLIST", "CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "algorithms"
ALLOWED_ALGS = _POLICY_ALGS
BCP_ALLOWLIST = "RFC 8725bis §3.1"


@functools.cache
def secp256k1_key() -> Any:
    """A secp256k1 private key (ES256K), made once: no trusted JWKS should accept it."""
    # lazy: cryptography; the catalog loads in every pytest run
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256K1())


# --- recipes ------------------------------------------------------------------------------


def _none(casing: str, *, keep_signature: bool) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        if keep_signature:
            return alg_none_keeping_signature(signed(ctx), casing=casing)
        return alg_none(standard_header(ctx.key), claims_with(ctx), casing=casing)

    return build


def _null_signature(alg: str) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        return strip_signature(signed(ctx, trusted_key(ctx, alg)))

    return build


def _confusion(
    key_alg: str, encoding: str, mac_alg: str = "HS256", *, exact: bool = False
) -> Callable[[CaseContext], str]:
    """HMAC with the trusted public key of ``key_alg``'s family (of ``key_alg`` itself
    when ``exact``)."""

    def build(ctx: CaseContext) -> str:
        key = (
            trusted_key(ctx, key_alg)
            if exact
            else trusted_of_family(ctx, kty_for(key_alg), prefer=(key_alg,))
        )
        return hmac_with_public_key(
            standard_header(key), claims_with(ctx), key, encoding=encoding, alg=mac_alg
        )

    return build


def _hmac_secret(secret: bytes | None, mac_alg: str = "HS256") -> Callable[[CaseContext], str]:
    """HS* with ``secret`` (``None``: the keyring's shared secret) under the trusted kid."""

    def build(ctx: CaseContext) -> str:
        key = secret if secret is not None else ctx.keyring.hmac(mac_alg).private_key
        header = standard_header(ctx.key, alg=mac_alg)
        return compact(header, claims_with(ctx), key=key, alg=mac_alg)

    return build


def _mismatch(header_alg: str, key_alg: str, signer_alg: str) -> Callable[[CaseContext], str]:
    """Header ``header_alg`` and the kid of the ``key_alg`` key; signed by the trusted
    ``signer_alg`` key's material under ``header_alg`` wherever that is possible."""

    def build(ctx: CaseContext) -> str:
        signer = trusted_key(ctx, signer_alg)
        header = standard_header(trusted_key(ctx, key_alg), alg=header_alg)
        family = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}[header_alg[:2]]
        real = header_alg if signer.kty == family else signer_alg
        return compact(header, claims_with(ctx), key=signer.private_key, alg=real)

    return build


def _for_key_alg(value: Any, alg: str) -> Any:
    """``value`` (written for ES256: "ES256", "Es256", "es256" anywhere inside) rewritten
    for ``alg``."""
    if isinstance(value, str):
        mixed = alg[0] + alg[1:].lower()
        return value.replace("ES256", alg).replace("Es256", mixed).replace("es256", alg.lower())
    if isinstance(value, list):
        return [_for_key_alg(item, alg) for item in value]
    if isinstance(value, dict):
        return {k: _for_key_alg(v, alg) for k, v in value.items()}
    return value


def _header_alg(value: Any) -> Callable[[CaseContext], str]:
    """A valid signature by the trusted key under a header whose ``alg`` is ``value``
    (written for ES256, rewritten for the key's alg)."""
    return lambda ctx: signed(ctx, alg=_for_key_alg(value, ctx.key.alg))


def _with_trusted(key_alg: str, **header: Any) -> Callable[[CaseContext], str]:
    """Signed by the trusted ``key_alg`` key, with ``header`` members changed."""
    return lambda ctx: signed(ctx, trusted_key(ctx, key_alg), **header)


def _rs1(ctx: CaseContext) -> str:
    """RS1: a genuine PKCS#1 v1.5 SHA-1 signature by the trusted RSA key."""
    # lazy: cryptography; the catalog loads in every pytest run
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = trusted_of_family(ctx, "RSA", prefer=("RS256",))
    token = compact(standard_header(key, alg="RS1"), claims_with(ctx), signature=b"")
    sha1 = hashes.SHA1()  # noqa: S303 - the weak hash is the point of the case
    signature = key.private_key.sign(signing_input_of(token), padding.PKCS1v15(), sha1)
    return replace_signature(token, signature)


def _hs1(ctx: CaseContext) -> str:
    token = compact(standard_header(ctx.key, alg="HS1"), claims_with(ctx), signature=b"")
    mac = hmac.new(b"", signing_input_of(token), hashlib.sha1).digest()
    return replace_signature(token, mac)


def _secp256k1_published(ctx: CaseContext) -> Exchange:
    """ES256K with its secp256k1 key in the trusted JWKS: still outside the allow-list."""
    from jwt.algorithms import ECAlgorithm  # lazy: the catalog loads in every pytest run

    private = secp256k1_key()
    kid = unique_kid("es256k")
    jwk = {
        "kid": kid,
        "use": "sig",
        "alg": "ES256K",
        **ECAlgorithm.to_jwk(private.public_key(), as_dict=True),
    }

    def make() -> str:
        header = {"alg": "ES256K", "typ": "JWT", "kid": kid}
        return compact(header, claims_with(ctx), key=private, alg="ES256")

    with extra_jwks_entries(ctx, [jwk]):
        return after_refetch(ctx, make)


# --- the cases ----------------------------------------------------------------------------

#: alg none spellings and the id part each gets (ids stay lowercase).
_NONE_SPELLINGS = {"none": "lowercase", "None": "capitalized", "NONE": "uppercase", "nOnE": "mixed"}
_NONE_REFS = ("CVE-2015-9235", "jwt_tool -X a", "Wycheproof algIsNone", "RFC 8725bis §2.10")
_CONFUSION_REFS = ("CVE-2016-10555", "jwt_tool -X k", "PortSwigger algorithm-confusion lab")
_ENCODING_TITLES = {
    "pem": "PEM (SubjectPublicKeyInfo, trailing newline)",
    "pem_no_newline": "PEM without its trailing newline",
    "pkcs1_pem": "PKCS#1 PEM (RSA PUBLIC KEY)",
    "der": "DER SubjectPublicKeyInfo",
    "jwk": "the published JWK as JSON",
    "raw": "raw key bytes (RSA modulus / EC point / Ed25519)",
}


def _accept_cases() -> list[Case]:
    return [
        token_case(
            f"algorithms.allowed.{alg.lower()}",
            f"A valid {alg} assertion signed with the published {alg} key is accepted",
            category=CATEGORY,
            build=_with_trusted(alg),
            expect=Expect.ACCEPT,
            severity=Severity.MEDIUM,
            rationale=(
                f"{alg} is on the allow-list and its key is published: refusing it means the "
                "endpoint cannot be used with that key type (a positive control per alg)."
            ),
            references=("Wycheproof acceptsValid", "RFC 7523 §5", BCP_ALLOWLIST),
            anchors=("D10",),
        )
        for alg in ALLOWED_ALGS
    ]


def _none_cases() -> list[Case]:
    out = []
    for casing, spelling in _NONE_SPELLINGS.items():
        for keep in (False, True):
            suffix = "original_signature" if keep else "empty_signature"
            what = "the original signature left in place" if keep else "an empty signature"
            out.append(
                token_case(
                    f"algorithms.none.{spelling}.{suffix}",
                    f'alg "{casing}" with {what} is refused',
                    category=CATEGORY,
                    build=_none(casing, keep_signature=keep),
                    severity=Severity.CRITICAL,
                    rationale=(
                        "An endpoint that honours alg none accepts assertions nobody signed: "
                        "anyone can mint a step-up for any user. Case variants slip past "
                        "blocklists that compare exactly."
                    ),
                    references=(
                        *_NONE_REFS,
                        "PayloadsAllTheThings" if keep else "OIDF invalid-null-alg",
                    ),
                    anchors=("D02",) if keep else ("D01",),
                )
            )
    return out


def _null_signature_cases() -> list[Case]:
    return [
        token_case(
            f"algorithms.null_signature.{alg.lower()}",
            f"An {alg} header with an empty signature segment is refused",
            category=CATEGORY,
            build=_null_signature(alg),
            severity=Severity.CRITICAL,
            rationale=(
                "header.payload. with no signature: verifiers that loop over signature "
                "bytes or treat a missing signature as 'nothing to check' accept it."
            ),
            references=(
                "RFC 7515 §5.2",
                "CVE-2020-28042",
                "jwt_tool -X n",
                "Wycheproof rejectsMissingSignature",
            ),
            anchors=("D03",),
        )
        for alg in ("RS256", "PS256", "ES256", "EdDSA")
    ]


def _confusion_cases() -> list[Case]:
    variants = [
        (key_alg, encoding, "HS256")
        for key_alg in ("RS256", "ES256")
        for encoding in ("pem", "pem_no_newline", "der", "jwk", "raw")
    ]
    variants += [("RS256", "pem", "HS384"), ("RS256", "pem", "HS512"), ("EdDSA", "pem", "HS256")]
    out = [
        token_case(
            f"algorithms.key_confusion.{key_alg.lower()}.{mac.lower()}.{encoding}",
            f"{mac} MACed with the published {key_alg} public key as "
            f"{_ENCODING_TITLES[encoding]} is refused",
            category=CATEGORY,
            build=_confusion(key_alg, encoding, mac),
            severity=Severity.CRITICAL,
            rationale=(
                "The public key is public. A verifier that lets the header pick HMAC and "
                "feeds it the stored key bytes verifies a MAC the attacker computed with the "
                "same bytes: a forged assertion for any user."
            ),
            references=(
                *_CONFUSION_REFS,
                "Wycheproof rejectsSymmetryConfusionAttacks",
                "RFC 8725bis §2.1",
            ),
            anchors=("D04",),
        )
        for key_alg, encoding, mac in variants
    ]
    out += [
        token_case(
            f"algorithms.key_confusion.recovered_modulus.{key_alg.lower()}",
            f"HS256 MACed with the {key_alg} key as PKCS#1 PEM, as modulus-recovery tools "
            "print it, is refused",
            category=CATEGORY,
            build=_confusion(key_alg, "pkcs1_pem", exact=True),
            severity=Severity.CRITICAL,
            rationale=(
                "Even an unpublished RSA key can be recovered from two RS256 tokens (sig2n, "
                "jws2pubkey), which print it as PKCS#1 PEM; our key is published, so this is "
                "the same MAC the recovered key gives."
            ),
            references=(
                "RFC 8725bis §3.1",
                "PortSwigger lab: algorithm confusion with no exposed key",
                "PATT jws2pubkey",
            ),
            anchors=("D05",),
        )
        for key_alg in ("RS256", "PS256")
    ]
    return out


def _hmac_cases() -> list[Case]:
    out = [
        token_case(
            f"algorithms.hmac.empty_secret.{mac.lower()}",
            f"{mac} with an empty secret is refused",
            category=CATEGORY,
            build=_hmac_secret(b"", mac),
            severity=Severity.CRITICAL,
            rationale=(
                "Some libraries verify an HMAC with an empty or missing key when none is "
                "configured: anyone can compute that MAC."
            ),
            references=("RFC 7518 §3.2", "jwt_tool -X b", "CVE-2019-20933", "CVE-2020-28637"),
            anchors=("D06",),
        )
        for mac in ("HS256", "HS512")
    ]
    out += [
        token_case(
            f"algorithms.hmac.weak_secret.{secret.decode().replace('-', '_')}",
            f'HS256 with the common secret "{secret.decode()}" is refused',
            category=CATEGORY,
            build=_hmac_secret(secret),
            severity=Severity.CRITICAL,
            rationale=(
                "A default or dictionary HMAC secret is cracked offline from one token; the "
                "endpoint's keys are asymmetric, so no HS* assertion may pass at all."
            ),
            references=(
                "jwt_tool jwt-common.txt",
                "PortSwigger weak signing key lab",
                "RFC 8725bis §3.5",
            ),
            anchors=("D07",),
        )
        for secret in (b"secret", b"password", b"123456", b"your-256-bit-secret", b"changeme")
    ]
    out += [
        token_case(
            f"algorithms.hmac.asymmetric_jwks.{mac.lower()}",
            f"{mac} with a strong random secret is refused when the issuer publishes an "
            "asymmetric JWKS",
            category=CATEGORY,
            build=_hmac_secret(None, mac),
            severity=Severity.CRITICAL,
            rationale=(
                "The environment trusts public keys only; accepting any HMAC means the "
                "verifier lets the token choose the algorithm family."
            ),
            references=(BCP_ALLOWLIST, "RFC 8725bis §3.2", "RFC 7515 §5.2"),
            anchors=("D08",),
        )
        for mac in ("HS256", "HS384", "HS512")
    ]
    return out


_MISMATCHES = (
    ("RS512", "RS256", "RS256", "an RS512 header on the key published for RS256"),
    ("PS256", "RS256", "RS256", "a PS256 header on the key published for RS256"),
    ("RS256", "PS256", "PS256", "an RS256 header on the key published for PS256"),
    ("PS384", "PS256", "PS256", "a PS384 header on the key published for PS256"),
    ("ES384", "ES256", "ES256", "an ES384 header on the P-256 key published for ES256"),
    ("ES256", "ES384", "ES384", "an ES256 header on the P-384 key published for ES384"),
    ("RS256", "EdDSA", "RS256", "an RS256 header (signed by the RSA key) naming the Ed25519 kid"),
    ("EdDSA", "ES256", "EdDSA", "an EdDSA header (signed by the Ed25519 key) naming the ES256 kid"),
)


def _mismatch_cases() -> list[Case]:
    return [
        token_case(
            f"algorithms.mismatch.{header_alg.lower()}_on_{key_alg.lower()}_key",
            f"A valid signature under {what} is refused",
            category=CATEGORY,
            build=_mismatch(header_alg, key_alg, signer),
            severity=Severity.HIGH,
            rationale=(
                "Each key is used with exactly one algorithm. A verifier that takes the alg "
                "from the header and the key by kid can be walked into a weaker or confused "
                "primitive for that key."
            ),
            references=(
                "Wycheproof WrongPrimitive",
                BCP_ALLOWLIST,
                "OIDF EnsureClientAssertionSignatureAlgorithmMatchesRegistered",
            ),
            anchors=("D11",),
        )
        for header_alg, key_alg, signer, what in _MISMATCHES
    ]


_BAD_ALG_VALUES: tuple[tuple[str, Any, str, str], ...] = (
    ("lowercase", "es256", "D13", 'alg "es256"'),
    ("mixed_case", "Es256", "D13", 'alg "Es256"'),
    ("trailing_space", "ES256 ", "D13", 'alg "ES256 " (trailing space)'),
    ("leading_space", " ES256", "D13", 'alg " ES256" (leading space)'),
    ("trailing_nul", "ES256\x00", "D13", "alg ES256 followed by a NUL"),
    ("trailing_newline", "ES256\n", "D13", "alg ES256 followed by a newline"),
    ("null", None, "D14", "alg null"),
    ("boolean", True, "D14", "alg true"),
    ("number", 0, "D14", "alg 0"),
    ("array", ["ES256"], "D14", 'alg ["ES256"]'),
    ("object", {"name": "ES256"}, "D14", "alg as an object"),
    ("es256k", "ES256K", "D15", 'alg "ES256K" (secp256k1, unsupported)'),
    ("es257", "ES257", "D15", 'alg "ES257" (no such alg)'),
    ("empty", "", "D15", 'alg ""'),
    ("jwe_rsa_oaep", "RSA-OAEP", "D16", 'the JWE alg "RSA-OAEP"'),
    ("jwe_rsa_oaep_256", "RSA-OAEP-256", "D16", 'the JWE alg "RSA-OAEP-256"'),
    ("jwe_rsa1_5", "RSA1_5", "D16", 'the JWE alg "RSA1_5"'),
    ("jwe_dir", "dir", "D16", 'the JWE alg "dir"'),
    ("jwe_a128kw", "A128KW", "D16", 'the JWE alg "A128KW"'),
    ("jwe_ecdh_es", "ECDH-ES", "D16", 'the JWE alg "ECDH-ES"'),
)
_BAD_ALG_WHY = {
    "D13": "alg is compared exactly: case-folding or trimming lets blocklisted values through "
    "(the 'noNE' bypass) and makes two parsers disagree on the alg.",
    "D14": "A non-string alg crashes naive code (a 5xx) or coerces to something accepted.",
    "D15": "An unknown alg must be refused, not mapped to a default or a lookalike.",
    "D16": "A JWE key-management alg in a JWS header is the encryption/signature confusion "
    "of CVE-2023-51774; a JWS verifier must never take it.",
}
_BAD_ALG_REFS = {
    "D13": ("RFC 8725bis §2.10", BCP_ALLOWLIST),
    "D14": ("RFC 7515 §4.1.1", "jwt_tool -M er"),
    "D15": (BCP_ALLOWLIST,),
    "D16": ("RFC 8725bis §2.3", "RFC 8725bis §3.3", "CVE-2023-51774"),
}


def _bad_alg_cases() -> list[Case]:
    out = [
        token_case(
            f"algorithms.header_alg.{name}",
            f"A valid signature by the trusted key under {what} is refused",
            category=CATEGORY,
            build=_header_alg(value),
            severity=Severity.HIGH,
            rationale=_BAD_ALG_WHY[row],
            references=_BAD_ALG_REFS[row],
            anchors=(row,),
        )
        for name, value, row, what in _BAD_ALG_VALUES
    ]
    out.append(
        token_case(
            "algorithms.header_alg.missing",
            "A valid signature by the trusted key under a header without alg is refused",
            category=CATEGORY,
            build=lambda ctx: signed(ctx, drop=("alg",)),
            severity=Severity.HIGH,
            rationale="Without alg the verifier must guess; guessing is how confusion starts.",
            references=("OIDF DPoP 'alg is missing'", "RFC 7515 §4.1.1"),
            anchors=("D12",),
        )
    )
    out += [
        token_case(
            "algorithms.header_alg.rs1",
            "A genuine RS1 (PKCS#1 v1.5 with SHA-1) signature by the trusted RSA key is refused",
            category=CATEGORY,
            build=_rs1,
            severity=Severity.HIGH,
            rationale="SHA-1 signatures are forgeable in practice; RS1 is not on any allow-list.",
            references=(BCP_ALLOWLIST, "RFC 8725bis §3.2"),
            anchors=("D15",),
        ),
        token_case(
            "algorithms.header_alg.hs1",
            "An HS1 (HMAC-SHA-1) token with an empty secret is refused",
            category=CATEGORY,
            build=_hs1,
            severity=Severity.HIGH,
            rationale="An unknown HMAC variant must not fall through to a permissive default.",
            references=(BCP_ALLOWLIST,),
            anchors=("D15",),
        ),
        case(
            "algorithms.outside_allowlist.es256k_key_published",
            "ES256K signed by a secp256k1 key that the JWKS publishes is refused",
            category=CATEGORY,
            run=_secp256k1_published,
            severity=Severity.MEDIUM,
            rationale=(
                "The allow-list is the endpoint's, not the JWKS's: a key of an algorithm "
                "outside it must not be used even when published."
            ),
            references=("OIDF EnsureSignedClientAssertionWithRS256Fails", BCP_ALLOWLIST),
            anchors=("D09",),
            needs=("jwks_host",),
        ),
    ]
    return out


def _fully_specified_cases() -> list[Case]:
    variants = (
        ("ed25519", "Ed25519", "EdDSA", "the Ed25519 key"),
        ("esp256", "ESP256", "ES256", "the P-256 key"),
    )
    return [
        token_case(
            f"algorithms.fully_specified.{name}",
            f'The RFC 9864 fully-specified alg "{value}" with {what} (observed, either answer)',
            category=CATEGORY,
            build=_with_trusted(key_alg, alg=value),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.INFO,
            rationale=(
                "RFC 9864 deprecates polymorphic EdDSA/ECDSA names for fully-specified ones; "
                "whether the endpoint takes them is worth documenting, not a defect."
            ),
            references=("RFC 8725bis §3.2", "RFC 9864"),
            anchors=("D17",),
        )
        for name, value, key_alg, what in variants
    ]


CASES: tuple[Case, ...] = (
    *_accept_cases(),
    *_none_cases(),
    *_null_signature_cases(),
    *_confusion_cases(),
    *_hmac_cases(),
    *_mismatch_cases(),
    *_bad_alg_cases(),
    *_fully_specified_cases(),
)

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
