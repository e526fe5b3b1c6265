"""junit.xml from a results document (conformance/_junit.py): what CI sees for each
verdict, the counts, and well-formed XML whatever the target sent. Fast: no server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import msgspec
import pytest
from factories import make_results

from conformance._junit import junit_tree, write_junit
from conformance._schema import Results

HOSTILE = "ctl\x00\x08\x1b[31m ]]> <script>alert(1)</script> &amp; lone \udc80 \ufffe end"


def _results(**changes: dict[str, Any]) -> Results:
    """Six cases, one of each verdict; ``changes`` edits the first case of a verdict."""
    data = make_results(n_cases=6, failures=1, critical=1, warns=1, errors=1, skips=1, waived=1)
    for case in data["cases"]:
        case["failure"] = f"ONE SCREEN for {case['id']}" if case["verdict"] != "pass" else ""
        case.update(changes.get(case["verdict"], {}))
    return msgspec.convert(data, Results)


def _written(tmp_path: Path, results: Results) -> tuple[ET.Element, dict[str, ET.Element]]:
    path = write_junit(tmp_path / "junit.xml", results)
    root = ET.parse(path).getroot()  # well-formed, or this raises
    return root, {tc.get("name", ""): tc for tc in root.iter("testcase")}


def _case(results: Results, verdict: str) -> Any:
    return next(c for c in results.cases if c.verdict == verdict)


def test_the_suite_counts_follow_the_summary(tmp_path: Path) -> None:
    results = _results()
    root, cases = _written(tmp_path, results)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.attrib["tests"] == "6"
    assert (suite.attrib["failures"], suite.attrib["errors"], suite.attrib["skipped"]) == (
        "1",
        "1",
        "1",
    )
    assert suite.attrib["time"] == "9.100"
    assert suite.attrib["timestamp"] == results.run.started_at
    assert sorted(cases) == sorted(c.id for c in results.cases)


def test_a_fail_is_a_failure_with_the_one_screen_text(tmp_path: Path) -> None:
    results = _results()
    case = _case(results, "fail")
    _, cases = _written(tmp_path, results)
    tc = cases[case.id]
    failure = tc.find("failure")
    assert failure is not None
    assert failure.attrib["message"] == f"{case.id}: {case.title}"
    assert failure.attrib["type"] == case.severity == "critical"
    assert failure.text == f"ONE SCREEN for {case.id}"
    assert tc.find("error") is None and tc.find("skipped") is None
    assert tc.attrib["classname"] == f"conformance.{case.category}"
    props = {p.get("name"): p.get("value") for p in tc.iter("property")}
    assert props["verdict"] == "fail"
    assert props["severity"] == "critical"


def test_a_failure_without_its_one_screen_text_falls_back_to_the_message(
    tmp_path: Path,
) -> None:
    results = _results(fail={"failure": ""})
    case = _case(results, "fail")
    _, cases = _written(tmp_path, results)
    failure = cases[case.id].find("failure")
    assert failure is not None
    assert failure.text == case.message


def test_an_error_is_an_error_element(tmp_path: Path) -> None:
    results = _results()
    case = _case(results, "error")
    _, cases = _written(tmp_path, results)
    error = cases[case.id].find("error")
    assert error is not None
    assert error.attrib == {"message": f"{case.id}: target misbehaved", "type": "error"}
    assert error.text == f"ONE SCREEN for {case.id}"
    assert cases[case.id].find("failure") is None


def test_a_skip_is_skipped_with_the_reason(tmp_path: Path) -> None:
    results = _results(skip={"message": "needs a second user " + "x" * 600})
    case = _case(results, "skip")
    _, cases = _written(tmp_path, results)
    skipped = cases[case.id].find("skipped")
    assert skipped is not None
    assert skipped.attrib["message"] == case.message[:500]
    assert cases[case.id].find("failure") is None


@pytest.mark.parametrize("verdict", ["warn", "waived"])
def test_warn_and_waived_pass_for_ci_and_say_why_in_system_out(
    tmp_path: Path, verdict: str
) -> None:
    results = _results()
    case = _case(results, verdict)
    _, cases = _written(tmp_path, results)
    tc = cases[case.id]
    assert [child.tag for child in tc] == ["properties", "system-out"]
    out = tc.find("system-out")
    assert out is not None
    assert out.text == f"{verdict}: ONE SCREEN for {case.id}"


def test_a_pass_has_only_its_properties(tmp_path: Path) -> None:
    results = _results()
    case = _case(results, "pass")
    _, cases = _written(tmp_path, results)
    assert [child.tag for child in cases[case.id]] == ["properties"]


def test_hostile_text_gives_well_formed_xml_and_stays_inert(tmp_path: Path) -> None:
    hostile = {"failure": HOSTILE, "message": HOSTILE, "title": HOSTILE}
    results = _results(fail=hostile, error=hostile, skip=hostile, warn=hostile)
    raw = write_junit(tmp_path / "junit.xml", results).read_bytes()
    assert b"<script>" not in raw
    assert b"\x00" not in raw and b"\x1b" not in raw
    _, cases = _written(tmp_path, results)
    fail = cases[_case(results, "fail").id]
    failure = fail.find("failure")
    assert failure is not None and failure.text is not None
    # markup comes back as text; what XML cannot carry is a visible escape
    assert "]]> <script>alert(1)</script> &amp;" in failure.text
    assert "ctl\\x00\\x08\\x1b[31m" in failure.text
    assert "lone \\udc80 \\ufffe end" in failure.text
    assert "<script>" in failure.attrib["message"]
    skipped = cases[_case(results, "skip").id].find("skipped")
    assert skipped is not None and "\\x1b" in skipped.attrib["message"]
    out = cases[_case(results, "warn").id].find("system-out")
    assert out is not None and out.text is not None and "\\x00" in out.text


def test_junit_tree_is_the_same_document_as_the_file(tmp_path: Path) -> None:
    results = _results()
    tree = junit_tree(results)
    names = [tc.get("name") for tc in tree.iter("testcase")]
    _, cases = _written(tmp_path, results)
    assert names == list(cases)


def test_an_incomplete_run_is_an_error_in_junit_and_says_why(tmp_path: Path) -> None:
    data = make_results(n_cases=6, failures=0, critical=0, skips=1)
    data["summary"]["verdict"] = "incomplete"
    data["summary"]["coverage"].update(
        complete=False, stopped="interrupted (KeyboardInterrupt)", not_run=4, selected=10
    )
    root, cases = _written(tmp_path, msgspec.convert(data, Results))
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or ()}
    assert props["verdict"] == "incomplete" and props["complete"] == "false"
    assert props["stopped"] == "interrupted (KeyboardInterrupt)"
    assert suite.get("errors") == "1" and suite.get("tests") == "7"
    error = cases["run.complete"].find("error")
    assert error is not None and error.get("type") == "incomplete"
    assert "4 selected cases did not run" in (error.get("message") or "")


def test_a_complete_run_has_no_run_testcase_and_states_its_verdict(tmp_path: Path) -> None:
    root, cases = _written(tmp_path, _results())
    assert "run.complete" not in cases
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or ()}
    assert props["verdict"] == "not_conformant" and props["complete"] == "true"
