"""Stable verdicts (issue 19, point 9): the same plan against the same emulator gives the
same verdicts, run after run, in one process or under ``-n 2``; a flake is a bug.

The clean plan runs three times: in-process (``open_embedded`` + ``run_case``), through
``conformance run`` (the session's shared run, ``tests/plan_runs.py``) and through
``conformance run -n 2``. Each flaw's anchored cases run with seed 1919 (the session's
shared run, which the flaw matrix of ``test_suite_embedded`` reads too) and with seed
2020; the property cases among them run again with seed 1919.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from plan_runs import ANCHORED_EXAMPLES, ANCHORED_SEED, AnchoredRuns, anchored_cases, verdicts

import conformance.cli
from conformance._embedded import open_embedded
from conformance._engine import run_case
from conformance._selection import select_cases
from conformance._settings import PropertySettings
from conformance._verdict import Policy
from conformance.catalog import BY_ID, CASES
from conformance.emulator import FLAWS

pytestmark = pytest.mark.slow

#: the other seed of the anchored runs: example-based verdicts must not depend on it
OTHER_SEED = 2020


def unstable(runs: list[dict[str, str]]) -> dict[str, list[str]]:
    """The cases whose verdict differs between runs, with every run's verdict."""
    ids = set().union(*runs)
    return {
        i: [run.get(i, "-") for run in runs]
        for i in sorted(ids)
        if len({run.get(i, "-") for run in runs}) > 1
    }


@pytest.fixture(scope="module")
def xdist_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, str]]:
    """The clean plan through ``conformance run -n 2``: its exit code and verdicts."""
    out = tmp_path_factory.mktemp("xdist")
    code = conformance.cli.main(["run", "-n", "2", "--no-report", "--report-dir", str(out)])
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return code, {c["id"]: c["verdict"] for c in data["cases"]}


def hygiene(run: dict[str, str]) -> set[str]:
    """The error-hygiene cases: under xdist a worker sees its share of the refusals
    only, so they skip there."""
    return {i for i in run if i.startswith("errors.hygiene.")}


@pytest.fixture(scope="module")
def clean_runs(clean_cli_run: dict[str, Any]) -> list[dict[str, str]]:
    """The whole clean plan in-process, then the session's shared ``conformance run``."""
    plan = select_cases(CASES, profile="dynamic")
    return [verdicts(list(plan)), {c["id"]: c["verdict"] for c in clean_cli_run["cases"]}]


def test_full_clean_plan_three_times_in_a_row_gives_identical_verdicts(
    clean_runs: list[dict[str, str]], xdist_run: tuple[int, dict[str, str]]
) -> None:
    """In-process, through ``conformance run``, and under ``-n 2`` (but the hygiene
    cases, see the next test)."""
    _, xdist = xdist_run
    shared = set(clean_runs[0]) - hygiene(xdist)
    runs = [*clean_runs, xdist]
    assert unstable([{i: run.get(i, "-") for i in shared} for run in runs]) == {}
    assert unstable(clean_runs) == {}
    assert len(clean_runs[0]) >= 250
    bad = {i: v for i, v in clean_runs[0].items() if v not in ("pass", "skip")}
    assert bad == {}


def test_full_clean_plan_under_xdist_gives_the_same_verdicts(
    clean_runs: list[dict[str, str]], xdist_run: tuple[int, dict[str, str]]
) -> None:
    code, xdist = xdist_run
    # a worker sees its share of the refusals only: the hygiene cases skip there
    skipped = hygiene(xdist)
    assert skipped and {xdist[i] for i in skipped} == {"skip"}
    serial = {i: v for i, v in clean_runs[0].items() if i not in skipped}
    assert unstable([serial, {i: v for i, v in xdist.items() if i not in skipped}]) == {}
    assert code == 0


def is_property(case_id: str) -> bool:
    return ".property." in case_id


@pytest.mark.parametrize("flaw", sorted(f for f in FLAWS if FLAWS[f].shape is None))
def test_each_flaw_anchored_cases_three_times_give_identical_verdicts(
    flaw: str, anchored_runs: AnchoredRuns
) -> None:
    """Same seed: every verdict identical. Another seed: every example-based verdict
    identical (a property case draws other examples, see the next test).

    Three runs: the session's shared run with seed 1919, this test's with seed 2020,
    and its property cases again with seed 1919 (an example-based case draws nothing
    from the seed: the run with the other seed repeats it)."""
    cases = anchored_cases(flaw)
    assert cases
    first = anchored_runs(flaw, ANCHORED_SEED)
    other = verdicts(cases, flaws=(flaw,), strict=True, examples=ANCHORED_EXAMPLES, seed=OTHER_SEED)
    properties = [c for c in cases if is_property(c.id)]
    again = (
        verdicts(
            properties, flaws=(flaw,), strict=True, examples=ANCHORED_EXAMPLES, seed=ANCHORED_SEED
        )
        if properties
        else {}
    )
    assert set(first) == set(other) == {c.id for c in cases}
    assert unstable([{i: first[i] for i in again}, again]) == {}
    assert {i: v for i, v in unstable([first, other]).items() if not is_property(i)} == {}
    assert "fail" in first.values(), f"flaw {flaw} went unnoticed"


#: flaws the claims property oracle misses for some seeds at the default 40 examples
#: (measured: exp_not_checked 2 of 8 seeds, nbf_ignored 4 of 8, unknown_scopes_accepted 3)
WEAK = ("exp_not_checked", "nbf_ignored", "unknown_scopes_accepted")


@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue 19 point 9 (stable verdicts): claims.property.oracle finds these flaws only "
        "when its 40 random claim sets happen to hold an exp past the hard bound, an nbf in "
        "the future or an unknown scope; its verdict flips with the seed"
    ),
)
@pytest.mark.parametrize("flaw", WEAK)
def test_claims_property_oracle_catches_the_flaw_for_every_seed(flaw: str) -> None:
    # one emulator for the eight seeds; the first seed that misses the flaw decides
    case = BY_ID["claims.property.oracle"]
    with open_embedded(flaws=(flaw,), policy=Policy(strict=True)) as runtime:
        for seed in range(1, 9):
            runtime.properties = PropertySettings(examples=40, seed=seed)
            verdict = run_case(runtime, case).verdict
            assert verdict == "fail", f"seed {seed} missed {flaw}: {verdict}"
