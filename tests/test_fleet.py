"""Several targets, one report: labels, ``combined.json`` (index and target x category
matrix), ``conformance merge``, the combined HTML, and a run of two separately started
emulators configured as targets (``conformance run --config A --config B``)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_results, with_verdicts, write_results

from conformance._combined import (
    Member,
    combine,
    fleet_exit_code,
    fleet_verdict,
    parse_sources,
    summary_lines,
    unique_label,
)
from conformance._exceptions import ConfigError
from conformance._fleet import child_args, exit_code, plan
from conformance.cli import main
from conformance.report import fleet

ROOT = Path(__file__).resolve().parent.parent


def two_results(tmp_path: Path) -> tuple[Path, Path]:
    clean = make_results(n_cases=30, failures=0, critical=0, warns=0, waived=0, skips=2)
    broken = make_results(n_cases=30, failures=2, critical=1, warns=1, waived=0, skips=1)
    broken["run"]["id"] = "20261125T083100Z-4d5e6f"  # another run
    a = write_results(tmp_path / "job-eu" / "results.json", clean)
    b = write_results(tmp_path / "job-us" / "results.json", broken)
    (tmp_path / "job-us" / "junit.xml").write_text("<testsuites/>", encoding="utf-8")
    return a, b


def test_labels_are_safe_directory_names_and_distinct() -> None:
    assert unique_label("eu-west", []) == "eu-west"
    assert unique_label("../../etc", []) == "etc"
    assert unique_label("a b/c", []) == "a-b-c"
    assert unique_label("", []) == "target"
    assert unique_label("eu", ["eu", "eu-2"]) == "eu-3"
    assert len(unique_label("x" * 500, [])) == 64


def test_sources_are_files_directories_or_labelled(tmp_path: Path) -> None:
    a, b = two_results(tmp_path)
    members = parse_sources([str(a), f"prod={b.parent}"])
    assert [m.label for m in members] == ["job-eu", "prod"]
    assert [m.results for m in members] == [a, b]
    with pytest.raises(ConfigError, match=r"no results\.json there"):
        parse_sources([str(tmp_path / "nowhere")])


def test_combine_writes_each_target_and_the_matrix(tmp_path: Path) -> None:
    a, b = two_results(tmp_path)
    out = tmp_path / "out"
    path = combine(parse_sources([f"eu={a}", f"us={b}"]), out)
    data = json.loads(path.read_text())
    assert data["schema"] == "exchange-conformance/combined" and data["schema_version"] == 1
    assert [t["label"] for t in data["targets"]] == ["eu", "us"]
    assert [t["verdict"] for t in data["targets"]] == ["conformant", "not_conformant"]
    assert data["verdict"] == "not_conformant"
    # one results.json per target, unchanged, with its junit.xml when there was one
    assert (out / "targets" / "eu" / "results.json").read_bytes() == a.read_bytes()
    assert (out / "targets" / "us" / "junit.xml").exists()
    assert not (out / "targets" / "eu" / "junit.xml").exists()
    assert data["targets"][1]["results"] == "targets/us/results.json"
    # the matrix: per target and category, the most telling verdict and its count
    rows = {r["label"]: r["cells"] for r in data["matrix"]["rows"]}
    broken = json.loads(b.read_text())
    failing = {c["category"] for c in broken["cases"] if c["verdict"] == "fail"}
    for category in failing:
        cell = rows["us"][category]
        assert cell["verdict"] == "fail"
        assert cell["counts"]["fail"] == broken["summary"]["by_category"][category]["fail"]
    assert all(cell["verdict"] in ("pass", "skip", None) for cell in rows["eu"].values())
    assert fleet_exit_code(t["verdict"] for t in data["targets"]) == 1


def test_a_target_that_could_not_run_makes_the_whole_incomplete(tmp_path: Path) -> None:
    a, _ = two_results(tmp_path)
    members = [Member("eu", a), Member("us", None, "conformance: error: unreachable")]
    data = json.loads(combine(members, tmp_path / "out").read_text())
    assert data["verdict"] == "incomplete"
    assert data["targets"][1]["results"] is None
    assert data["targets"][1]["error"] == "conformance: error: unreachable"
    assert [r["label"] for r in data["matrix"]["rows"]] == ["eu"]
    assert fleet_exit_code(t["verdict"] for t in data["targets"]) == 2


def test_fleet_verdict_and_exit_codes() -> None:
    assert fleet_verdict(["conformant", "conformant_with_gaps"]) == "conformant_with_gaps"
    assert fleet_verdict(["error", "not_conformant", "conformant"]) == "not_conformant"
    assert fleet_verdict(["not_conformant", "incomplete"]) == "incomplete"
    assert exit_code([0, 1, 3]) == 3 and exit_code([0, 0]) == 0 and exit_code([1, 2]) == 2
    assert exit_code([0, 5]) == 2


def test_every_target_gets_the_runs_options(tmp_path: Path) -> None:
    args = argparse.Namespace(
        category=["claims"],
        id=["claims.*"],
        cases=[],
        level="must",
        strict=True,
        waivers="w.toml",
        deadline=30.0,
        examples=5,
        profile="rfc8693",
        workers="2",
        pytest_args=["-x"],
    )
    argv = child_args(args)
    assert argv[0] == "--no-report"
    for part in (
        ["--category", "claims"],
        ["--level", "must"],
        ["--profile", "rfc8693"],
        ["-n", "2"],
        ["--", "-x"],
    ):
        assert any(argv[i : i + len(part)] == part for i in range(len(argv)))
    runs = plan(["conf/eu.toml", "other/eu.toml", "us.toml"], tmp_path)
    assert [r.label for r in runs] == ["eu", "eu-2", "us"]
    assert runs[1].out == tmp_path / "targets" / "eu-2"


def test_an_unwritable_report_dir_stops_a_fleet_before_any_run(tmp_path: Path) -> None:
    from conformance._fleet import run_fleet

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot write there"):
        run_fleet(["a.toml", "b.toml"], [], out=blocked / "out")


def test_merge_into_an_unwritable_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_results(tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert main(["merge", str(a), str(b), "--out", str(blocked / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "cannot write there" in err


def test_merge_without_the_report_extra_writes_the_combined_json_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_results(tmp_path)
    monkeypatch.setitem(sys.modules, "nbformat", None)  # as if the extra were missing
    code = main(["merge", str(a), str(b), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1  # a target failed
    assert (tmp_path / "out" / "combined.json").exists()
    assert not (tmp_path / "out" / "report.html").exists()
    assert err.count("\n") == 1 and "needs nbformat" in err and "[report]" in err
    assert "-m pip install" in err


@pytest.mark.parametrize("how", ["same path", "by directory", "labelled", "a copy"])
def test_merge_refuses_one_run_given_twice_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """The same results twice (by path, or a copy: the same run id) would count twice."""
    a, _ = two_results(tmp_path)
    second = {
        "same path": str(a),
        "by directory": str(a.parent),
        "labelled": f"again={a}",
        "a copy": str(shutil.copytree(a.parent, tmp_path / "copy") / "results.json"),
    }[how]
    argv = ["merge", str(a), second, "--out", str(tmp_path / "out"), "--no-report"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "given twice" in err
    assert not (tmp_path / "out" / "combined.json").exists()


def test_merge_refuses_a_file_that_is_not_results_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "job" / "results.json"
    bad.parent.mkdir()
    bad.write_text('{"schema": "something else"}')
    assert main(["merge", str(bad), "--out", str(tmp_path / "out"), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an exchange-conformance results file" in err


def test_the_views_escape_what_the_files_hold(tmp_path: Path) -> None:
    a, b = two_results(tmp_path)
    hostile = with_verdicts(json.loads(b.read_text()), {})
    hostile["run"]["target"]["base_url"] = "<script>alert(1)</script>"
    write_results(b, hostile)
    combined, members = fleet.load_combined(combine(parse_sources([str(a), str(b)]), tmp_path))
    page = fleet.overview(combined) + fleet.matrix(combined)
    page += "".join(fleet.target_section(m) for m in members)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="#target-job-us"' in page and 'id="target-job-us"' in page
    with pytest.raises(ConfigError, match="not a combined results file"):
        fleet.load_combined(a)


@pytest.mark.slow
def test_merge_renders_one_html_with_the_matrix_first(tmp_path: Path) -> None:
    a, b = two_results(tmp_path)
    out = tmp_path / "out"
    assert main(["merge", f"eu={a}", f"us={b}", "--out", str(out)]) == 1
    page = (out / "report.html").read_text(encoding="utf-8")
    matrix, eu, us = (page.find(s) for s in ("Targets x categories", "Target eu", "Target us"))
    assert 0 < matrix < eu < us
    assert "<script" not in page.split("</head>", 1)[1]
    chromium = Path("/usr/bin/chromium")
    if chromium.exists():  # the page as a browser builds it, offline
        dom = subprocess.run(
            [
                *(str(chromium), "--headless", "--no-sandbox", "--disable-gpu"),
                *(f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9"),
                *("--dump-dom", (out / "report.html").as_uri()),
            ],
            capture_output=True,
            timeout=90,
            check=True,
        ).stdout.decode("utf-8")
        assert "Targets x categories" in dom and 'id="target-us"' in dom
        assert "<script" not in dom


@pytest.mark.slow
def test_two_configured_emulators_run_at_once_into_one_report(tmp_path: Path) -> None:
    from configured_emulator import configured_emulator

    homes = [tmp_path / "eu", tmp_path / "us"]
    for home in homes:
        home.mkdir()
    out = tmp_path / "out"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    with (
        configured_emulator(homes[0], "ES256") as eu,
        configured_emulator(homes[1], "RS256") as us,
    ):
        configs = [shutil.copy(eu, homes[0] / "eu.toml"), shutil.copy(us, homes[1] / "us.toml")]
        # a third target that is down: it cannot run, the others still report
        down = homes[0] / "down.toml"
        down.write_text(
            re.sub(r'base_url = "[^"]+"', 'base_url = "http://127.0.0.1:9/api/v0"', eu.read_text())
        )
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "conformance.cli", "run"),
                *("--config", str(configs[0]), "--config", str(configs[1])),
                *("--config", str(down)),
                *("--category", "claims", "--report-dir", str(out), "--no-report"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            cwd=tmp_path,
        )
    assert proc.returncode == 2, proc.stdout + proc.stderr  # a target could not run
    data = json.loads((out / "combined.json").read_text())
    assert [t["label"] for t in data["targets"]] == ["eu", "us", "down"]
    assert data["targets"][2]["results"] is None and data["verdict"] == "incomplete"
    assert "unreachable" in data["targets"][2]["error"]
    assert [t["verdict"] for t in data["targets"][:2]] == ["conformant_with_gaps"] * 2
    data["targets"] = data["targets"][:2]
    assert {t["target"]["base_url"] for t in data["targets"]} == {
        json.loads((out / "targets" / label / "results.json").read_text())["run"]["target"][
            "base_url"
        ]
        for label in ("eu", "us")
    }
    assert len({t["target"]["base_url"] for t in data["targets"]}) == 2  # two targets
    assert data["matrix"]["categories"] == ["claims"]
    assert all(r["cells"]["claims"]["verdict"] == "pass" for r in data["matrix"]["rows"])
    assert not (out / "report.html").exists()  # --no-report


def test_merge_prints_each_targets_verdict_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The terminal names each target's verdict and counts (not just an exit code), and
    why a target that could not run did not."""
    a, b = two_results(tmp_path)
    assert main(["merge", f"eu={a}", f"us={b}", "--out", str(tmp_path / "out"), "--no-report"]) == 1
    out = capsys.readouterr().out.splitlines()
    eu = next(line for line in out if line.startswith("eu: "))
    us = next(line for line in out if line.startswith("us: "))
    assert eu.startswith("eu: conformant — 28 pass, 0 fail, 0 warn, 0 error, 2 skip, 0 waived")
    assert us.startswith("us: not_conformant — ") and " 2 fail, 1 warn, " in us
    assert us.endswith(f"; {tmp_path / 'out' / 'targets' / 'us' / 'results.json'}")
    assert "fleet: not_conformant (2 targets)" in out
    missing = {"targets": [{"label": "ap", "results": None, "verdict": "could_not_run",
                            "error": "conformance: error: ap.toml: unknown key target.x"}],
               "verdict": "incomplete"}  # fmt: skip
    lines = summary_lines(missing)
    assert lines == [
        "ap: could_not_run — conformance: error: ap.toml: unknown key target.x",
        "fleet: incomplete (1 targets)",
    ]
