"""``conformance run`` / ``conformance cases``: exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cli
from conformance._cli_run import catalog_markdown
from conformance.catalog import CASES

ROOT = Path(__file__).resolve().parent.parent


def test_cases_json_lists_the_whole_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cases", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [c.id for c in CASES]
    assert {"expect", "level", "severity", "anchors"} <= set(rows[0])


def test_cases_table_ends_with_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cases"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"{len(CASES)} cases")


def test_the_documentation_table_of_cases_is_current() -> None:
    assert (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8") == catalog_markdown(), (
        "regenerate with: conformance cases --format markdown > docs/catalog.md"
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--flaw", "nope"], "unknown flaw 'nope'"),
        (["run", "--category", "nope"], "unknown category 'nope'"),
        (["run", "--config", "/nonexistent/conformance.toml"], "/nonexistent/conformance.toml"),
        (["run", "--level", "sometimes"], "invalid choice: 'sometimes'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], needle: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *argv], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert needle in err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_unknown_category_through_the_cli_is_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--category",
            "nope",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown category 'nope'" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_run_prints_the_outputs_last_and_exits_0(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--no-report",
            "--report-dir",
            str(tmp_path),
            "--id",
            "envelope.valid.*",
            "--id",
            "time.exp.past_5min",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    last = proc.stdout.strip().splitlines()[-2:]
    assert last == [f"results: {tmp_path / 'results.json'}", f"junit:   {tmp_path / 'junit.xml'}"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert {c["id"] for c in data["cases"]} >= {"time.exp.past_5min", "envelope.valid.baseline"}
