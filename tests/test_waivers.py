"""Waivers: accepted risks with an owner and an expiry; expired ones fail, stale ones show."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from conformance._exceptions import ConfigError
from conformance._waivers import Waiver, Waivers, load_waivers

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
    with pytest.raises(
        ConfigError, match=r"unknown key waivers \(allowed: \[\[waiver\]\] tables\)"
    ):
        load_waivers(write(tmp_path, "[[waivers]]\nid = 'a'\n"))
    with pytest.raises(ConfigError, match="must be an array of tables"):
        load_waivers(write(tmp_path, "waiver = 3\n"))
