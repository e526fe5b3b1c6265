"""The Wycheproof family reproduces the vectors it names (catalog/wycheproof.py)."""

from __future__ import annotations

import hashlib

from conformance.catalog import BY_ID, wycheproof
from conformance.forge import b64url_decode

#: tcId 378 of SpecialCaseEs256: the valid signature the constructions start from
_VALID_378 = (
    "5cA0OHyMP7ezamUd5c9kV-FrGxdx4hbGXOdplQkutrppUShFwBW_Qj7IqhFOtNrIXLLKXS5CSZmERxmnjeyoiQ"
)
#: sha256 prefixes of the signature bytes of tcId 379-385 (C2SP/wycheproof@dac1dd4)
_VECTOR_DIGESTS = {
    379: "5ae6030ddb975f5b",
    380: "3b69f456036e7f09",
    381: "e1a4fc698109e27f",
    382: "228e149758c34498",
    383: "0cf90978ec23cd42",
    384: "6051b5187bd5ead9",
    385: "9e6d792df61a0fcc",
}
_VALUES = {"Zero": 0, "One": 1, "Nminus1": wycheproof._N - 1, "N": wycheproof._N}


def test_constructions_rebuild_the_vectors_from_the_valid_signature() -> None:
    raw = b64url_decode(_VALID_378)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    built = {tc: make(r, wycheproof._N - s) for tc, _, make in wycheproof._CONSTRUCTIONS}
    assert {tc: hashlib.sha256(b).hexdigest()[:16] for tc, b in built.items()} == (_VECTOR_DIGESTS)


def test_special_signatures_hold_the_values_their_comment_names() -> None:
    for _, comment, signature in wycheproof._SPECIAL:
        raw = b64url_decode(signature)
        assert len(raw) == 64
        r_name, s_name = comment.removeprefix("rIs").split("_sIs")
        assert int.from_bytes(raw[:32], "big") == _VALUES[r_name]
        assert int.from_bytes(raw[32:], "big") == _VALUES[s_name]


def test_every_vector_is_a_case_with_its_tcid() -> None:
    tcs = [tc for tc, *_ in wycheproof._SPECIAL] + [tc for tc, *_ in wycheproof._CONSTRUCTIONS]
    assert len(set(tcs)) == len(tcs) == len(wycheproof.CASES) == 20
    for tc in tcs:
        case = BY_ID[f"signature.wycheproof.special_case_es256.tc{tc}"]
        assert f"tcId {tc}" in case.title and any(f"tcId {tc}" in r for r in case.references)
