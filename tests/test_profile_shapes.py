"""The shipped shape profiles (Dynamic's sign-in, RFC 8693, Stytch attest, Privy custom
JWT) against the emulator's route for each: a focused plan gives a clean verdict from the
profile file alone, and each shape flaw is caught by the cases on its rows."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factories import assert_valid_results
from profiled_emulator import SHAPE_PARAMS, profiled_emulator
from test_policy_variants import RUNS

from conformance._contract import ISSUED_CHECK_CASES
from conformance._profile import shipped
from conformance.catalog import CASES
from conformance.emulator import FLAWS

pytestmark = pytest.mark.slow

#: Focused for CPU: the claim, signature and issued-token categories, not the whole plan.
FOCUS = ("claims", "signature", "issued")


#: The checkout these tests belong to: the child runs import the package from it.
ROOT = Path(__file__).resolve().parent.parent


def _run(config: Path, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``conformance run`` in a child process: an in-process run would inherit what
    earlier tests of the session left behind (an unclosed socket collected mid-run fails
    whichever case is running)."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    argv = ["run", "--config", str(config), "--no-report", "--report-dir", str(out), *args]
    done = subprocess.run(
        [sys.executable, "-m", "conformance", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, assert_valid_results(out / "results.json")


def _troubles(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["id"], c["message"]) for c in data["cases"] if c["verdict"] in {"fail", "error"}]


def _focus() -> list[str]:
    return [arg for category in FOCUS for arg in ("--category", category)]


@pytest.mark.parametrize("profile", sorted(SHAPE_PARAMS))
def test_shape_profile_is_clean_against_its_reference_route(tmp_path: Path, profile: str) -> None:
    with profiled_emulator(tmp_path, profile) as config:
        code, data = _run(config, tmp_path / "out", *_focus(), "--examples", "10")
    assert code == 0, _troubles(data)
    assert _troubles(data) == []
    verdicts = [c["verdict"] for c in data["cases"]]
    assert verdicts.count("pass") >= 40, verdicts  # the plan ran, not only skipped
    assert data["summary"]["verdict"] in {"conformant", "conformant_with_gaps"}
    assert data["run"]["target"]["embedded"] is False


@pytest.mark.parametrize("profile", sorted(SHAPE_PARAMS))
def test_shape_profile_judges_the_issued_checks_it_declares(tmp_path: Path, profile: str) -> None:
    """The issued token's cases of each declared ``[issued] checks`` run and pass; the
    others skip saying which check the profile lacks (or that its tokens are opaque)."""
    declared = shipped(profile).issued
    with profiled_emulator(tmp_path, profile) as config:
        code, data = _run(config, tmp_path / "out", "--strict", "--category", "issued")
    assert code == 0, _troubles(data)
    results = {c["id"]: c for c in data["cases"]}
    for check, globs in ISSUED_CHECK_CASES.items():
        for case_id in (i for i in results if any(fnmatch.fnmatchcase(i, g) for g in globs)):
            verdict, message = results[case_id]["verdict"], results[case_id]["message"]
            if check in declared.checks and "needs sessions" not in message:
                assert verdict == "pass", (case_id, message)
            elif check not in declared.checks:
                assert verdict == "skip", case_id
                missing = f'[issued] checks lacks "{check}"'
                opaque = declared.format == "opaque"
                assert missing in message or opaque or "needs sessions" in message, message
    judged = [
        i for i, c in results.items() if i.startswith("issued.token.") and c["verdict"] == "pass"
    ]
    assert bool(judged) == (declared.format == "jwt"), judged


@pytest.mark.parametrize("flaw", sorted(f for f in FLAWS if FLAWS[f].shape is not None))
def test_each_shape_flaw_is_caught_through_its_profile(tmp_path: Path, flaw: str) -> None:
    shape = FLAWS[flaw].shape
    assert shape in SHAPE_PARAMS
    rows = set(FLAWS[flaw].breaks)
    ids = sorted(c.id for c in CASES if rows & set(c.anchors))
    chosen = [arg for case_id in ids for arg in ("--id", case_id)]
    with profiled_emulator(tmp_path, shape, flaws=(flaw,)) as config:
        _, data = _run(config, tmp_path / "out", "--strict", "--examples", "10", *chosen)
    failing = [c["id"] for c in data["cases"] if c["verdict"] == "fail"]
    assert failing, f"flaw {flaw} went unnoticed through profile {shape} by {ids}"


#: The cases that read whom the answer names (``[classify] subject``).
SUBJECT_CASES = sorted(c.id for c in CASES if c.id.startswith("subject.answer."))


def test_signin_subject_cases_run_clean_against_the_reference_route(tmp_path: Path) -> None:
    chosen = [arg for case_id in SUBJECT_CASES for arg in ("--id", case_id)]
    with profiled_emulator(tmp_path, "dynamic-signin") as config:
        code, data = _run(config, tmp_path / "out", "--strict", *chosen)
    assert code == 0, _troubles(data)
    assert {c["id"]: c["verdict"] for c in data["cases"]} == dict.fromkeys(SUBJECT_CASES, "pass")


def test_signin_subject_folding_signs_in_as_another_user(tmp_path: Path) -> None:
    chosen = [arg for case_id in SUBJECT_CASES for arg in ("--id", case_id)]
    with profiled_emulator(tmp_path, "dynamic-signin", flaws=("signin_subject_folded",)) as cfg:
        code, data = _run(cfg, tmp_path / "out", *chosen)
    verdicts = {c["id"]: c["verdict"] for c in data["cases"]}
    assert verdicts.pop("subject.answer.exact") == "pass"  # the subject is already folded
    assert set(verdicts.values()) == {"fail"}, verdicts
    assert code == 1


#: Profiles whose documentation requires iss: accepting an assertion without one breaks
#: their contract, so the iss_optional variant is no legitimate policy there (the suite
#: rightly fails it: claims.iss.missing is a must).
ISS_REQUIRED = ("dynamic-signin", "rfc8693", "stytch-attest")
#: Each shape against one composed run of the policy variants of test_policy_variants
#: (the first run, which holds iss_optional, first to the one shape without an iss
#: requirement): together the shapes meet every variant.
_ORDER = sorted(SHAPE_PARAMS, key=lambda shape: shape in ISS_REQUIRED)
VARIANT_RUNS = {
    shape: tuple(
        v for v in RUNS[i % len(RUNS)] if not (v == "iss_optional" and shape in ISS_REQUIRED)
    )
    for i, shape in enumerate(_ORDER)
}


@pytest.mark.parametrize("profile", sorted(VARIANT_RUNS))
def test_shape_profile_has_no_fail_or_error_against_policy_variants(
    tmp_path: Path, profile: str
) -> None:
    variants = VARIANT_RUNS[profile]
    with profiled_emulator(tmp_path, profile, variants=variants) as config:
        _, data = _run(config, tmp_path / "out", *_focus(), "--examples", "10")
    assert _troubles(data) == [], variants


def test_the_variant_runs_meet_every_variant() -> None:
    from conformance.emulator import VARIANTS

    assert {v for run in VARIANT_RUNS.values() for v in run} == set(VARIANTS)
