"""The pytest plugin: inert until asked for, options and markers, selection, outputs,
xdist (pytester runs real inner pytest sessions)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest


def test_plugin_is_inert_in_an_unrelated_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "= exchange-conformance =" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, conformance.plugin; "
        "heavy = [m for m in ('httpx', 'jwt', 'starlette', 'uvicorn', 'nbclient', 'matplotlib', "
        "'cryptography', 'hypothesis') if m in sys.modules]; print(heavy)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # pytest itself is imported; nothing heavy of ours is.
    assert out.stdout.strip() == "[]"


def test_options_are_grouped_under_one_prefix(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    text = result.stdout.str()
    assert "exchange-conformance suite:" in text
    for option in ("--conformance-category", "--conformance-strict", "--conformance-report-dir"):
        assert option in text


def test_markers_are_registered_per_category_and_level(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--markers")
    text = result.stdout.str()
    for marker in (
        "@pytest.mark.time:",
        "@pytest.mark.algorithms:",
        "@pytest.mark.must:",
        "@pytest.mark.should:",
    ):
        assert marker in text


def test_unknown_category_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(
        "--pyargs", "conformance.suite", "--conformance-category=nope", "--co"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown category 'nope'" in result.stderr.str()


def run_selected(pytester: pytest.Pytester, out: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:benchmark",
        "--conformance-no-render",
        f"--conformance-report-dir={out}",
        *args,
    )
    written = out / "results.json"
    # a run that could not start (a refused baseline: exit 2) says why in its output
    assert written.exists(), (result.ret, result.stdout.str()[-2000:], result.stderr.str()[-2000:])
    return result, json.loads(written.read_text())


@pytest.mark.slow
def test_a_selected_category_runs_and_writes_results_and_junit(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result, data = run_selected(pytester, tmp_path, "-m", "time and must")
    ids = [c["id"] for c in data["cases"]]
    assert ids and all(i.startswith("time.") for i in ids)
    assert all(c["level"] == "must" for c in data["cases"])
    tree = ET.parse(tmp_path / "junit.xml")
    names = [tc.get("name", "") for tc in tree.iter("testcase")]
    assert sorted(names) == sorted(ids)
    assert result.ret == 0
    assert "verdict: conformant" in result.stdout.str()
    assert data["run"]["runner"] == "pytest"  # the report names --conformance-strict


@pytest.mark.slow
def test_a_flawed_emulator_fails_the_run_with_a_one_screen_message(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result, data = run_selected(
        pytester, tmp_path, "--conformance-flaw=exp_not_checked", "--conformance-id=time.exp.*"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failed = [c for c in data["cases"] if c["verdict"] == "fail"]
    assert failed
    message = failed[0]["failure"]
    for part in ("A correct endpoint:", "This endpoint:", "Why it matters:", "Reproduce:", "curl "):
        assert part in message
    assert "Bearer $SESSION_TOKEN" in message  # the bearer is a placeholder, never the token


@pytest.mark.slow
@pytest.mark.parametrize(
    "dist",
    [
        (),  # plain -n 2: a worker cannot know its cases ahead, each item runs its case
        ("--dist", "loadgroup"),  # as conformance run -n: each worker schedules its share
    ],
)
def test_xdist_workers_give_the_same_verdicts(
    pytester: pytest.Pytester, tmp_path: Path, dist: tuple[str, ...]
) -> None:
    try:
        _compare_one_process_and_two_workers(pytester, tmp_path / "first", dist)
    except AssertionError as exc:
        if not dist:
            raise
        # --dist loadgroup differed once in ~70 runs (a fresh clone, 2026-12-02) and never
        # since, under load or not: a difference that comes back on a second comparison is
        # systematic and fails; a one-off is an expected failure whose one-line reason
        # names what differed, so that a log shows it (issue 18)
        _compare_one_process_and_two_workers(pytester, tmp_path / "again", dist)
        pytest.xfail("issue 18, -n 2 --dist loadgroup, once: " + " ".join(str(exc).split())[:900])


def _compare_one_process_and_two_workers(
    pytester: pytest.Pytester, tmp_path: Path, dist: tuple[str, ...]
) -> None:
    # one seed: the property cases draw the same examples in both runs
    common = ("--conformance-category=claims", "--conformance-examples=5", "--hypothesis-seed=7")
    _, single = run_selected(pytester, tmp_path / "one", *common)
    _, double = run_selected(pytester, tmp_path / "two", *common, "-n", "2", *dist)
    verdicts = {c["id"]: c["verdict"] for c in single["cases"]}
    split = {c["id"]: c for c in double["cases"]}
    differ = {
        i: (v, split[i]["verdict"] if i in split else None, split.get(i, {}).get("message"))
        for i, v in verdicts.items()
        if i not in split or split[i]["verdict"] != v
    }
    assert differ == {} and set(split) == set(verdicts), differ  # which, and why
    assert len(verdicts) > 3
    if dist:  # one whole share per worker
        shares = {c["nodeid"].rpartition("@")[2] for c in double["cases"]}
        assert shares == {"conformance-0", "conformance-1"}


def test_a_selection_that_matches_nothing_exits_2_with_one_line(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest_subprocess(
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        "--conformance-no-render",
        f"--conformance-report-dir={tmp_path}",
        "--conformance-id",
        "nomatch.*",
    )
    assert result.ret == 2
    text = result.stdout.str() + result.stderr.str()
    assert (
        "no case of the dynamic profile matched the selection (--conformance-id 'nomatch.*')"
        in text
    )
    assert "Traceback" not in text and "INTERNALERROR" not in text
    assert "skipped" not in text  # not a green "1 skipped" run
    assert not (tmp_path / "results.json").exists()


def test_the_rerun_line_speaks_the_language_of_the_command_that_ran() -> None:
    from conformance.plugin import RunOptions

    options = RunOptions(config="t.toml", strict=True, flaws=("exp_not_checked",), seed=7)
    assert options.rerun_line("claims.property.oracle", cli=True) == (
        "conformance run --id 'claims.property.oracle' --config 't.toml' "
        "--flaw exp_not_checked --strict -- --hypothesis-seed=7"
    )
    assert options.rerun_line("time.exp.past_5min") == (
        "pytest --pyargs conformance.suite --conformance-id 'time.exp.past_5min' "
        "--conformance-config 't.toml' --conformance-flaw exp_not_checked --conformance-strict"
    )
