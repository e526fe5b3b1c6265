"""Each policy variant changes the emulator's behaviour the way it says, and only then:
every scenario returns True when the variant's behaviour shows; the matrix test runs it
against the clean emulator (False) and against the emulator with that variant (True).
Composition and configuration are checked without servers."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jwt.algorithms import get_default_algorithms

from conformance import ConfigError
from conformance.emulator import VARIANTS, EmulatorConfig, Environment, check_variants
from conformance.emulator.testing import DELETE, ISSUER_A, Harness, Keys, assertion_claims, world
from conformance.emulator.variants import variant_settings, with_variants


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw(h: Harness, payload: bytes, header: dict[str, Any] | None = None) -> str:
    """A token whose payload is exactly ``payload``, signed by trusted key a-ec."""
    key, alg, kid = h.keys.trusted["a-ec"]
    head = _b64(json.dumps(header or {"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    body = _b64(payload)
    algorithm = get_default_algorithms()[alg]
    signature = algorithm.sign(f"{head}.{body}".encode(), key)
    return f"{head}.{body}.{_b64(signature)}"


def _claims_json(**extra: Any) -> str:
    return json.dumps(assertion_claims(subject="alice", issuer=ISSUER_A, **extra))


def _accepted(h: Harness, s: str, token: str) -> bool:
    reply = h.verify(s, token)
    assert reply.status_code < 500, reply.text
    return bool(reply.status_code == 200)


def _status(h: Harness, s: str, token: str) -> int:
    return int(h.verify(s, token).status_code)


def _refusals(status: int) -> Callable[[Harness, str], bool]:
    def scenario(h: Harness, s: str) -> bool:
        malformed = _status(h, s, "not.a.token")  # 400 on the clean emulator
        expired = _status(h, s, h.assertion(exp=int(time.time()) - 3600))  # 401
        other_user = _status(h, s, h.assertion(subject="mallory"))  # 403
        return malformed == expired == other_user == status

    return scenario


SCENARIOS: dict[str, Callable[[Harness, str], bool]] = {
    "leeway_5s": lambda h, s: not _accepted(h, s, h.assertion(exp=int(time.time()) - 15)),
    "leeway_120s": lambda h, s: _accepted(h, s, h.assertion(exp=int(time.time()) - 90)),
    "max_lifetime_3600s": lambda h, s: _accepted(h, s, h.assertion(exp=int(time.time()) + 3000)),
    "iss_optional": lambda h, s: _accepted(h, s, h.assertion(iss=DELETE)),
    "typ_unchecked": lambda h, s: _accepted(h, s, h.assertion(headers={"typ": "at+jwt"})),
    "lenient_json": lambda h, s: _accepted(
        h, s, _raw(h, (_claims_json()[:-1] + ', "x": NaN}').encode("utf-16"))
    ),
    "duplicates_last_wins": lambda h, s: _accepted(
        h, s, _raw(h, (_claims_json()[:-1] + ', "scope": "wallet:export"}').encode())
    ),
    "unknown_header_refused": lambda h, s: (
        not _accepted(h, s, h.assertion(headers={"x-trace": "1"}))
    ),
    "unknown_claims_refused": lambda h, s: (
        not _accepted(h, s, h.assertion(admin=True)) and _accepted(h, s, h.assertion(nbf=0))
    ),
    "lenient_base64url": lambda h, s: _accepted(h, s, " " + h.assertion() + "==\n"),
    "kid_ignored_single_key": lambda h, s: _accepted(
        h, s, _raw(h, _claims_json().encode(), {"alg": "ES256", "kid": "not-published"})
    ),
    "refusals_400": _refusals(400),
    "refusals_401": _refusals(401),
    "refusals_403": _refusals(403),
}


def test_every_variant_has_a_scenario_and_a_reason() -> None:
    assert set(SCENARIOS) == set(VARIANTS)
    for variant in VARIANTS.values():
        assert variant.description and variant.why and variant.settings


def test_variants_compose_unless_they_disagree() -> None:
    both = variant_settings(["leeway_5s", "iss_optional"])
    assert both == {"leeway_s": 5, "require_iss": False}
    # lenient_json implies last-wins duplicates: the two agree, so they compose
    assert check_variants(["lenient_json", "duplicates_last_wins"]) == {
        "lenient_json",
        "duplicates_last_wins",
    }
    with pytest.raises(ConfigError, match="'leeway_120s' and 'leeway_5s' set leeway_s"):
        check_variants(["leeway_5s", "leeway_120s"])
    with pytest.raises(ConfigError, match="unknown variant 'leeway_6s'; known variants"):
        check_variants(["leeway_6s"])


def test_with_variants_sets_the_knobs_and_keeps_the_rest() -> None:
    env = Environment("env", "https://issuer.example", "http://127.0.0.1:1/jwks.json")
    base = EmulatorConfig(environments=(env,), jwks_timeout_s=0.5)
    changed = with_variants(base, ["refusals_403", "unknown_header_refused"])
    assert (changed.refusal_status, changed.unknown_header, changed.jwks_timeout_s) == (
        403,
        "refuse",
        0.5,
    )
    assert with_variants(base, []) == base
    assert EmulatorConfig.from_dict(changed.to_dict()) == changed


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("require_iss", "no", "require_iss must be true or false"),
        ("duplicate_members", "first", "duplicate_members must be one of 'reject', 'last'"),
        ("unknown_header", "drop", "unknown_header must be one of 'ignore', 'refuse'"),
        ("refusal_status", 418, "refusal_status must be 400, 401 or 403"),
    ],
)
def test_config_refuses_wrong_knob_values(key: str, value: Any, message: str) -> None:
    env = Environment("env", "https://issuer.example", "http://127.0.0.1:1/jwks.json")
    with pytest.raises(ConfigError, match=message):
        EmulatorConfig(environments=(env,), **{key: value})


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def clean(keys: Keys) -> Iterator[tuple[Harness, str]]:
    with world(keys) as h:
        yield h, h.signin()


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_clean_emulator_does_not_show_the_variant(clean: tuple[Harness, str], variant: str) -> None:
    h, session = clean
    assert SCENARIOS[variant](h, session) is False


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_emulator_with_the_variant_shows_it(keys: Keys, variant: str) -> None:
    with world(keys, **variant_settings([variant])) as h:
        assert SCENARIOS[variant](h, h.signin()) is True
