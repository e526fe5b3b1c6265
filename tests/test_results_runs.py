"""The results.json of real runs validates against the shipped JSON Schema (jsonschema,
independent of the models that wrote it) and loads through the report's reader: a clean
run, a flawed run with waivers, and a run stopped after its first failure. (The
configured run is validated by tests/test_configured_dynamic.py.) Slow: each starts the
embedded emulator."""

from __future__ import annotations

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
    assert data["summary"]["verdict"] == "conformant"


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


def test_a_run_stopped_after_its_first_failure_validates(tmp_path: Path) -> None:
    code, data = _run(tmp_path, "--flaw", "exp_not_checked", "--id", "time.exp.*", "--", "-x")
    assert code == 1
    cases = data["cases"]

    # pytest stopped at the first failure: one failure recorded, the rest never ran
    assert [c["verdict"] for c in cases].count("fail") == 1
    assert 1 <= len(cases) < 20
