"""Cases of the ``signature`` category: the signature bytes (threat-catalog rows E01-E11).

Broken, truncated and transplanted signatures; ECDSA special values (the psychic
signature, r or s out of range, DER instead of raw, wrong lengths, the malleated high-S
twin); RSA PKCS#1 v1.5 encodings bent with raw RSA (``EM^d mod n`` on our own key: the
forging is ours to write); PSS with the wrong parameters; RSA signatures of the wrong
length.

Keys: a case about one algorithm (``xor_5a.es384``, ``ecdsa.high_s.es256``...) uses that
algorithm's trusted key and skips on a target without one; a case about a key family
(``truncated.*``, one per family; ECDSA ranges and lengths, PKCS#1 v1.5, PSS, RSA
lengths) uses the target's key of that family, whatever its size; header edits use the
default key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import forge
from ..forge import (
    COORDINATE_SIZES,
    CURVE_ORDERS,
    ecdsa_rs,
    pkcs1v15_forged,
    pss_variant,
    replace_signature,
    rsa_strip_leading_zero,
    signature_of,
    tamper_payload,
    with_ecdsa_rs,
)
from .authoring import (
    Build,
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    claims_with,
    kty_for,
    signed,
    token_case,
    trusted_key,
    trusted_of_family,
)

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "signature"
_WYCHEPROOF = "Wycheproof json_web_signature_test"


def _mutated(alg: str | None, mutate: Callable[[str], str]) -> Build:
    """A valid token of the trusted ``alg`` key (``None``: the default key), then
    ``mutate`` applied to it."""
    return lambda ctx: mutate(signed(ctx, trusted_key(ctx, alg) if alg else None))


def _of_family(alg: str, mutate: Callable[[str], str]) -> Build:
    """A valid token of the target's key of ``alg``'s family (``alg`` preferred), then
    ``mutate`` applied to it."""
    return lambda ctx: mutate(signed(ctx, trusted_of_family(ctx, kty_for(alg), prefer=(alg,))))


def _ecdsa_mutated(mutate: Callable[[str, str], str]) -> Build:
    """A valid token of the target's ECDSA key (ES256 preferred), then ``mutate(token,
    alg)`` applied to it."""

    def build(ctx: CaseContext) -> str:
        key = trusted_of_family(ctx, "EC", prefer=("ES256",))
        return mutate(signed(ctx, key), key.alg)

    return build


def _forge_fn(name: str, *args: Any, **kwargs: Any) -> Callable[[str], str]:
    """The forge's token mutation ``name`` with extra arguments bound (imported late)."""

    def apply(token: str) -> str:
        function: Callable[..., str] = getattr(forge, name)
        return function(token, *args, **kwargs)

    return apply


def _payload_changed(change: Callable[[CaseContext], dict[str, Any]]) -> Build:
    def build(ctx: CaseContext) -> str:
        return tamper_payload(signed(ctx), **change(ctx))

    return build


def _other_subject(ctx: CaseContext) -> dict[str, Any]:
    subjects = ctx.settings.subjects
    return {"sub": subjects[1] if len(subjects) > 1 else subjects[0] + "-other"}


def _other_scope(ctx: CaseContext) -> dict[str, Any]:
    current = ctx.settings.scopes[0]
    return {"scope": next(s for s in ctx.settings.known_scopes if s != current)}


def _any_alg(mutate: Callable[[str], str]) -> Callable[[str, str], str]:
    """``mutate`` for :func:`_ecdsa_mutated`: the same change whatever the curve."""
    return lambda token, alg: mutate(token)


def _ecdsa_rs(pick: Callable[[int, int, int], tuple[int, int]]) -> Build:
    """A token of the target's ECDSA key (ES256 preferred) whose raw signature is
    ``pick(r, s, n)``."""

    def change(token: str, alg: str) -> str:
        r, s = pick(*ecdsa_rs(token), CURVE_ORDERS[alg])
        return with_ecdsa_rs(token, r, s, size=COORDINATE_SIZES[alg])

    return _ecdsa_mutated(change)


