"""Stable verdicts (issue 19, point 9): the same plan against the same emulator gives the
same verdicts, run after run, in one process or under ``-n 2``; a flake is a bug.

The clean plan runs three times in-process (``open_embedded`` + ``run_case``) and once
through ``conformance run -n 2``; each flaw's own anchored cases run three times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import conformance.cli
from conformance._embedded import open_embedded
from conformance._engine import run_case
from conformance._selection import select_cases
from conformance._settings import PropertySettings
from conformance._verdict import Policy
from conformance.catalog import BY_ID, CASES, Case
from conformance.emulator import FLAWS

pytestmark = pytest.mark.slow

RUNS = 3


def verdicts(
    cases: list[Case],
    *,
    flaws: tuple[str, ...] = (),
    strict: bool = False,
    examples: int = 40,
    seed: int | None = None,
) -> dict[str, str]:
    properties = PropertySettings(examples=examples, seed=seed)
    with open_embedded(flaws=flaws, policy=Policy(strict=strict), properties=properties) as runtime:
        return {case.id: run_case(runtime, case).verdict for case in cases}


def unstable(runs: list[dict[str, str]]) -> dict[str, list[str]]:
    """The cases whose verdict differs between runs, with every run's verdict."""
    ids = set().union(*runs)
    return {
        i: [run.get(i, "-") for run in runs]
        for i in sorted(ids)
        if len({run.get(i, "-") for run in runs}) > 1
    }


@pytest.fixture(scope="module")
def clean_runs() -> list[dict[str, str]]:
    plan = select_cases(CASES, profile="dynamic")
    return [verdicts(list(plan)) for _ in range(RUNS)]


def test_full_clean_plan_three_times_in_a_row_gives_identical_verdicts(
    clean_runs: list[dict[str, str]],
) -> None:
    assert unstable(clean_runs) == {}
    assert len(clean_runs[0]) >= 250
    bad = {i: v for i, v in clean_runs[0].items() if v not in ("pass", "skip")}
    assert bad == {}


def test_full_clean_plan_under_xdist_gives_the_same_verdicts(
    clean_runs: list[dict[str, str]], tmp_path: Path
) -> None:
    code = conformance.cli.main(["run", "-n", "2", "--no-report", "--report-dir", str(tmp_path)])
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    xdist = {c["id"]: c["verdict"] for c in data["cases"]}
    # a worker sees its share of the refusals only: the hygiene cases skip there
    hygiene = {i for i in xdist if i.startswith("errors.hygiene.")}
    assert hygiene and {xdist[i] for i in hygiene} == {"skip"}
    serial = {i: v for i, v in clean_runs[0].items() if i not in hygiene}
    assert unstable([serial, {i: v for i, v in xdist.items() if i not in hygiene}]) == {}
    assert code == 0


def is_property(case_id: str) -> bool:
    return ".property." in case_id


@pytest.mark.parametrize("flaw", sorted(f for f in FLAWS if FLAWS[f].shape is None))
def test_each_flaw_anchored_cases_three_times_give_identical_verdicts(flaw: str) -> None:
    """Same seed: every verdict identical. Another seed: every example-based verdict
    identical (a property case draws other examples, see the next test)."""
    rows = set(FLAWS[flaw].breaks)
    cases = [c for c in CASES if rows & set(c.anchors) and "dynamic" in c.profiles]
    assert cases
    runs = [
        verdicts(cases, flaws=(flaw,), strict=True, examples=10, seed=seed)
        for seed in (1919, 1919, 2020)
    ]
    assert unstable(runs[:2]) == {}
    assert {i: v for i, v in unstable(runs).items() if not is_property(i)} == {}
    assert "fail" in runs[0].values(), f"flaw {flaw} went unnoticed"


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
    case = BY_ID["claims.property.oracle"]
    missed = [
        seed
        for seed in range(1, 9)
        if verdicts([case], flaws=(flaw,), strict=True, seed=seed)[case.id] != "fail"
    ]
    assert missed == []
