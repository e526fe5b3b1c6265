"""The packaged suite against the embedded emulator: the clean run passes every case,
and every named flaw is caught by at least one case anchored on a row it breaks (the
flaw matrix). These start real servers on loopback ports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.catalog import CASES
from conformance.emulator import FLAWS

pytestmark = pytest.mark.slow


def run_suite(pytester: pytest.Pytester, out: Path, *args: str) -> dict[str, Any]:
    pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        "--conformance-no-render",
        f"--conformance-report-dir={out}",
        *args,
    )
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import conformance.cli

    out = tmp_path_factory.mktemp("clean")
    code = conformance.cli.main(
        ["run", "--no-report", "--report-dir", str(out), "--examples", "25"]
    )
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    data["exit_code"] = code
    return data


def test_clean_emulator_passes_every_case(clean: dict[str, Any]) -> None:
    bad = [
        (c["id"], c["verdict"], c["message"][:300])
        for c in clean["cases"]
        if c["verdict"] not in {"pass", "skip"}
    ]
    assert bad == []
    assert clean["summary"]["verdict"] == "conformant"
    assert clean["exit_code"] == 0


def test_clean_run_skips_only_what_needs_a_numeric_subject(clean: dict[str, Any]) -> None:
    # Everything runs against the embedded target but the one case that needs a numeric
    # subject (user A's subject is not numeric, so that the Unicode cases can run).
    # ... and the opt-in slow tier (replays spaced in time), off unless asked for.
    skipped = {c["id"]: c["message"] for c in clean["cases"] if c["verdict"] == "skip"}
    slow = {i for i, why in skipped.items() if "CONFORMANCE_SLOW_TIER" in why}
    assert slow == {"replay.same_token.spaced_30s", "replay.same_token.spaced_90s"}
    rest = {i: why for i, why in skipped.items() if i not in slow}
    assert rest == {"claims.sub.type_numeric_of_subject": "the subject is not numeric"}


def test_default_plan_is_large_and_covers_every_category(clean: dict[str, Any]) -> None:
    assert len(clean["cases"]) >= 250
    assert set(clean["summary"]["by_category"]) >= {c.category for c in CASES}


@pytest.mark.parametrize("flaw", sorted(f for f in FLAWS if FLAWS[f].shape is None))
def test_each_flaw_is_caught_by_a_case_on_its_rows(
    pytester: pytest.Pytester, tmp_path: Path, flaw: str
) -> None:
    rows = set(FLAWS[flaw].breaks)
    ids = sorted(c.id for c in CASES if rows & set(c.anchors))
    assert ids, f"no case is anchored on the rows {sorted(rows)} that flaw {flaw} breaks"
    args = ["--conformance-strict", f"--conformance-flaw={flaw}", "--conformance-examples=10"]
    for case_id in ids:
        args.append(f"--conformance-id={case_id}")
    data = run_suite(pytester, tmp_path, *args)
    failing = [c["id"] for c in data["cases"] if c["verdict"] == "fail"]
    assert failing, f"flaw {flaw} went unnoticed by {ids}"
