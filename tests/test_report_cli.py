"""``conformance report`` and ``conformance diff``: exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import make_results, with_verdicts, write_results

from conformance.cli import main


def test_report_missing_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such results file" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"schema": "something-else"}', "not an exchange-conformance results file"),
        (
            '{"schema": "exchange-conformance/results", "schema_version": 99}',
            "schema_version 99 is not supported",
        ),
    ],
)
def test_report_invalid_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "results.json"
    path.write_text(content, encoding="utf-8")
    assert main(["report", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


@pytest.mark.slow
def test_report_renders_and_prints_the_html_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = write_results(tmp_path / "run" / "results.json", make_results(n_cases=8))
    out = tmp_path / "out"
    assert main(["report", str(results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(out / "report.html")
    assert (out / "report.html").is_file() and (out / "report.ipynb").is_file()


def test_diff_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_results(n_cases=10, failures=1, critical=1)
    old = write_results(tmp_path / "old.json", data)
    same = write_results(tmp_path / "same.json", data)
    worse = write_results(tmp_path / "worse.json", with_verdicts(data, {"keys.case_0005": "fail"}))
    better = write_results(
        tmp_path / "better.json", with_verdicts(data, {"envelope.case_0000": "pass"})
    )
    assert main(["diff", str(old), str(same)]) == 0
    assert main(["diff", str(old), str(better)]) == 0
    capsys.readouterr()
    assert main(["diff", str(old), str(worse), "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in payload["regressions"]] == ["keys.case_0005"]
    assert main(["diff", str(old), str(tmp_path / "nope.json")]) == 2
    with pytest.raises(SystemExit) as info:
        main(["diff", str(old), str(same), "--format", "xml"])
    assert info.value.code == 2
