from __future__ import annotations

import sys
from typing import Any

import pytest

from conformance._oracle import RULES, Rules, violations

NOW = 1_800_000_000
RULES_A = Rules(
    issuer="https://issuer.example",
    audience=None,
    subject="user-a",
    known_scopes=("wallet:export", "wallet:sign"),
)
RULES_AUD = Rules(
    issuer="https://issuer.example",
    audience="https://api.example",
    subject="user-a",
    known_scopes=("wallet:export", "wallet:sign"),
)
HEADER = {"alg": "ES256", "kid": "trusted-es256-1", "typ": "JWT"}
CLAIMS = {
    "sub": "user-a",
    "scope": "wallet:export",
    "jti": "j-1",
    "exp": NOW + 120,
    "iss": "https://issuer.example",
    "iat": NOW,
}
DROP = object()


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in changes.items():
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def judge(
    *,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    rules: Rules = RULES_A,
    key_alg: str | None = "ES256",
) -> list[str]:
    return violations(
        _apply(HEADER, header or {}),
        _apply(CLAIMS, claims or {}),
        rules=rules,
        now=NOW,
        key_alg=key_alg,
    )


def test_valid_assertion_has_no_violations() -> None:
    assert judge() == []


# One example per rule: (rule, keyword arguments for judge). Each must break that rule only.
EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("alg_not_allowed", {"header": {"alg": "none"}}),
    ("alg_not_allowed", {"header": {"alg": "HS256"}}),
    ("alg_not_allowed", {"header": {"alg": "es256"}}),
    ("alg_not_allowed", {"header": {"alg": DROP}}),
    ("key_not_found", {"key_alg": None}),
    ("alg_key_mismatch", {"key_alg": "RS256"}),
    ("alg_key_mismatch", {"header": {"alg": "ES384"}}),
    ("kid_type", {"header": {"kid": ""}}),
    ("kid_type", {"header": {"kid": 7}}),
    ("crit_present", {"header": {"crit": ["exp"]}}),
    ("b64_present", {"header": {"b64": True}}),
    ("zip_present", {"header": {"zip": "DEF"}}),
    ("cty_present", {"header": {"cty": "JWT"}}),
    ("typ_invalid", {"header": {"typ": "at+jwt"}}),
    ("typ_invalid", {"header": {"typ": 1}}),
    ("sub_missing", {"claims": {"sub": DROP}}),
    ("sub_type", {"claims": {"sub": ""}}),
    ("sub_type", {"claims": {"sub": 42}}),
    ("scope_missing", {"claims": {"scope": DROP}}),
    ("scope_type", {"claims": {"scope": ["wallet:export"]}}),
    ("jti_missing", {"claims": {"jti": DROP}}),
    ("jti_type", {"claims": {"jti": ""}}),
    ("jti_too_long", {"claims": {"jti": "j" * 257}}),
    ("exp_missing", {"claims": {"exp": DROP}}),
    ("exp_type", {"claims": {"exp": True}}),
    ("exp_type", {"claims": {"exp": str(NOW + 60)}}),
    ("exp_type", {"claims": {"exp": float("inf")}}),
    ("iss_missing", {"claims": {"iss": DROP}}),
    ("iss_type", {"claims": {"iss": None}}),
    ("iat_type", {"claims": {"iat": "now"}}),
    ("nbf_type", {"claims": {"nbf": False}}),
    ("sub_mismatch", {"claims": {"sub": "USER-A"}}),
    ("sub_mismatch", {"claims": {"sub": "user-a\u200b"}}),
    ("scope_format", {"claims": {"scope": "wallet:export  wallet:sign"}}),
    ("scope_format", {"claims": {"scope": " wallet:export"}}),
    ("scope_unknown", {"claims": {"scope": "wallet:export admin"}}),
    ("scope_unknown", {"claims": {"scope": "Wallet:Export"}}),
    ("exp_expired", {"claims": {"exp": NOW - 31, "iat": NOW - 100}}),
    ("nbf_future", {"claims": {"nbf": NOW + 31}}),
    ("iat_future", {"claims": {"iat": NOW + 31}}),
    ("nbf_after_exp", {"claims": {"nbf": NOW + 20, "exp": NOW + 20}}),
    ("lifetime_too_long", {"claims": {"exp": NOW + 631, "iat": DROP}}),
    ("iat_lifetime_too_long", {"claims": {"exp": NOW + 100, "iat": NOW - 531}}),
    ("iss_mismatch", {"claims": {"iss": "https://issuer.example/"}}),
    ("aud_missing", {"rules": RULES_AUD}),
    ("aud_type", {"rules": RULES_AUD, "claims": {"aud": 1}}),
    ("aud_type", {"rules": RULES_AUD, "claims": {"aud": ["https://api.example", 2]}}),
    ("aud_mismatch", {"rules": RULES_AUD, "claims": {"aud": "https://other.example"}}),
    ("aud_mismatch", {"rules": RULES_AUD, "claims": {"aud": ["https://other.example"]}}),
]


