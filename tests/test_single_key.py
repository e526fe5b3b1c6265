"""Key-agnostic cases: a target with a single registered key (RS256, PS256, ES256 or
EdDSA...) gets no "could not run" error; a case needing a key family the target lacks
skips and says which family it needs and which the target has.

The fast tests run the catalog against a FakeTarget (no servers); the slow ones run the
plan against the embedded emulator publishing (and accepting) one key only, and a
configured run with one RS256 key against a separately started emulator.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from configured_emulator import configured_emulator
from factories import assert_valid_results

from conformance import CaseResult, Runtime, TargetSettings, cli, run_case
from conformance._configured import ConfiguredKeyring
from conformance._embedded import PublishedKeyring, open_embedded
from conformance._engine import Context, Skip
from conformance._exceptions import ConfigError
from conformance._keyring import ALGS, Keyring, check_algs, kty_for, make_key, missing_key
from conformance._settings import PropertySettings
from conformance.catalog import BY_ID, CASES
from conformance.catalog._model import CAPABILITIES
from conformance.catalog.authoring import (
    claims_case,
    trusted_any,
    trusted_key,
    trusted_of_family,
)
from conformance.targets.fake import FakeTarget, accept_all

COULD_NOT_RUN = "the case could not run"
#: The categories where keys are chosen; ``time`` only signs with the default key and
#: spends its seconds on clock waits.
KEYED = tuple(sorted({c.category for c in CASES} - {"time"}))
#: A case of each family that must run (and pass) on a target with a key of that family.
RUNS_ON = {
    "RS256": ("signature.rsa.pkcs1.block_type_02", "algorithms.key_confusion.rs256.hs256.pem"),
    "PS256": ("signature.rsa.pss.salt_zero", "algorithms.header_alg.rs1"),
    "ES256": ("signature.ecdsa.psychic.es256_raw", "keys.jwks.point_off_curve"),
    "EdDSA": ("algorithms.key_confusion.eddsa.hs256.pem", "signature.truncated.eddsa"),
}


def _settings(alg: str) -> TargetSettings:
    return TargetSettings(
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        audience="https://app.test",
        default_alg=alg,
        capabilities=CAPABILITIES,
    )


def _context(keyring: Keyring, alg: str) -> Context:
    runtime = Runtime(settings=_settings(alg), keyring=keyring, target=FakeTarget(accept_all))
    probe = claims_case("claims.test.probe", "probe", mutate=lambda a, ctx: a, rationale="")
    return Context(runtime, probe)


def _skip_reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(Skip) as info:
        call()
    return str(info.value)


# --- the messages and the helpers ---------------------------------------------------------


def test_missing_key_names_the_family_wanted_and_the_keys_held() -> None:
    assert missing_key("EC", ("RS256",)) == (
        "needs an EC (ECDSA) key registered at the target; this target has RS256 (RSA)"
    )
    assert missing_key(("PS256", "PS384"), ("ES256", "EdDSA")) == (
        "needs a PS256 or PS384 key (RSA) registered at the target; "
        "this target has ES256 (EC), EdDSA (OKP)"
    )
    assert missing_key("OKP", ()).endswith("this target has no key")


def test_helpers_pick_a_registered_key_or_skip_with_the_family() -> None:
    rsa, p384 = make_key("RS256"), make_key("ES384")
    ctx = _context(ConfiguredKeyring([rsa, p384]), "RS256")
    assert ctx.key is rsa
    assert trusted_key(ctx, "ES384") is p384
    assert trusted_key(ctx, "ES256", "ES384", "ES512") is p384
    assert trusted_of_family(ctx, "EC", prefer=("ES256",)) is p384
    assert trusted_of_family(ctx, "RSA") is rsa
    assert trusted_any(ctx, "ES384") is p384
    assert trusted_any(ctx, "PS512") is rsa  # the default key when the preferred is missing
    reason = _skip_reason(lambda: trusted_of_family(ctx, "OKP"))
    assert reason == (
        "needs an Ed25519 (OKP) key registered at the target; "
        "this target has RS256 (RSA), ES384 (EC) (add one under [[target.keys]] to run this case)"
    )
    assert "needs a PS256 key (RSA)" in _skip_reason(lambda: trusted_key(ctx, "PS256"))
    # the keyring itself refuses a key it does not have, with the same words
    assert "needs an ES256 key (EC)" in _skip_reason(lambda: ctx.keyring.trusted("ES256"))
    with pytest.raises(ValueError, match="unknown key family"):
        trusted_of_family(ctx, "oct")


def test_the_default_key_comes_first_among_acceptable_ones() -> None:
    keys = [make_key("ES256"), make_key("ES512")]
    ctx = _context(ConfiguredKeyring(keys), "ES512")
    assert trusted_of_family(ctx, "EC", prefer=("ES256",)) is keys[1]
    assert trusted_key(ctx, "ES256", "ES512") is keys[1]
    assert trusted_key(ctx, "ES256") is keys[0]


def test_a_published_keyring_trusts_only_its_algorithms() -> None:
    keyring = PublishedKeyring(published_algs=("PS256",))
    assert keyring.trusted_algs == ("PS256",)
    assert keyring.trusted("PS256").alg == "PS256"
    assert _skip_reason(lambda: keyring.trusted("RS256")) == (
        "needs an RS256 key (RSA) registered at the target; this target has PS256 (RSA)"
    )
    assert keyring.attacker("RS256").alg == "RS256"  # attacker keys are never trusted
    assert [k["alg"] for k in keyring.published_jwks()["keys"]] == ["PS256"]
    assert [k["alg"] for k in keyring.other_jwks()["keys"]] == ["PS256"]


def test_embedded_algorithms_are_checked() -> None:
    assert check_algs(["RS256", "ES256", "RS256"]) == ("RS256", "ES256")
    with pytest.raises(ConfigError, match="unknown algorithm 'HS256'"):
        check_algs(["HS256"])
    with pytest.raises(ConfigError, match="no algorithm given"):
        check_algs([])


def test_the_embedded_alg_option_reaches_pytest_and_needs_no_config() -> None:
    import argparse

    from conformance._cli_run import pytest_args, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    argv = pytest_args(parser.parse_args(["run", "--embedded-alg", "RS256", "--id", "keys.*"]))
    assert argv[argv.index("--conformance-embedded-alg") + 1] == "RS256"
    with pytest.raises(ConfigError, match="--embedded-alg applies to the embedded emulator"):
        pytest_args(parser.parse_args(["run", "--embedded-alg", "RS256", "--config", "x.toml"]))
    with pytest.raises(ConfigError, match="unknown algorithm"):
        pytest_args(parser.parse_args(["run", "--embedded-alg", "rs256"]))


# --- the whole catalog, no servers ---------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_no_case_hard_codes_a_key_a_single_key_target_lacks(alg: str) -> None:
    # Whatever the target answers, a case must build its tokens from keys the target has
    # (or skip): a hard-coded ES256 on an RSA key used to be a TypeError, an "error".
    runtime = Runtime(
        settings=_settings(alg),
        keyring=ConfiguredKeyring([make_key(alg)]),
        target=FakeTarget(accept_all),
        properties=PropertySettings(examples=2),
    )
    crashed = []
    for case in CASES:
        if "jwks_host" in case.needs or case.category == "time":
            continue  # no JWKS host here (the embedded runs below cover them); clock waits
        result = run_case(runtime, case)
        if COULD_NOT_RUN in result.message:
            crashed.append((case.id, result.message[:200]))
    assert crashed == []


# --- the plan against a single-key emulator ------------------------------------------------


def _run_plan(alg: str, categories: tuple[str, ...]) -> list[CaseResult]:
    with open_embedded(algs=(alg,), properties=PropertySettings(examples=10)) as runtime:
        assert runtime.settings.default_alg == alg
        assert [k["alg"] for k in runtime.keyring.published_jwks()["keys"]] == [alg]
        selected = [c for c in CASES if "dynamic" in c.profiles and c.category in categories]
        return [run_case(runtime, case) for case in selected]


def _check_single_key_run(alg: str, results: list[CaseResult]) -> Counter[str]:
    verdicts: Counter[str] = Counter(r.verdict for r in results)
    bad = [
        (r.case.id, r.verdict, r.message[:200])
        for r in results
        if r.verdict not in {"pass", "skip"}
    ]
    assert bad == [], f"{alg}: {verdicts}"
    family = f"this target has {alg} ({kty_for(alg)})"
    for r in results:
        if r.verdict == "skip" and "registered at the target" in r.message:
            assert r.message.startswith("needs ") and r.message.endswith(family), r.message
    by_id = {r.case.id: r.verdict for r in results}
    for case_id in RUNS_ON.get(alg, ()):
        assert by_id[case_id] == "pass", case_id
    return verdicts


@pytest.mark.slow
def test_the_full_plan_on_a_single_rs256_key_has_no_error() -> None:
    # RS256 alone is the RFC 7523 default: the whole plan, clock cases included.
    results = _run_plan("RS256", tuple(sorted({c.category for c in CASES})))
    verdicts = _check_single_key_run("RS256", results)
    assert verdicts["pass"] > 400
    skipped = {r.case.id: r.message for r in results if r.verdict == "skip"}
    assert "signature.ecdsa.range.r_zero" in skipped
    assert skipped["signature.ecdsa.range.r_zero"].startswith("needs an EC (ECDSA) key")


@pytest.mark.slow
@pytest.mark.parametrize("alg", ["PS256", "ES256", "EdDSA"])
def test_the_plan_on_another_single_key_has_no_error(alg: str) -> None:
    verdicts = _check_single_key_run(alg, _run_plan(alg, KEYED))
    assert verdicts["pass"] > 350


# --- a configured target with one RS256 key ------------------------------------------------


@pytest.mark.slow
def test_a_configured_target_with_one_rs256_key_has_no_error(tmp_path: Path) -> None:
    with configured_emulator(tmp_path, "RS256") as config:
        argv = ["run", "--config", str(config), "--no-report"]
        argv += ["--report-dir", str(tmp_path / "out"), "--examples", "5"]
        for category in ("algorithms", "signature", "header", "encoding", "replay", "errors"):
            argv += ["--category", category]
        code = cli.main(argv)
    data = assert_valid_results(tmp_path / "out" / "results.json")
    bad = [
        (c["id"], c["message"][:200]) for c in data["cases"] if c["verdict"] not in {"pass", "skip"}
    ]
    assert bad == []
    assert code == 0
    skipped = {c["id"]: c["message"] for c in data["cases"] if c["verdict"] == "skip"}
    reason = skipped["signature.ecdsa.psychic.es256_raw"]
    assert reason.startswith("needs an ES256 key (EC) registered at the target")
    assert "this target has RS256 (RSA)" in reason
    assert "[[target.keys]]" in reason
    verdicts = {c["id"]: c["verdict"] for c in data["cases"]}
    assert verdicts["signature.rsa.pkcs1.block_type_02"] == "pass"
    assert verdicts["algorithms.header_alg.lowercase"] == "pass"


def test_the_rotation_case_leaves_one_published_key_of_the_alg() -> None:
    """keys.rotation.new_kid left its new key published: on a one-key target every later
    token without kid was ambiguous (keys.no_kid.single_candidate refused), or not, by
    which cases shared the process (an xdist worker without keys.no_kid.several_candidates,
    which withdraws the same key)."""
    from conformance._schedule import Scheduler  # lazy: the scheduler, this test only

    with open_embedded(algs=("ES384",)) as runtime:
        before = runtime.keyring.published_jwks()["keys"]
        plan = [BY_ID["keys.rotation.new_kid"], BY_ID["keys.no_kid.single_candidate"]]
        scheduler = Scheduler(runtime, plan).start()
        results = {c.id: scheduler.result(c.id) for c in plan}
        assert runtime.keyring.published_jwks()["keys"] == before
    for case_id, result in results.items():
        assert result is not None and result.verdict == "pass", (case_id, result)
