"""The results.json of real runs validates against the shipped JSON Schema (jsonschema,
independent of the models that wrote it) and loads through the report's reader: a clean
run, a flawed run with waivers, and a run stopped after its first failure. (The
configured run is validated by tests/test_configured_dynamic.py.) Slow: each starts the
embedded emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factories import assert_valid_results

from conformance import cli
from conformance.report import load_results

pytestmark = pytest.mark.slow

WAIVERS = """
[[waiver]]
id = "time.exp.missing"
reason = "accepted until the verifier is replaced"
owner = "security@example.com"
expires = 2099-12-31

[[waiver]]
id = "time.exp.fraction"
reason = "a waiver on a case that passes: stale"
owner = "security@example.com"
expires = 2099-12-31

[[waiver]]
id = "nothing.matches.*"
reason = "a typo: unused"
owner = "security@example.com"
expires = 2099-12-31

[[waiver]]
id = "claims.sub.*"
reason = "a catalog case outside this run's selection: not unused, not a typo"
owner = "security@example.com"
expires = 2099-12-31
"""


def _run(tmp_path: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "out"
    code = cli.main(["run", "--no-report", "--report-dir", str(out), *argv])
    data = assert_valid_results(out / "results.json")
    assert load_results(out / "results.json") == data
    return code, data


def test_a_clean_run_validates(tmp_path: Path) -> None:
    code, data = _run(tmp_path, "--id", "claims.*")
    cases = data["cases"]
    assert code == 0
    assert len(cases) > 10
    assert {c["verdict"] for c in cases} <= {"pass", "skip"}
    # only claims ran: the critical cases of the other categories prove nothing yet
    assert data["summary"]["verdict"] == "conformant_with_gaps"
    assert any("no critical case ran in" in g for g in data["summary"]["coverage"]["gaps"])


def test_a_flawed_run_with_waivers_validates(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVERS, encoding="utf-8")
    code, data = _run(
        tmp_path, "--flaw", "exp_not_checked", "--id", "time.exp.*", "--waivers", str(waivers)
    )
    assert code == 1
    by_id = {c["id"]: c for c in data["cases"]}
    assert by_id["time.exp.past_5min"]["verdict"] == "fail"
    assert by_id["time.exp.past_5min"]["failure"].startswith("[time.exp.past_5min]")
    assert by_id["time.exp.missing"]["verdict"] == "waived"
    assert by_id["time.exp.missing"]["waiver"]["state"] == "active"
    assert by_id["time.exp.fraction"]["waiver"]["state"] == "stale"
    assert data["run"]["unused_waivers"] == ["nothing.matches.*"]
    assert data["summary"]["verdict"] == "not_conformant"


def test_a_run_stopped_after_its_first_failure_is_incomplete(tmp_path: Path) -> None:
    code, data = _run(tmp_path, "--flaw", "exp_not_checked", "--id", "time.exp.*", "--", "-x")
    assert code == 3  # incomplete, whatever the recorded cases did
    cases = data["cases"]

    # pytest stopped at the first failure: one failure recorded, the rest never ran
    assert [c["verdict"] for c in cases].count("fail") == 1
    assert 1 <= len(cases) < 20
    summary = data["summary"]
    assert summary["verdict"] == "incomplete"
    cov = summary["coverage"]
    assert cov["complete"] is False and "-x" in cov["stopped"]
    assert cov["selected"] > len(cases) and cov["not_run"] == cov["selected"] - len(cases)
    assert data["run"]["selection"]["ids"] == ["time.exp.*"]
    junit = (tmp_path / "out" / "junit.xml").read_text(encoding="utf-8")
    assert 'name="run.complete"' in junit and 'type="incomplete"' in junit


def test_a_narrow_selection_is_recorded_and_states_its_gaps(tmp_path: Path) -> None:
    code, data = _run(tmp_path, "--id", "replay.not_burned.*", "--level", "should")
    assert code == 0  # nothing failed: gaps are stated, not failed
    assert data["summary"]["verdict"] == "conformant_with_gaps"
    cov = data["summary"]["coverage"]
    assert cov["complete"] is True and cov["selected"] == len(data["cases"]) == cov["ran"]
    assert cov["catalog"] > cov["selected"] and cov["critical_unproved"] == cov["critical"]
    assert data["run"]["selection"] == {
        "profile": "dynamic",
        "categories": [],
        "ids": ["replay.not_burned.*"],
        "level": "should",
        "cases": [],
        "deselected": 0,
    }


def test_an_accepted_spoiled_attempt_skips_instead_of_warning(tmp_path: Path) -> None:
    code, data = _run(tmp_path, "--flaw", "exp_not_checked", "--id", "replay.not_burned.*")
    by_id = {c["id"]: c for c in data["cases"]}
    expired = by_id["replay.not_burned.expired"]
    assert expired["verdict"] == "skip"
    assert "proves nothing" in expired["message"]
    assert {c["verdict"] for i, c in by_id.items() if i != expired["id"]} == {"pass"}
    assert code == 0


INTERRUPTING = """
from conformance.catalog.authoring import Expect, case

def _interrupt(ctx):
    raise KeyboardInterrupt

CASES = (
    case("claims.zz_stop.a_first", "runs", category="claims", expect=Expect.ACCEPT, rationale="r",
         run=lambda ctx: ctx.valid(label="attempt")),
    case("claims.zz_stop.b_interrupt", "Ctrl-C", category="claims", expect=Expect.ACCEPT, rationale="r",
         run=_interrupt),
    case("claims.zz_stop.c_never", "never runs", category="claims", expect=Expect.ACCEPT, rationale="r",
         run=lambda ctx: ctx.valid(label="attempt")),
)
"""


def test_a_run_interrupted_by_ctrl_c_is_incomplete_everywhere(tmp_path: Path) -> None:
    module = tmp_path / "interrupting_cases.py"
    module.write_text(INTERRUPTING, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--no-report",
            "--report-dir",
            str(out),
            "--cases",
            str(module),
            "--id",
            "claims.zz_stop.*",
            "--",
            "-p",
            "no:randomly",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = assert_valid_results(out / "results.json")
    assert [(c["id"], c["verdict"]) for c in data["cases"]] == [("claims.zz_stop.a_first", "pass")]
    assert data["summary"]["verdict"] == "incomplete"
    cov = data["summary"]["coverage"]
    assert (cov["selected"], cov["ran"], cov["not_run"]) == (3, 1, 2)
    assert "KeyboardInterrupt" in cov["stopped"]
    assert "verdict: incomplete" in proc.stdout
    assert "conformance: the run is incomplete: interrupted" in proc.stderr
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert '<property name="verdict" value="incomplete" />' in junit
