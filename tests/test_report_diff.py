"""``diff`` on hand-made pairs of results."""

from __future__ import annotations

import copy
import json

from factories import make_results, with_verdicts

from conformance.report import diff_results, views

BASE = make_results(n_cases=10, failures=1, critical=1, warns=1, skips=1, waived=1)
# envelope.case_0000 fail, claims.case_0001 warn, time.case_0002 skip,
# algorithms.case_0003 waived, the rest pass.


def test_identical_runs_have_no_changes() -> None:
    diff = diff_results(BASE, BASE)
    assert diff.empty and not diff.regressed
    assert "no verdict changed" in diff.to_text()


def test_pass_or_skip_turning_fail_or_error_is_a_regression() -> None:
    new = with_verdicts(BASE, {"keys.case_0005": "fail", "time.case_0002": "error"})
    diff = diff_results(BASE, new)
    assert diff.regressed
    assert {(c.case_id, c.old, c.new) for c in diff.regressions} == {
        ("keys.case_0005", "pass", "fail"),
        ("time.case_0002", "skip", "error"),
    }
    assert "REGRESSED" in diff.to_text()


def test_fixed_and_other_changes_are_not_regressions() -> None:
    new = with_verdicts(
        BASE,
        {"envelope.case_0000": "pass", "claims.case_0001": "pass", "time.case_0002": "pass"},
    )
    diff = diff_results(BASE, new)
    assert not diff.regressed
    assert [c.case_id for c in diff.fixed] == ["envelope.case_0000", "claims.case_0001"]
    assert [(c.case_id, c.new) for c in diff.other_changes] == [("time.case_0002", "pass")]


def test_a_case_that_passed_and_now_skips_is_lost_coverage_a_regression() -> None:
    new = with_verdicts(BASE, {"keys.case_0005": "skip", "envelope.case_0000": "skip"})
    diff = diff_results(BASE, new)
    assert diff.regressed and not diff.regressions
    assert {(c.case_id, c.old) for c in diff.lost_coverage} == {
        ("keys.case_0005", "pass"),
        ("envelope.case_0000", "fail"),  # a failure hidden by a skip is lost too
    }
    text = diff.to_text()
    assert "lost coverage (ran before, skipped now): 2" in text
    assert text.endswith("(--allow-lost-coverage accepts it)")
    assert json.loads(diff.to_json())["lost_coverage"][0]["new"] == "skip"


def test_lost_coverage_can_be_allowed_and_is_still_listed() -> None:
    new = with_verdicts(BASE, {"keys.case_0005": "skip"})
    diff = diff_results(BASE, new, allow_lost_coverage=True)
    assert not diff.regressed and diff.lost
    assert diff.to_text().endswith("no regression (lost coverage allowed: 1 cases)")


def test_removed_cases_and_a_narrower_selection_are_lost_coverage() -> None:
    new = json.loads(json.dumps(BASE))
    new["cases"] = new["cases"][:3]  # a run that lost 70 % of its cases
    new["summary"].pop("coverage", None)  # as in a file of schema 1: the cases are counted
    diff = diff_results(BASE, new)
    assert diff.regressed and not diff.regressions
    assert len(diff.removed) == 7
    # a removed case that had skipped loses nothing; every other one does
    gone = BASE["cases"][3:]
    assert len(diff.lost_coverage) == sum(c["verdict"] not in {"skip", "error"} for c in gone)
    assert "the newer run selected 3 cases, the baseline 10" in diff.coverage_notes


def test_an_incomplete_newer_run_is_lost_coverage() -> None:
    new = json.loads(json.dumps(BASE))
    new["summary"]["coverage"] = {"complete": False, "stopped": "interrupted", "selected": 10}
    diff = diff_results(BASE, new)
    assert diff.regressed
    assert diff.coverage_notes == ("the newer run is incomplete: interrupted",)


def test_fail_to_error_is_a_change_not_a_regression() -> None:
    diff = diff_results(BASE, with_verdicts(BASE, {"envelope.case_0000": "error"}))
    assert not diff.regressed and len(diff.other_changes) == 1


def test_added_failing_case_regresses_removed_case_is_listed() -> None:
    new = json.loads(json.dumps(BASE))
    removed = new["cases"].pop()
    added = dict(new["cases"][0], id="new.case", verdict="fail")
    new["cases"].append(added)
    diff = diff_results(BASE, new)
    assert [c.case_id for c in diff.added] == ["new.case"]
    assert [c.case_id for c in diff.regressions] == ["new.case"]
    assert [c.case_id for c in diff.removed] == [removed["id"]]
    payload = json.loads(diff.to_json())
    assert payload["regressed"] is True and payload["removed"][0]["new"] is None


def test_added_passing_case_is_not_a_regression() -> None:
    new = json.loads(json.dumps(BASE))
    new["cases"].append(dict(new["cases"][-1], id="new.pass", verdict="pass"))
    diff = diff_results(BASE, new)
    assert not diff.regressed and [c.case_id for c in diff.added] == ["new.pass"]


def test_text_output_neutralises_control_characters() -> None:
    new = with_verdicts(BASE, {"keys.case_0005": "fail"})
    for case in new["cases"]:
        if case["id"] == "keys.case_0005":
            case["title"] = "\x1b]0;pwned\x07 title"
    text = diff_results(BASE, new).to_text()
    assert "\x1b" not in text and "\\x1b]0;pwned\\x07 title" in text


def test_runs_against_different_targets_say_so() -> None:
    """A baseline of another target (or of the emulator with other flaws) makes every
    change suspect: the text, the JSON and the report's section say so."""
    new = copy.deepcopy(BASE)
    assert diff_results(BASE, new).target_note == ""
    other = {"profile": "dynamic", "base_url": "https://eu.example/api/v0", "environment_id": "e1"}
    new["run"]["target"] = {**other, "embedded": False}
    old = copy.deepcopy(BASE)
    old["run"]["target"] = {**other, "embedded": False, "environment_id": "e2"}
    d = diff_results(old, new)
    assert d.target_note.startswith("the baseline ran against dynamic-eu.example-e2, this run ")
    assert d.to_text().splitlines()[1] == f"note: {d.target_note}"
    assert d.to_dict()["target_note"] == d.target_note
    assert "Note: the baseline ran against" in views.changes(d)
    flawed = copy.deepcopy(BASE)
    flawed["run"]["target"] = {"embedded": True, "flaws": ["exp_not_checked"]}
    clean = copy.deepcopy(BASE)
    clean["run"]["target"] = {"embedded": True, "flaws": []}
    note = diff_results(flawed, clean).target_note
    assert note == "the embedded emulator had flaws exp_not_checked in the baseline and none now"