def _pad_coordinates(token: str) -> str:
    """Each ECDSA coordinate one octet longer (a leading zero each): 66 bytes, not 64,
    for ES256."""
    r, s = ecdsa_rs(token)
    return with_ecdsa_rs(token, r, s, size=len(signature_of(token)) // 2 + 1)


def _drop_last_byte(token: str) -> str:
    return replace_signature(token, signature_of(token)[:-1])


def _pkcs1(variant: str) -> Build:
    def build(ctx: CaseContext) -> str:
        key = trusted_key(ctx, "RS256", "RS384", "RS512")
        return pkcs1v15_forged(signed(ctx, key), key, variant, alg=key.alg)

    return build


def _pss(variant: str) -> Build:
    # SHA-512 throughout is PS512 itself: that variant needs a PS256 or PS384 key.
    algs = ("PS256", "PS384") if variant == "hash_sha512" else ("PS256", "PS384", "PS512")

    def build(ctx: CaseContext) -> str:
        key = trusted_key(ctx, *algs)
        return pss_variant(signed(ctx, key), key, variant, alg=key.alg)

    return build


def _leading_zero_stripped(ctx: CaseContext) -> str:
    """An RS256 token whose signature starts with a zero octet, with that octet dropped.

    PKCS#1 v1.5 is deterministic, so fresh claims (a new jti) are drawn until one of the
    ~1 in 256 signatures with a leading zero appears.
    """
    key = trusted_of_family(ctx, "RSA", prefer=("RS256",))
    base = claims_with(ctx)
    for attempt in range(8192):
        token = signed(ctx, key, payload={**base, "jti": f"{base['jti']}-{attempt}"})
        if signature_of(token)[:1] == b"\x00":
            return rsa_strip_leading_zero(token)
    ctx.skip(f"no {key.alg} signature with a leading zero octet in 8192 tries")
    raise AssertionError("unreachable")


def _critical(
    name: str, title: str, build: Build, why: str, refs: tuple[str, ...], row: str
) -> Case:
    return token_case(
        f"signature.{name}",
        title,
        category=CATEGORY,
        build=build,
        severity=Severity.CRITICAL,
        rationale=why,
        references=refs,
        anchors=(row,),
    )


_UNCHECKED = (
    "A verifier that does not really check the signature accepts any assertion an attacker "
    "writes: a step-up for any user."
)
_XOR_REFS = (
    "RFC 7515 §5.2",
    "OIDF AbstractInvalidateJwsSignature",
    "Wycheproof rejectsModifiedSignature",
)


def _basic_cases() -> list[Case]:
    out = [
        _critical(
            f"xor_5a.{alg.lower()}",
            f"An {alg} signature with every byte XORed with 0x5A is refused",
            _mutated(alg, _forge_fn("xor_signature")),
            _UNCHECKED,
            _XOR_REFS,
            "E01",
        )
        for alg in ("RS256", "PS256", "ES256", "ES384", "EdDSA")
    ]
    out += [
        _critical(
            f"truncated.{alg.lower()}",
            f"An {alg} signature with its last 4 base64url characters dropped is refused",
            _of_family(alg, _forge_fn("truncate_signature")),
            _UNCHECKED + " Truncation also catches prefix-only comparisons.",
            ("RFC 7515 §5.2", "jwt_tool broken signature check"),
            "E02",
        )
        for alg in ("RS256", "ES256", "EdDSA")
    ]
    out += [
        _critical(
            "payload_changed.sub",
            "The payload's sub changed to another user, the original signature kept, is refused",
            _payload_changed(_other_subject),
            _UNCHECKED + " Here the signature is genuine, only not over these claims.",
            (
                "RFC 7515 §5.2",
                "PortSwigger lab: unverified signature",
                "Wycheproof rejectsModifiedPayload",
            ),
            "E03",
        ),
        _critical(
            "payload_changed.scope",
            "The payload's scope changed, the original signature kept, is refused",
            _payload_changed(_other_scope),
            _UNCHECKED + " Changing scope escalates an otherwise legitimate step-up.",
            (
                "RFC 7515 §5.2",
                "Wycheproof rejectsModifiedPayload",
                "jwt_tool claim-processing check",
            ),
            "E03",
        ),
        _critical(
            "header_changed.extra_member",
            "A header member added after signing, the original signature kept, is refused",
            _mutated(None, _forge_fn("tamper_header", x="1")),
            _UNCHECKED + " The signature covers the header bytes too.",
            ("RFC 7515 §5.2", "Wycheproof rejectsModifiedHeader"),
            "E04",
        ),
        _critical(
            "header_changed.typ",
            'The header typ changed from "JWT" to "jwt" after signing, the signature kept, '
            "is refused",
            _mutated(None, _forge_fn("tamper_header", typ="jwt")),
            _UNCHECKED + " Even a harmless-looking header edit breaks the signature.",
            ("RFC 7515 §5.2", "Wycheproof rejectsModifiedHeader"),
            "E04",
        ),
    ]
    return out


_PSYCHIC_WHY = (
    "r = s = 0 makes the ECDSA equation hold trivially in verifiers that skip the range "
    "check 0 < r, s < n (Java 15-18, CVE-2022-21449): a signature for anything."
)
_RANGE_VALUES: tuple[tuple[str, str, Callable[[int, int, int], tuple[int, int]]], ...] = (
    ("r_zero", "r = 0", lambda r, s, n: (0, s)),
    ("s_zero", "s = 0", lambda r, s, n: (r, 0)),
    ("r_equals_n", "r = n", lambda r, s, n: (n, s)),
    ("s_equals_n", "s = n", lambda r, s, n: (r, n)),
    ("r_s_one", "r = s = 1", lambda r, s, n: (1, 1)),
    ("r_s_n_minus_1", "r = s = n - 1", lambda r, s, n: (n - 1, n - 1)),
)


def _ecdsa_cases() -> list[Case]:
    out = [
        _critical(
            "ecdsa.psychic.es256_raw",
            "An ES256 signature of 64 zero bytes (r = s = 0) is refused",
            _mutated("ES256", _forge_fn("psychic_raw")),
            _PSYCHIC_WHY,
            (
                "RFC 7518 §3.4",
                "CVE-2022-21449",
                "Wycheproof SpecialCaseEs256 rIsZero_sIsZero",
                "jwt_tool #130",
            ),
            "E05",
        ),
        _critical(
            "ecdsa.psychic.es256_der",
            "An ES256 signature of DER r = s = 0 (MAYCAQACAQA) is refused",
            _ecdsa_mutated(_any_alg(_forge_fn("psychic_der"))),
            _PSYCHIC_WHY,
            ("RFC 7518 §3.4", "CVE-2022-21449", "jwt_tool #130"),
            "E05",
        ),
        _critical(
            "ecdsa.psychic.es384_raw",
            "An ES384 signature of 96 zero bytes (r = s = 0) is refused",
            _mutated("ES384", _forge_fn("psychic_raw", "ES384")),
            _PSYCHIC_WHY,
            ("RFC 7518 §3.4", "CVE-2022-21449"),
            "E05",
        ),
    ]
    out += [
        _critical(
            f"ecdsa.range.{name}",
            f"An ES256 signature with {what} is refused",
            _ecdsa_rs(pick),
            "r and s must lie in [1, n-1]; values at or outside the range are how special-case "
            "ECDSA bugs are found.",
            ("RFC 7518 §3.4", "Wycheproof SpecialCaseEs256"),
            "E06",
        )
        for name, what, pick in _RANGE_VALUES
    ]
    shapes: tuple[tuple[str, str, Callable[[str], str]], ...] = (
        ("der", "in ASN.1 DER form instead of raw r || s", _forge_fn("ecdsa_der")),
        ("trailing_zeros", "with two zero bytes appended", _forge_fn("append_zeros", 2)),
        ("leading_zero", "with a zero byte prepended (65 bytes)", _forge_fn("prepend_zeros", 1)),
        ("short", "one byte short (63 bytes)", _drop_last_byte),
        ("coordinates_33_bytes", "with each coordinate as 33 octets", _pad_coordinates),
    )
    out += [
        _critical(
            f"ecdsa.length.{name}",
            f"A valid ES256 signature {what} is refused",
            _ecdsa_mutated(_any_alg(mutate)),
            "JWS fixes the ECDSA signature as exactly 2 x 32 octets; lenient length handling "
            "(DER fallback, ignored trailing bytes) is a parser differential and, in some "
            "libraries, a buffer bug.",
            ("Wycheproof SignatureTooLong", "Wycheproof TrailingZeros", "RFC 7518 §3.4"),
            "E07",
        )
        for name, what, mutate in shapes
    ]
    out += [
        token_case(
            f"signature.ecdsa.high_s.{alg.lower()}",
            f"The malleated high-S twin (r, n - s) of a valid {alg} signature (either answer)",
            category=CATEGORY,
            build=_mutated(alg, _forge_fn("ecdsa_high_s", alg)),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.INFO,
            rationale=(
                "(r, n - s) is valid ECDSA for the same message; JWS does not require low-S, "
                "so either answer is acceptable, but replay protection must not rely on the "
                "token bytes (see H03)."
            ),
            references=("jwt-hack PR #259 sig_malleability",),
            anchors=("E08",),
        )
        for alg in ("ES256", "ES384")
    ]
    return out


_PKCS1_TITLES = {
    "block_type_02": "block type 02 instead of 01",
    "padding_not_ff": "padding bytes 0xFE instead of 0xFF",
    "short_padding_trailing_garbage": "8 padding bytes and garbage after the digest",
    "no_separator": "no zero separator between padding and DigestInfo",
    "wrong_hash_oid": "a DigestInfo naming SHA-384 around a SHA-256 digest",
    "long_form_length": "BER long-form lengths in the DigestInfo",
    "digest_truncated": "a digest one byte short",
}
_PSS_TITLES = {
    "salt_zero": "salt length 0 instead of 32",
    "salt_max": "the maximum salt length instead of 32",
    "mgf1_sha1": "MGF1 with SHA-1",
    "hash_sha512": "SHA-512 throughout under a PS256 header",
}


def _rsa_cases() -> list[Case]:
    out = [
        token_case(
            f"signature.rsa.pkcs1.{variant}",
            f"An RS256 signature over an encoding with {what} is refused",
            category=CATEGORY,
            build=_pkcs1(variant),
            severity=Severity.HIGH,
            rationale=(
                "Verifiers that parse the decrypted PKCS#1 block loosely (skipping padding, "
                "tolerating trailing bytes or BER) are open to Bleichenbacher-style forgeries "
                "with small exponents; the encoding must be compared exactly."
            ),
            references=(f"{_WYCHEPROOF} ModifiedPadding", "RFC 8017 §8.2.2"),
            anchors=("E09",),
        )
        for variant, what in _PKCS1_TITLES.items()
    ]
    out += [
        token_case(
            f"signature.rsa.pss.{variant}",
            f"A PS256 signature made with {what} is refused",
            category=CATEGORY,
            build=_pss(variant),
            severity=Severity.HIGH,
            rationale=(
                "RFC 7518 §3.5 fixes PSS to the alg's hash for message and MGF1 and a salt "
                "as long as the hash; a verifier that accepts other parameters accepts "
                "signatures its peers refuse."
            ),
            references=(f"{_WYCHEPROOF} SaltLenChanged", "RFC 7518 §3.5"),
            anchors=("E10",),
        )
        for variant, what in _PSS_TITLES.items()
    ]
    out += [
        token_case(
            "signature.rsa.leading_zero_stripped",
            "An RS256 signature one octet shorter than the modulus (its leading zero dropped) "
            "(either answer)",
            category=CATEGORY,
            build=_leading_zero_stripped,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "RFC 8017 requires the signature to be as long as the modulus; some libraries "
                "strip or tolerate the zero. Either answer is safe; an error is not."
            ),
            references=("mozilla/browserid-crypto #75", "RFC 8017 §8.2.2"),
            anchors=("E11",),
        ),
        token_case(
            "signature.rsa.longer_than_modulus",
            "An RS256 signature with a zero octet prepended (longer than the modulus) is refused",
            category=CATEGORY,
            build=lambda ctx: forge.prepend_zeros(
                signed(ctx, trusted_of_family(ctx, "RSA", prefer=("RS256",))), 1
            ),
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "A signature longer than the modulus is malformed (RFC 8017 §8.2.2 step 1); "
                "accepting it shows the length is not checked at all."
            ),
            references=("RFC 8017 §8.2.2",),
            anchors=("E11",),
        ),
    ]
    return out


CASES: tuple[Case, ...] = (*_basic_cases(), *_ecdsa_cases(), *_rsa_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
