"""Waivers: accepted risks with an owner and an expiry; expired ones fail, stale ones show."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conformance._exceptions import ConfigError
from conformance._waivers import Waiver, Waivers, load_waivers, waiver_notes
from conformance.report import views

TODAY = dt.date(2026, 11, 15)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text(textwrap.dedent(text))
    return path


WAIVERS = """
[[waiver]]
id = "time.exp.past_inside_leeway"
reason = "clock tolerance is 120 s by design (SEC-42)"
owner = "alice@example.com"
expires = 2027-01-31

[[waiver]]
id = "claims.aud.*"
reason = "audience not configured in the sandbox"
owner = "bob@example.com"
expires = "2026-11-01"

[[waiver]]
id = "header.typ.*"
reason = "typ ignored"
owner = "carol@example.com"
expires = 2026-11-15
"""


@pytest.fixture
def waivers(tmp_path: Path) -> Waivers:
    return load_waivers(write(tmp_path, WAIVERS))


def test_load(waivers: Waivers) -> None:
    assert len(waivers) == 3
    first = waivers.entries[0]
    assert first == Waiver(
        "time.exp.past_inside_leeway",
        "clock tolerance is 120 s by design (SEC-42)",
        "alice@example.com",
        dt.date(2027, 1, 31),
    )
    assert waivers.entries[1].expires == dt.date(2026, 11, 1)  # a quoted date works too


@pytest.mark.parametrize("verdict", ["fail", "warn"])
def test_active_waiver_waives(waivers: Waivers, verdict: str) -> None:
    outcome, info = waivers.apply("time.exp.past_inside_leeway", verdict, today=TODAY)
    assert outcome == "waived"
    assert info == {
        "id": "time.exp.past_inside_leeway",
        "reason": "clock tolerance is 120 s by design (SEC-42)",
        "owner": "alice@example.com",
        "expires": "2027-01-31",
        "state": "active",
    }


def test_expiry_day_is_inclusive(waivers: Waivers) -> None:
    assert waivers.apply("header.typ.refused.empty", "fail", today=TODAY)[0] == "waived"
    later = TODAY + dt.timedelta(days=1)
    outcome, info = waivers.apply("header.typ.refused.empty", "fail", today=later)
    assert (outcome, info and info["state"]) == ("fail", "expired")


@pytest.mark.parametrize("verdict", ["fail", "warn"])
def test_expired_waiver_fails(waivers: Waivers, verdict: str) -> None:
    outcome, info = waivers.apply("claims.aud.wrong", verdict, today=TODAY)
    assert outcome == "fail"
    assert info is not None and info["state"] == "expired" and info["owner"] == "bob@example.com"


def test_waiver_on_passing_case_is_stale(waivers: Waivers) -> None:
    outcome, info = waivers.apply("time.exp.past_inside_leeway", "pass", today=TODAY)
    assert outcome == "pass"
    assert info is not None and info["state"] == "stale"


@pytest.mark.parametrize("verdict", ["error", "skip"])
def test_errors_and_skips_are_never_waived(waivers: Waivers, verdict: str) -> None:
    outcome, info = waivers.apply("time.exp.past_inside_leeway", verdict, today=TODAY)
    assert outcome == verdict
    assert info is not None and info["state"] == "not_applied"


def test_no_waiver(waivers: Waivers) -> None:
    assert waivers.apply("claims.sub.missing", "fail", today=TODAY) == ("fail", None)


def test_exact_id_and_active_waiver_win(tmp_path: Path) -> None:
    waivers = load_waivers(
        write(
            tmp_path,
            """
            [[waiver]]
            id = "claims.*"
            reason = "old"
            owner = "a@example.com"
            expires = 2020-01-01
            [[waiver]]
            id = "claims.sub.missing"
            reason = "exact"
            owner = "b@example.com"
            expires = 2030-01-01
            """,
        )
    )
    outcome, info = waivers.apply("claims.sub.missing", "fail", today=TODAY)
    assert (outcome, info and info["reason"]) == ("waived", "exact")
    # both match the case: neither is unused
    assert waivers.unused(["claims.sub.missing"]) == ()


def test_unused(waivers: Waivers) -> None:
    unused = waivers.unused(["claims.aud.wrong", "envelope.valid.baseline"])
    assert [w.id for w in unused] == ["time.exp.past_inside_leeway", "header.typ.*"]


def test_none_path_means_no_waivers() -> None:
    waivers = load_waivers(None)
    assert len(waivers) == 0
    assert waivers.apply("x.y", "fail", today=TODAY) == ("fail", None)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'id = "a.b"\nreason = "r"\nexpires = 2027-01-01',
            "waiver[0]: owner must be a non-empty string",
        ),
        (
            'id = "a.b"\nowner = "o"\nexpires = 2027-01-01',
            "waiver[0]: reason must be a non-empty string",
        ),
        (
            'reason = "r"\nowner = "o"\nexpires = 2027-01-01',
            "waiver[0]: id must be a non-empty string",
        ),
        (
            'id = "a.b"\nreason = " "\nowner = "o"\nexpires = 2027-01-01',
            "reason must be a non-empty string",
        ),
        (
            'id = "a.b"\nreason = "r"\nowner = "o"',
            "waiver[0]: expires must be a date such as 2027-01-31 (missing)",
        ),
        (
            'id = "a.b"\nreason = "r"\nowner = "o"\nexpires = "next year"',
            "expires 'next year' is not a date",
        ),
        ('id = "a.b"\nreason = "r"\nowner = "o"\nexpires = "2027-02-30"', "is not a date"),
        (
            'id = "a.b"\nreason = "r"\nowner = "o"\nexpires = 20270101',
            "expires must be a date such as 2027-01-31 (got int)",
        ),
        (
            'id = "a.b"\nreason = "r"\nowner = "o"\nexpires = 2027-01-01T10:00:00',
            "expires must be a date",
        ),
        ('id = "*"\nreason = "r"\nowner = "o"\nexpires = 2027-01-01', "would waive every case"),
        ('id = "A B"\nreason = "r"\nowner = "o"\nexpires = 2027-01-01', "is not a case id or glob"),
        (
            'id = "a.b"\nreason = "r"\nowner = "o"\nexpires = 2027-01-01\nticket = "X"',
            "waiver[0]: unknown key ticket",
        ),
    ],
)
def test_bad_entries(tmp_path: Path, entry: str, expected: str) -> None:
    path = write(tmp_path, "[[waiver]]\n" + entry + "\n")
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert "waivers.toml" in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_waivers(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_waivers(write(tmp_path, "[[waiver]\n"))
    with pytest.raises(ConfigError, match="too deeply"):
        load_waivers(write(tmp_path, "a = " + "[" * 100_000 + "]" * 100_000 + "\n"))
    with pytest.raises(
        ConfigError, match=r"unknown key waivers \(allowed: \[\[waiver\]\] tables\)"
    ):
        load_waivers(write(tmp_path, "[[waivers]]\nid = 'a'\n"))
    with pytest.raises(ConfigError, match="must be an array of tables"):
        load_waivers(write(tmp_path, "waiver = 3\n"))


# -- feedback: the waivers that need their owner, in the terminal and the report ---------


def recorded(waivers: Waivers, verdicts: dict[str, str]) -> list[tuple[str, dict | None]]:
    """What results.json records per case after the waivers are applied."""
    return [(case, waivers.apply(case, v, today=TODAY)[1]) for case, v in verdicts.items()]


def test_feedback_names_expired_stale_and_unused_waivers(waivers: Waivers) -> None:
    verdicts = {
        "claims.aud.wrong": "fail",  # expired waiver (2026-11-01)
        "time.exp.past_inside_leeway": "pass",  # an active waiver on a passing case
        "header.typ.refused.empty": "fail",  # active: no note
        "claims.sub.missing": "fail",  # no waiver: no note
    }
    notes = waiver_notes(recorded(waivers, verdicts), ["tiem.exp.*"])
    assert [(n.state, n.waiver, n.cases) for n in notes] == [
        ("expired", "claims.aud.*", ("claims.aud.wrong",)),
        ("stale", "time.exp.past_inside_leeway", ("time.exp.past_inside_leeway",)),
        ("unused", "tiem.exp.*", ()),
    ]
    expired, stale, typo = (n.line() for n in notes)
    assert "expired on 2026-11-01" in expired and "fails because it expired" in expired
    assert "owner bob@example.com" in expired
    assert "passes now; remove the waiver" in stale
    assert "matches no case" in typo and "misspelt" in typo


def test_feedback_groups_the_cases_of_one_glob(tmp_path: Path) -> None:
    waivers = load_waivers(
        write(
            tmp_path, '[[waiver]]\nid = "time.*"\nreason = "r"\nowner = "o"\nexpires = 2026-01-01\n'
        )
    )
    verdicts = {f"time.c{i}": "fail" for i in range(7)}
    (note,) = waiver_notes(recorded(waivers, verdicts))
    assert note.cases == tuple(verdicts)
    assert note.line().count("time.c") == 5 and "(+2 more)" in note.line()


def test_the_report_section_lists_the_same_notes(waivers: Waivers) -> None:
    results = {
        "run": {"unused_waivers": ["tiem.exp.*"]},
        "cases": [
            {"id": case, "waiver": waiver}
            for case, waiver in recorded(
                waivers, {"claims.aud.wrong": "fail", "time.exp.past_inside_leeway": "pass"}
            )
        ],
    }
    html = views.waiver_review(results)
    assert "Waivers to review (3)" in html
    for text in ("claims.aud.*", "2026-11-01", "bob@", "stale", "tiem.exp.*", "misspelt"):
        assert text in html
    assert views.waiver_review({"run": {}, "cases": []}) == ""


@pytest.mark.slow
def test_a_run_says_which_waivers_need_their_owner(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[waiver]]
        id = "time.exp.past_5min"
        reason = "r"
        owner = "alice@example.com"
        expires = 2020-01-31
        [[waiver]]
        id = "claims.sub.missing"
        reason = "r"
        owner = "bob@example.com"
        expires = 2099-01-31
        [[waiver]]
        id = "tiem.exp.*"
        reason = "r"
        owner = "carol@example.com"
        expires = 2099-01-31
        """,
    )
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable, "-m", "conformance", "run", "--no-report", "--flaw", "exp_not_checked",
            "--id", "time.exp.past_5min", "--id", "claims.sub.missing",
            "--waivers", str(path), "--report-dir", str(out),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("waiver:")]
    assert len(lines) == 3, proc.stdout
    assert "time.exp.past_5min expired on 2020-01-31 (owner alice@example.com)" in lines[0]
    assert "claims.sub.missing is stale (owner bob@example.com)" in lines[1]
    assert "tiem.exp.* is unused" in lines[2]
    results = json.loads((out / "results.json").read_text())
    assert "Waivers to review (3)" in views.waiver_review(results)