@pytest.mark.parametrize(
    ("rule", "kwargs"), EXAMPLES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(EXAMPLES)]
)
def test_each_rule_alone(rule: str, kwargs: dict[str, Any]) -> None:
    assert judge(**kwargs) == [rule]


def test_every_rule_has_an_example() -> None:
    assert {rule for rule, _ in EXAMPLES} == set(RULES)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"header": {"typ": DROP}},
        {"header": {"typ": "application/JWT"}},
        {"header": {"typ": "jwt"}},
        {"header": {"kid": DROP}},
        {"header": {"jku": "https://attacker.example/jwks", "x5u": "https://a", "x-extra": 1}},
        {"header": {"alg": "EdDSA"}, "key_alg": "EdDSA"},
        {"claims": {"scope": "wallet:export wallet:sign wallet:export"}},  # duplicates allowed
        {"claims": {"exp": NOW - 29, "iat": NOW - 100}},  # inside the leeway
        {"claims": {"exp": NOW + 629, "iat": DROP}},  # lifetime within max + leeway
        {"claims": {"exp": NOW + 60.5}},  # a float is a number
        {"claims": {"iat": NOW + 29, "nbf": NOW + 29}},
        {"claims": {"jti": "j" * 256}},
        {"claims": {"admin": True, "role": "root"}},  # unknown claims are ignored
        {"claims": {"aud": 12}},  # no audience configured: aud ignored
        {"claims": {"exp": 10**30, "iat": DROP}, "expect": ["lifetime_too_long"]},
        {"rules": RULES_AUD, "claims": {"aud": "https://api.example"}},
        {"rules": RULES_AUD, "claims": {"aud": ["x", "https://api.example"]}},
    ],
)
def test_acceptable_edges(kwargs: dict[str, Any]) -> None:
    expect = kwargs.pop("expect", [])
    assert judge(**kwargs) == expect


def test_millisecond_timestamps_are_refused() -> None:
    assert judge(claims={"exp": (NOW + 60) * 1000, "iat": NOW * 1000}) == [
        "iat_future",
        "lifetime_too_long",
        "iat_lifetime_too_long",
    ]


def test_several_violations_in_stable_order() -> None:
    result = judge(
        header={"alg": "none", "crit": []}, claims={"sub": DROP, "exp": "soon"}, key_alg=None
    )
    assert result == ["alg_not_allowed", "key_not_found", "crit_present", "sub_missing", "exp_type"]


def test_configurable_numbers() -> None:
    tight = Rules(
        issuer="https://issuer.example",
        audience=None,
        subject="user-a",
        known_scopes=("wallet:export",),
        leeway_s=0,
        max_lifetime_s=60,
    )
    assert judge(rules=tight) == ["lifetime_too_long", "iat_lifetime_too_long"]
    only_rs = Rules(
        issuer="https://issuer.example",
        audience=None,
        subject="user-a",
        known_scopes=("wallet:export",),
        allowed_algs=("RS256",),
    )
    assert judge(rules=only_rs) == ["alg_not_allowed"]


def test_not_mappings_raise() -> None:
    with pytest.raises(TypeError):
        violations([], {}, rules=RULES_A, now=NOW, key_alg="ES256")  # type: ignore[arg-type]


def test_oracle_is_independent_of_the_emulator() -> None:
    import subprocess

    code = "import conformance._oracle, sys; print(any(m.startswith('conformance.emulator') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
