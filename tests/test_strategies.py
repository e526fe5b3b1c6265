from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from conformance import strategies
from conformance._oracle import Rules, violations
from conformance.strategies import (
    claim_sets,
    header_mutations,
    register_profiles,
    scope_values,
    subject_variants,
    unknown_claims,
    wrong_type_values,
)

NOW = 1_800_000_000
KNOWN = ("wallet:export", "wallet:sign", "user:update")
RULES = Rules(
    issuer="https://issuer.example",
    audience="https://api.example",
    subject="user-a",
    known_scopes=KNOWN,
)
VALID = {
    "sub": "user-a",
    "scope": "wallet:export",
    "jti": "j-1",
    "exp": NOW + 120,
    "iss": "https://issuer.example",
    "iat": NOW,
    "aud": "https://api.example",
}
HEADER = {"alg": "ES256", "kid": "trusted-es256-1", "typ": "JWT"}
# The published keys the header strategy may point at: kid -> alg.
PUBLISHED = {"trusted-es256-1": "ES256", "trusted-rs256-1": "RS256", "trusted-eddsa-1": "EdDSA"}

FAST = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _key_alg(header: dict[str, Any]) -> str | None:
    """Resolve the key as the policy does: by kid, or the only key matching alg."""
    if "kid" in header:
        kid = header["kid"]
        return PUBLISHED.get(kid) if isinstance(kid, str) else None
    matching = [alg for alg in PUBLISHED.values() if alg == header.get("alg")]
    return matching[0] if len(matching) == 1 else None


def _claims_verdict(claims: dict[str, Any], now: int = NOW) -> list[str]:
    return violations(HEADER, claims, rules=RULES, now=now, key_alg="ES256")


def test_the_valid_input_is_valid() -> None:
    assert _claims_verdict(VALID) == []
    assert violations(HEADER, VALID, rules=RULES, now=NOW, key_alg=_key_alg(HEADER)) == []


def test_claim_sets_draw_valid_and_invalid() -> None:
    verdicts: list[list[str]] = []

    @FAST
    @given(claim_sets(valid=VALID, now=NOW, known_scopes=KNOWN))
    def collect(claims: dict[str, Any]) -> None:
        verdicts.append(_claims_verdict(claims))

    collect()
    broken = {rule for v in verdicts for rule in v}
    assert any(v == [] for v in verdicts)
    assert sum(1 for v in verdicts if v) > len(verdicts) // 3
    # The draws reach the time, type, subject and scope rules.
    assert {"exp_expired", "sub_mismatch", "scope_unknown"} <= broken
    assert broken & {"exp_type", "sub_type", "iss_type", "jti_type", "scope_type"}
    assert broken & {"lifetime_too_long", "iat_lifetime_too_long", "iat_future", "nbf_future"}


@FAST
@given(claim_sets(valid=VALID, now=NOW, known_scopes=KNOWN))
def test_claim_sets_stay_clear_of_time_boundaries(claims: dict[str, Any]) -> None:
    json.dumps(claims, allow_nan=False)  # a JSON object, always
    # A clock 2 s off either way (less than the 3 s margin) never changes the verdict.
    verdict = _claims_verdict(claims)
    assert _claims_verdict(claims, NOW - 2) == verdict
    assert _claims_verdict(claims, NOW + 2) == verdict


def test_header_mutations_draw_valid_and_invalid() -> None:
    verdicts: list[list[str]] = []

    @FAST
    @given(header_mutations(valid=HEADER, kids=sorted(PUBLISHED)))
    def collect(header: dict[str, Any]) -> None:
        verdicts.append(violations(header, VALID, rules=RULES, now=NOW, key_alg=_key_alg(header)))

    collect()
    broken = {rule for v in verdicts for rule in v}
    assert any(v == [] for v in verdicts)
    assert {"alg_not_allowed", "typ_invalid", "kid_type", "crit_present", "cty_present"} <= broken
    assert broken & {"alg_key_mismatch", "key_not_found"}


@FAST
@given(subject_variants(subject="user-a"))
def test_subject_variants_are_strings(value: str) -> None:
    assert isinstance(value, str)
    assert value


def test_subject_variants_include_lookalikes() -> None:
    seen: set[str] = set()

    @FAST
    @given(subject_variants(subject="user-a"))
    def collect(value: str) -> None:
        seen.add(value)

    collect()
    assert {"user-a", "USER-A", "user-a\u200b", "usеr-а"} <= seen


def test_scope_values_cover_valid_and_each_defect() -> None:
    verdicts: set[tuple[str, ...]] = set()

    @FAST
    @given(scope_values(known_scopes=KNOWN))
    def collect(scope: str) -> None:
        verdicts.add(tuple(_claims_verdict({**VALID, "scope": scope})))

    collect()
    assert () in verdicts
    flat = {rule for v in verdicts for rule in v}
    assert {"scope_format", "scope_unknown", "scope_type"} <= flat


@FAST
@given(st.data())
def test_wrong_type_values_change_the_json_type(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from([1, 1.5, "text", "12", True, None, [1], {"a": 1}]))
    value = data.draw(wrong_type_values(original))
    assert strategies._json_type(value) != strategies._json_type(original)


@FAST
@given(unknown_claims())
def test_unknown_claims_avoid_policy_claims(extra: dict[str, Any]) -> None:
    assert extra
    assert not set(extra) & strategies.RESERVED_CLAIMS
    assert _claims_verdict({**VALID, **extra}) == []  # unknown claims grant and break nothing


@pytest.mark.parametrize(
    "build",
    [
        lambda: claim_sets(valid=[], now=NOW),  # type: ignore[arg-type]
        lambda: claim_sets(valid=VALID, now="now"),  # type: ignore[arg-type]
        lambda: claim_sets(valid=VALID, now=True),
        lambda: claim_sets(valid=VALID, now=NOW, leeway_s=-1),
        lambda: claim_sets(valid=VALID, now=NOW, known_scopes=()),
        lambda: header_mutations(valid={"kid": "x"}),
        lambda: header_mutations(valid=[]),  # type: ignore[arg-type]
        lambda: scope_values(known_scopes=[]),
    ],
    ids=[
        "valid-not-mapping",
        "now-not-int",
        "now-bool",
        "negative-leeway",
        "no-known-scopes",
        "header-without-alg",
        "header-not-mapping",
        "scope-values-empty",
    ],
)
def test_misuse_raises_when_built(build: Any) -> None:
    with pytest.raises(InvalidArgument):
        build()


def test_register_profiles() -> None:
    register_profiles(ci_examples=77)
    register_profiles(ci_examples=77)  # idempotent
    ci = settings.get_profile("ci")
    assert ci.derandomize is True
    assert ci.deadline is None
    assert ci.database is None
    assert ci.print_blob is True
    assert ci.max_examples == 77
    assert settings.get_profile("dev").derandomize is False
