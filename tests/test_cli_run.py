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
    assert {"expect", "level", "severity", "anchors", "family", "cwe", "asvs"} <= set(rows[0])
    none = next(r for r in rows if r["id"].startswith("algorithms.none."))
    assert none["family"] == "alg.none" and "CWE-347" in none["cwe"] and "V9.1.2" in none["asvs"]


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
        (["run", "--variant", "nope"], "unknown variant 'nope'"),
        (["run", "--variant", "leeway_5s", "--variant", "leeway_120s"], "set leeway_s differently"),
        (["run", "--category", "nope"], "unknown category 'nope'"),
        (["run", "--config", "/nonexistent/conformance.toml"], "/nonexistent/conformance.toml"),
        (["run", "--level", "sometimes"], "invalid choice: 'sometimes'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["run", "--id", "nomatch.*"], "no case of the dynamic profile matched the selection"),
        (["run", "--waivers", "/nonexistent/waivers.toml"], "waivers file /nonexistent"),
        (["run", "--deadline", "0"], "--deadline must be a number of seconds above 0"),
        (["run", "--deadline", "nan"], "--deadline must be a number of seconds above 0"),
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


def conformance_run(out: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``conformance run --no-report --report-dir OUT ARGV...`` in a child process."""
    command = [sys.executable, "-m", "conformance.cli", "run", "--no-report"]
    return subprocess.run(
        [*command, "--report-dir", str(out), *argv], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_run_prints_the_outputs_last_and_exits_0(tmp_path: Path) -> None:
    extra = tmp_path / "ci" / "upload.sarif"
    proc = conformance_run(
        tmp_path, "--id", "envelope.valid.*", "--id", "time.exp.past_5min", "--sarif", str(extra)
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    last = proc.stdout.strip().splitlines()[-5:]
    assert last == [
        f"results: {tmp_path / 'results.json'}",
        f"junit:   {tmp_path / 'junit.xml'}",
        f"sarif:   {tmp_path / 'results.sarif'}",
        f"sarif:   {extra}",
        f"har:     {tmp_path / 'results.har'}",
    ]
    data = json.loads((tmp_path / "results.json").read_text())
    assert {c["id"] for c in data["cases"]} >= {"time.exp.past_5min", "envelope.valid.baseline"}
    assert data["run"]["runner"] == "cli"  # the report names --strict, not the pytest option
    sarif = json.loads(extra.read_text())
    assert sarif == json.loads((tmp_path / "results.sarif").read_text())
    assert sarif["runs"][0]["automationDetails"]["id"] == "conformance/embedded/"
    assert sarif["runs"][0]["results"] == []  # a clean run: no alert to raise


def test_an_unknown_case_module_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--cases", "no_such_module_xyz"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line, no traceback
    assert "case module 'no_such_module_xyz' not found" in proc.stderr


@pytest.mark.slow
def test_run_adds_the_cases_of_a_module(tmp_path: Path) -> None:
    extension = str(ROOT / "tests" / "extension_cases.py")
    proc = conformance_run(tmp_path, "--cases", extension, "--id", "*.acme.*")
    assert proc.returncode == 0, proc.stdout[-2000:]
    data = json.loads((tmp_path / "results.json").read_text())
    cases = {c["id"]: c for c in data["cases"]}
    assert set(cases) == {"time.acme.exp_past_1h", "claims.acme.sub_null"}
    assert {c["verdict"] for c in cases.values()} == {"pass"}
    # the re-run line names the module, so the one case runs again as it did, in the
    # option names of the command that ran it
    assert all(
        c["rerun"] == f"conformance run --id '{i}' --cases '{extension}'" for i, c in cases.items()
    )


@pytest.mark.slow
def test_run_case_and_the_cli_settle_a_should_failure_alike(tmp_path: Path) -> None:
    """The same exchange gets the same verdict everywhere: a failed should case is a
    warning from `conformance run` and from `run_case` in a notebook, and a failure of
    both under --strict / strict=True."""
    from conformance import BY_ID, open_runtime, run_case

    case_id, flaw = "time.lifetime.over_max", "no_max_lifetime"
    assert BY_ID[case_id].level.value == "should"
    verdicts = {}
    for strict in (False, True):
        out = tmp_path / f"strict-{strict}"
        more = ["--strict"] if strict else []
        proc = conformance_run(out, "--id", case_id, "--flaw", flaw, *more)
        assert proc.returncode == (1 if strict else 0), proc.stdout[-2000:]
        cli_verdict = json.loads((out / "results.json").read_text())["cases"][0]["verdict"]
        with open_runtime(flaws=[flaw], strict=strict) as runtime:
            api_verdict = run_case(runtime, BY_ID[case_id]).verdict
        verdicts[strict] = (cli_verdict, api_verdict)
    assert verdicts == {False: ("warn", "warn"), True: ("fail", "fail")}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flaws", "verdict"),
    [
        ((), "pass"),
        (("revoked_key_kept",), "fail"),
        # failing open when the JWKS cannot be had must not hide the kept revoked key
        (("revoked_key_kept", "jwks_fail_open"), "fail"),
        (("jwks_fail_open", "revoked_key_kept"), "fail"),
    ],
)
def test_a_kept_revoked_key_is_reported_whatever_else_fails_open(
    flaws: tuple[str, ...], verdict: str
) -> None:
    from conformance import BY_ID, open_runtime, run_case

    with open_runtime(flaws=list(flaws)) as runtime:
        result = run_case(runtime, BY_ID["keys.revocation.after_cache_time"])
    assert result.verdict == verdict, result.message


class _Leaky:
    """Garbage whose finaliser raises: what a socket the caller leaked looks like when it
    is collected (an "unraisable" exception)."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        raise OSError("a leaked resource, collected late")


def test_garbage_the_caller_leaked_does_not_decide_an_in_process_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pytest collects garbage at the end of a run and reports what raised in a finaliser;
    under the caller's "error" warning filter (this test suite's own) that became the
    run's failure, whatever the cases said."""
    import gc
    import warnings

    gc.disable()  # the cycle survives until pytest's own collection at the run's end
    try:
        _Leaky()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a caller running with -W error
            code = cli.main(
                [
                    *("run", "--no-report", "--report-dir", str(tmp_path)),
                    *("--id", "envelope.valid.baseline"),
                ]
            )
    finally:
        gc.enable()
    assert code == 0
    assert "verdict: conformant" in capsys.readouterr().out
