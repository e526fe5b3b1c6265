"""A configured Dynamic-profile run against a separately started emulator: the path a
user takes with a sandbox (TOML, a key file, sign-in through the target), on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from configured_emulator import configured_emulator
from factories import assert_valid_results

from conformance import cli

pytestmark = pytest.mark.slow


def test_configured_run_is_conformant_and_skips_what_it_cannot_do(tmp_path: Path) -> None:
    with configured_emulator(tmp_path, "ES256") as config:
        code = cli.main(
            [
                "run",
                "--config",
                str(config),
                "--no-report",
                "--report-dir",
                str(tmp_path / "out"),
                "--category",
                "claims",
                "--category",
                "time",
                "--category",
                "replay",
                "--category",
                "subject",
                "--examples",
                "10",
            ]
        )
    data = assert_valid_results(tmp_path / "out" / "results.json")  # the shipped schema
    verdicts = {c["id"]: c["verdict"] for c in data["cases"]}
    assert code == 0, [
        (c["id"], c["message"]) for c in data["cases"] if c["verdict"] in {"fail", "error"}
    ]
    assert data["run"]["target"]["embedded"] is False
    assert verdicts["time.exp.past_5min"] == "pass"
    assert verdicts["replay.race.concurrent_16"] == "pass"  # loopback: bursts allowed
    # what a configured target cannot give is skipped with the reason, never passed
    skipped = {c["id"]: c["message"] for c in data["cases"] if c["verdict"] == "skip"}
    assert "claims.iss.other_environment" in skipped
    assert "second_environment" in skipped["claims.iss.other_environment"]
    pem = (tmp_path / "key.pem").read_text()  # the key file the helper wrote
    assert pem not in (tmp_path / "out" / "results.json").read_text()
