"""Project Wycheproof's JWS vectors, end to end (issue 14, class 10).

Wycheproof's ``json_web_signature_test.json`` (C2SP/wycheproof, commit
dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166, ``testvectors_v1/``) tests a JOSE *library*
with its own keys and the payload ``"foo"``. A target trusts only the keys the suite
registers, and its answer to a payload that is not an assertion proves nothing, so a
vector cannot be replayed as it stands. Two kinds of vector still apply end to end, and
only those are here (20 cases, one request and one control each):

- **key- and message-independent signatures** (group ``SpecialCaseEs256``, tcId
  386-401): ``r, s`` in ``{0, 1, n-1, n}`` are invalid for every key and every message,
  so the vector's signature bytes are sent verbatim on a fresh assertion signed by the
  target's P-256 key. tcId 386 (r = s = 0), 391 (r = s = 1) and 396 (r = s = n-1) send
  bytes ``signature.ecdsa.psychic.es256_raw``, ``signature.ecdsa.range.r_s_one`` and
  ``signature.ecdsa.range.r_s_n_minus_1`` already send, and are not repeated;
- **constructions** (tcId 379-385): the vector's bytes are built from its own valid
  signature; the same construction is applied to the suite's valid signature (with s
  replaced by n - s, as Wycheproof does), so the target sees the vector's defect on a
  signature by a key it trusts.

Why not the others: the RS256/PS256 ``ModifiedPadding`` vectors are mutation classes the
suite already builds on its own key (``signature.rsa.pkcs1.*``, ``signature.rsa.pss.*``);
the ``base64``, ``hs256`` and ``es256`` groups are the encoding, HMAC and structure cases
(``encoding.*``, ``algorithms.*``); the RFC 7520 and wrong-use groups need the vectors'
keys trusted, which a target under test does not do. The case id carries the tcId.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..forge import (
    COORDINATE_SIZES,
    CURVE_ORDERS,
    b64url_decode,
    ecdsa_rs,
    replace_signature,
)
from .authoring import Case, CaseContext, Severity, signed, token_case, trusted_key

__all__ = ["CASES", "NOT_APPLICABLE", "SOURCE"]

CATEGORY = "signature"

#: where the vectors come from
SOURCE = "C2SP/wycheproof@dac1dd4 testvectors_v1/json_web_signature_test.json"

#: (tcId, Wycheproof comment, signature segment) of group SpecialCaseEs256
_SPECIAL: tuple[tuple[int, str, str], ...] = (
    (387, "rIsZero_sIsOne",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ"),
    (388, "rIsZero_sIsNminus1",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD_____AAAAAP__________vOb6racXnoTzucrC_GMlUA"),
    (389, "rIsZero_sIsN",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD_____AAAAAP__________vOb6racXnoTzucrC_GMlUQ"),
    (390, "rIsOne_sIsZero",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    (392, "rIsOne_sIsNminus1",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAH_____AAAAAP__________vOb6racXnoTzucrC_GMlUA"),
    (393, "rIsOne_sIsN",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAH_____AAAAAP__________vOb6racXnoTzucrC_GMlUQ"),
    (394, "rIsNminus1_sIsZero",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    (395, "rIsNminus1_sIsOne",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ"),
    (397, "rIsNminus1_sIsN",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVD_____AAAAAP__________vOb6racXnoTzucrC_GMlUQ"),
    (398, "rIsN_sIsZero",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    (399, "rIsN_sIsOne",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ"),
    (400, "rIsN_sIsNminus1",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVH_____AAAAAP__________vOb6racXnoTzucrC_GMlUA"),
    (401, "rIsN_sIsN",
     "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVH_____AAAAAP__________vOb6racXnoTzucrC_GMlUQ"),
)  # fmt: skip

_N = CURVE_ORDERS["ES256"]
_SIZE = COORDINATE_SIZES["ES256"]


def _octets(value: int, size: int = _SIZE) -> bytes:
    return value.to_bytes(size, "big")


#: (tcId, Wycheproof comment, construction from (r, s' = n - s))
_CONSTRUCTIONS: tuple[tuple[int, str, Callable[[int, int], bytes]], ...] = (
    (379, "SignatureTooLong", lambda r, s: _octets(r, 33) + _octets(s, 33)),
    (380, "TrailingZeros", lambda r, s: _octets(r) + _octets(s, 33) + b"\x00"),
    (381, "RisTooBig", lambda r, s: _octets(r + _N, 33) + _octets(s, 33)),
    (382, "SisTooBig", lambda r, s: _octets(r, 33) + _octets(s + _N, 33)),
    (383, "IntegerOverflow", lambda r, s: _octets(r + 2**256, 33) + _octets(s, 33)),
    (384, "IntegerOverflow", lambda r, s: _octets(r, 33) + _octets(s + 2**256, 33)),
    (385, "BufferOverflow", lambda r, s: _octets(r, 257) + _octets(s, 257)),
)

_WHY = (
    "Wycheproof's special-case ECDSA vectors are the inputs that broke real verifiers: no "
    "range check on r and s (CVE-2022-21449: r = s = 0 verifies anything), values reduced "
    "modulo n before the check, coordinates longer than the curve size parsed as integers. "
    "Each is invalid whatever the key and the message, so a target that accepts one accepts "
    "a signature nobody made."
)
_REFS = (
    f"Wycheproof {SOURCE}",
    "RFC 7518 §3.4 (r and s as 32 octets each)",
    "CVE-2022-21449",
    "CWE-347",
)


def _special(signature: str) -> Callable[[CaseContext], str]:
    raw = b64url_decode(signature)
    return lambda ctx: replace_signature(signed(ctx, trusted_key(ctx, "ES256")), raw)


def _constructed(make: Callable[[int, int], bytes]) -> Callable[[CaseContext], str]:
    def build(ctx: CaseContext) -> str:
        token = signed(ctx, trusted_key(ctx, "ES256"))
        r, s = ecdsa_rs(token)
        return replace_signature(token, make(r, _N - s))

    return build


CASES: tuple[Case, ...] = (
    *(
        token_case(
            f"signature.wycheproof.special_case_es256.tc{tc}",
            f"Wycheproof SpecialCaseEs256 tcId {tc} ({comment}): the vector's signature "
            "bytes on an assertion by the trusted P-256 key are refused",
            category=CATEGORY,
            build=_special(signature),
            severity=Severity.CRITICAL,
            rationale=_WHY,
            references=(*_REFS, f"Wycheproof tcId {tc} {comment}"),
            anchors=("E05", "E06") if comment.startswith("rIsZero") else ("E06",),
        )
        for tc, comment, signature in _SPECIAL
    ),
    *(
        token_case(
            f"signature.wycheproof.special_case_es256.tc{tc}",
            f"Wycheproof SpecialCaseEs256 tcId {tc} ({comment}), built on a signature by the "
            "trusted P-256 key, is refused",
            category=CATEGORY,
            build=_constructed(make),
            severity=Severity.CRITICAL,
            rationale=_WHY,
            references=(*_REFS, f"Wycheproof tcId {tc} {comment}"),
            anchors=("E07",) if tc in (379, 380, 385) else ("E06", "E07"),
        )
        for tc, comment, make in _CONSTRUCTIONS
    ),
)

#: threat-catalog rows of this family that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
