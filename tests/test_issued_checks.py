"""A profile's ``[issued]`` contract and ``[claims] scope`` are honoured, not only parsed.

``[issued] checks`` decide which cases judge a decoded issued token (``_contract``
skips the others with the reason; ``catalog.authoring.issued_claims`` skips a read for
an undeclared check at run time); ``format = "opaque"`` with checks is refused at load;
``[claims] scope = false`` leaves ``scope`` out of every assertion. No servers here: the
runs against servers are in ``test_profiles.py`` (Acme refusing unknown claims, the
Dynamic file against the adapter) and ``test_profile_shapes.py`` (the shape profiles).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from conformance._contract import ISSUED_CHECK_CASES, with_contract
from conformance._engine import Runtime, run_case
from conformance._exceptions import ConfigError
from conformance._jose import b64url_encode
from conformance._keyring import Keyring
from conformance._profile import ISSUED_CHECKS, Profile, parse_profile, shipped
from conformance._settings import TargetSettings
from conformance.catalog import BY_ID, CASES
from conformance.forge import split
from conformance.targets.base import ExchangeRequest
from conformance.targets.fake import FakeTarget, Reply

ROOT = Path(__file__).resolve().parent.parent
_KEYRING = Keyring(published_algs=("ES256",))


def _variant(name: str, **tables: str) -> Profile:
    """The shipped file ``name`` with the keys of ``tables`` replaced."""
    data = tomllib.loads((ROOT / "conformance" / "profiles" / f"{name}.toml").read_text())
    for table, body in tables.items():
        data[table] = {**data.get(table, {}), **tomllib.loads(body)}
    return parse_profile(data, source="variant.toml")


def _skips(profile: Profile) -> dict[str, str | None]:
    return {c.id: c.skip_reason(profile.semantics) for c in with_contract(CASES, profile)}


def _cases_of(check: str) -> set[str]:
    return {c.id for c in CASES for g in ISSUED_CHECK_CASES[check] if fnmatch.fnmatchcase(c.id, g)}


# -- the contract ------------------------------------------------------------------------


def test_every_issued_token_case_belongs_to_exactly_one_check() -> None:
    assert tuple(ISSUED_CHECK_CASES) == ISSUED_CHECKS
    owners: dict[str, list[str]] = {}
    for check in ISSUED_CHECKS:
        assert _cases_of(check), f"no case judges {check!r}"
        for case_id in _cases_of(check):
            owners.setdefault(case_id, []).append(check)
    token_cases = {c.id for c in CASES if c.id.startswith("issued.token.")}
    assert token_cases <= set(owners), token_cases - set(owners)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_the_declared_checks_are_judged_and_the_others_skip_saying_what_is_missing() -> None:
    full = _skips(shipped("dynamic"))
    signature_only = _skips(_variant("dynamic", issued='checks = ["signature"]'))
    for check in ISSUED_CHECKS:
        for case_id in _cases_of(check):
            if case_id.startswith("claims.rfc7523."):
                continue  # an RFC 7523 case: skipped under the dynamic base anyway
            assert full[case_id] is None, case_id
            reason = signature_only[case_id]
            if check == "signature":
                assert reason is None, case_id
            else:
                assert reason is not None and f'[issued] checks lacks "{check}"' in reason
    # the cases that only use the token are not checks: they still run
    assert signature_only["issued.operation.other_scope"] is None
    assert signature_only["issued.response.shape"] is None


def test_the_shape_profiles_declare_their_issued_jwts() -> None:
    for name, checks in {
        "dynamic-signin": ("signature",),
        "privy-custom-jwt": ("signature", "lifetime"),
        "stytch-attest": ("signature", "lifetime"),
    }.items():
        profile = shipped(name)
        assert (profile.issued.format, profile.issued.checks) == ("jwt", checks), name
        assert profile.issued.jwks_url, name
        skips = _skips(profile)
        assert skips["issued.token.verifies"] is None
        assert '[issued] checks lacks "scope"' in (skips["claims.extra.privilege_role"] or "")
    assert shipped("stytch-attest").issued.max_lifetime_s == 300
    assert "opaque" in (_skips(shipped("rfc8693"))["issued.token.is_jws"] or "")


def test_an_rfc7523_base_decodes_only_for_the_subject() -> None:
    grant = _variant("rfc7523-jwt-bearer", issued='format = "jwt"')
    assert grant.issued.checks == ("subject",)
    assert _skips(grant)["claims.rfc7523.issued_subject"] is None
    blind = _variant("rfc7523-jwt-bearer", issued='format = "jwt"\nchecks = []')
    assert '[issued] checks lacks "subject"' in (
        _skips(blind)["claims.rfc7523.issued_subject"] or ""
    )


@pytest.mark.parametrize(
    ("name", "issued", "message"),
    [
        (
            "dynamic",
            'format = "opaque"\nchecks = ["lifetime"]',
            r"^variant.toml: issued.checks names \'lifetime\', which needs a decoded token: "
            r'with format = "opaque" leave checks out, or set format = "jwt"$',
        ),
        (
            "rfc7523",
            'format = "jwt"\nchecks = ["subject", "lifetime"]',
            r"^variant.toml: issued.checks names 'lifetime', which semantics = "
            r'"rfc7523/client_assertion" does not judge \(choose from subject; ',
        ),
        (
            "dynamic",
            'checks = ["audience"]',
            r"^variant.toml: issued.checks names 'audience'; choose from signature, lifetime, ",
        ),
    ],
    ids=["opaque-with-checks", "beyond-the-base", "unknown-check"],
)
def test_an_issued_contract_that_cannot_be_honoured_is_refused_at_load(
    name: str, issued: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _variant(name, issued=issued)


def test_opaque_with_no_checks_loads() -> None:
    opaque = _variant("dynamic", issued='format = "opaque"\nchecks = []')
    assert opaque.issued.checks == ()


# -- at run time: a read for an undeclared check skips -------------------------------------


def _jwt(claims: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    return f"{header}.{b64url_encode(json.dumps(claims).encode())}.c2ln"


def _run_with(description: dict[str, Any], case_id: str) -> tuple[str, str]:
    """``case_id`` against a target that issues a token granting more than asked."""
    token = _jwt({"sub": "conformance-a", "scope": "wallet:export admin", "exp": 9e9})

    def handler(request: ExchangeRequest) -> Reply:
        return Reply(200, body='{"elevatedAccessToken": "[issued]"}', issued=token)

    target = FakeTarget(handler)
    target.description = {**target.description, **description}
    settings = TargetSettings(
        base_url="fake://target", environment_id="env", issuer="https://issuer.test"
    )
    result = run_case(Runtime(settings=settings, keyring=_KEYRING, target=target), BY_ID[case_id])
    return result.verdict, result.message


def test_a_scope_read_skips_where_the_checks_leave_scope_out() -> None:
    # scope.multiple.two reads the issued token's scope after its own exchange
    verdict, message = _run_with({}, "scope.multiple.two")
    assert verdict == "fail" and "scope" in message
    verdict, message = _run_with({"issued_checks": ["signature"]}, "scope.multiple.two")
    assert verdict == "skip"
    assert message == 'the target\'s profile does not promise it: [issued] checks lacks "scope"'
    verdict, _ = _run_with({"issued_checks": ["scope"]}, "scope.multiple.two")
    assert verdict == "fail"


# -- [claims] scope = false ----------------------------------------------------------------


def _sent_claims(settings: TargetSettings, case_id: str) -> list[dict[str, Any]]:
    """The claims of every assertion ``case_id`` sends (to a target refusing them all)."""
    target = FakeTarget(lambda r: Reply(401, body='{"error": "no"}'))
    run_case(Runtime(settings=settings, keyring=_KEYRING, target=target), BY_ID[case_id])
    return [split(r.assertion)[1] for r in target.requests if r.assertion]


@pytest.mark.parametrize("case_id", ["envelope.valid.baseline", "claims.sub.missing"])
def test_without_a_scope_claim_no_assertion_carries_scope(case_id: str) -> None:
    base = TargetSettings(base_url="fake://t", environment_id="e", issuer="https://issuer.test")
    with_scope = _sent_claims(base, case_id)
    assert with_scope and all("scope" in c for c in with_scope)
    without = _sent_claims(dataclasses.replace(base, scope_claim=False), case_id)
    assert without and all("scope" not in c for c in without), without


def test_the_rfc7523_adapter_sends_no_scope_claim() -> None:
    from conformance.targets.rfc7523 import Rfc7523Options, rfc7523_settings

    options = Rfc7523Options(token_url="http://127.0.0.1:9/token", client_id="c")
    assert rfc7523_settings(options).scope_claim is False


def test_without_a_scope_claim_the_issued_scope_is_not_judged_whatever_the_checks() -> None:
    """The scope check compares the issued token's scope with the one the assertion asked
    for: a contract without a scope claim asks for none. With the checks left to the base
    (every one for "dynamic"), the injected-privilege cases sent a scope claim and failed
    the Privy reference route, whose tokens carry no scope."""
    data = tomllib.loads((ROOT / "conformance" / "profiles" / "privy-custom-jwt.toml").read_text())
    del data["issued"]["checks"]
    profile = parse_profile(data, source="variant.toml")
    assert "scope" in profile.issued.checks and not profile.claims.scope
    skips = _skips(profile)
    for case_id in _cases_of("scope"):
        assert "carries no scope claim" in (skips[case_id] or ""), case_id
    assert skips["issued.token.verifies"] is None  # the other checks still run
