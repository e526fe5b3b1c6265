"""The writer of results.json (conformance/_results.py) and the models it writes through
(conformance/_schema.py): counting, one case's record, the whole document, the file, and
reading it back (report/_load.py). Fast: no server."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from factories import make_case, make_results, write_results

from conformance._engine import CaseResult
from conformance._exceptions import ConfigError
from conformance._results import build_results, case_record, encode_results, write_json
from conformance._schema import CaseRecord, Results, Scope, summarise
from conformance._version import RESULTS_SCHEMA_VERSION
from conformance.catalog._model import CATEGORIES, Expect, Level, Severity, case
from conformance.report import load_results
from conformance.targets.base import Exchange


def _b64(value: Any) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


ASSERTION_SIG = "S1gnatureOfTheAssertion_" + "a" * 62
ASSERTION = f"{_b64({'alg': 'ES256', 'typ': 'JWT'})}.{_b64({'sub': 'user-ä'})}.{ASSERTION_SIG}"
ISSUED_SIG = "IssuedTokenSignature-" + "b" * 40
ISSUED = f"{_b64({'alg': 'ES256'})}.{_b64({'sub': 'user-ä', 'scope': 'x'})}.{ISSUED_SIG}"
OPAQUE = "opaque-access-token-0123456789abcdef"


def _records(*specs: tuple[str, str, str]) -> list[CaseRecord]:
    rng = random.Random(1)
    return [
        msgspec.convert(make_case(i, verdict=v, category=c, severity=s, rng=rng), CaseRecord)
        for i, (v, c, s) in enumerate(specs)
    ]


# -- summarise ------------------------------------------------------------------------


def test_summarise_counts_each_verdict_by_category_and_severity() -> None:
    records = _records(
        ("pass", "time", "high"),
        ("fail", "time", "critical"),
        ("fail", "claims", "high"),
        ("warn", "claims", "critical"),
        ("error", "keys", "critical"),
        ("skip", "keys", "low"),
        ("waived", "time", "medium"),
    )
    summary = msgspec.to_builtins(summarise(records, retries=3))
    assert summary["counts"] == {
        "pass": 1, "fail": 2, "warn": 1, "error": 1, "skip": 1, "waived": 1
    }  # fmt: skip
    # categories in the order of the cases, each with all six counts
    assert list(summary["by_category"]) == ["time", "claims", "keys"]
    assert summary["by_category"]["time"] == {
        "pass": 1, "fail": 1, "warn": 0, "error": 0, "skip": 0, "waived": 1
    }  # fmt: skip
    assert summary["by_category"]["keys"]["error"] == 1
    assert summary["by_category"]["keys"]["skip"] == 1
    # every severity listed, critical first, even those no case has
    assert list(summary["by_severity"]) == ["critical", "high", "medium", "low", "info"]
    assert summary["by_severity"]["critical"] == {
        "pass": 0, "fail": 1, "warn": 1, "error": 1, "skip": 0, "waived": 0
    }  # fmt: skip
    assert summary["by_severity"]["info"] == dict.fromkeys(summary["counts"], 0)
    # only a critical *fail* is a critical failure (not a critical warn or error)
    assert summary["critical_failures"] == 1
    assert summary["retries"] == 3
    assert summary["exchanges"] == 6  # make_case: one exchange per case, none when skipped
    assert summary["verdict"] == "not_conformant"


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ((), "conformant"),
        (("pass", "warn", "skip", "waived"), "conformant"),
        (("pass", "error", "warn"), "error"),
        (("error", "fail"), "not_conformant"),
        (("fail",), "not_conformant"),
    ],
)
def test_the_run_verdict(verdicts: tuple[str, ...], expected: str) -> None:
    records = _records(*((v, "time", "high") for v in verdicts))
    assert summarise(records).verdict == expected


def _scope(records: list[CaseRecord], *, extra: int = 0, stopped: str = "") -> Scope:
    """The records as the selection, in a catalog of ``extra`` more critical claims cases."""
    rows = tuple((c.id, c.category, c.severity) for c in records)
    rows += tuple((f"claims.more_{i}", "claims", "critical") for i in range(extra))
    return Scope(catalog=rows, selected=frozenset(c.id for c in records), stopped=stopped)


def test_a_stopped_run_is_incomplete_whatever_its_cases_did() -> None:
    records = _records(("pass", "time", "high"), ("fail", "time", "critical"))
    summary = summarise(records, scope=_scope(records, stopped="interrupted (KeyboardInterrupt)"))
    assert summary.verdict == "incomplete"
    assert summary.coverage is not None and not summary.coverage.complete
    assert summary.coverage.stopped == "interrupted (KeyboardInterrupt)"


def test_selected_cases_without_a_verdict_make_a_run_incomplete() -> None:
    records = _records(("pass", "time", "high"), ("pass", "time", "high"))
    scope = Scope(
        catalog=(*tuple((c.id, c.category, c.severity) for c in records), ("x", "time", "low")),
        selected=frozenset({records[0].id, records[1].id, "x"}),
    )
    summary = summarise(records, scope=scope)
    assert summary.verdict == "incomplete"
    assert summary.coverage is not None
    assert (summary.coverage.selected, summary.coverage.ran, summary.coverage.not_run) == (3, 2, 1)
    assert "1 selected cases have no verdict" in summary.coverage.stopped


def test_critical_cases_skipped_wholesale_are_conformant_with_gaps() -> None:
    records = _records(
        ("pass", "time", "high"),
        *[("skip", "claims", "critical")] * 3,
        ("pass", "signature", "critical"),
    )
    summary = summarise(records, scope=_scope(records))
    cov = summary.coverage
    assert summary.verdict == "conformant_with_gaps"
    assert cov is not None
    assert (cov.skipped, cov.critical, cov.critical_unproved) == (3, 4, 3)
    assert cov.skipped_by_category == {"claims": 3}
    assert cov.skipped_by_severity["critical"] == 3
    assert cov.gaps == [
        "3 of 4 critical cases did not run (3 skipped)",
        "no critical case ran in 1 categories: claims",
    ]


def test_one_skipped_critical_case_among_many_is_no_gap() -> None:
    records = _records(("skip", "claims", "critical"), *[("pass", "claims", "critical")] * 10)
    assert summarise(records, scope=_scope(records)).verdict == "conformant"


def test_a_selection_that_leaves_out_critical_cases_has_gaps() -> None:
    records = _records(("pass", "time", "high"))
    summary = summarise(records, scope=_scope(records, extra=5))
    assert summary.verdict == "conformant_with_gaps"
    assert summary.coverage is not None
    assert summary.coverage.gaps[0] == "5 of 5 critical cases did not run (5 not selected)"


def test_a_failure_still_wins_over_gaps() -> None:
    records = _records(("fail", "time", "high"), ("skip", "claims", "critical"))
    assert summarise(records, scope=_scope(records)).verdict == "not_conformant"


def test_the_test_factories_count_with_the_writers_summarise() -> None:
    data = make_results(n_cases=20, failures=3, critical=2, warns=2, errors=1, skips=1)
    records = msgspec.convert(data["cases"], list[CaseRecord])
    assert data["summary"] == msgspec.to_builtins(summarise(records))
    assert data["summary"]["critical_failures"] == 2


# -- case_record ----------------------------------------------------------------------


def _exchange(*, issued: str | None) -> Exchange:
    return Exchange(
        label="attempt",
        method="POST",
        url="http://127.0.0.1:1/verify",
        request_headers={"content-type": "application/json", "authorization": "Bearer [redacted]"},
        request_body='{"jwt": "[forged]"}',
        status=200 if issued else 401,
        response_headers={"content-type": "application/json"},
        response_body='{"ok": true}',
        latency_ms=1.23456,
        assertion=ASSERTION,
        issued_token=issued,
    )


def _result(**changes: Any) -> CaseResult:
    the_case = case(
        "time.exp.synthetic",
        "exp in the past",
        category="time",
        run=lambda ctx: None,
        rationale="a stale assertion replayed later",
        expect=Expect.REJECT,
        level=Level.SHOULD,
        severity=Severity.CRITICAL,
        references=("RFC 7519 §4.1.4",),
        anchors=("C02",),
    )
    fields: dict[str, Any] = {
        "case": the_case,
        "verdict": "waived",
        "judged": "fail",
        "waiver": {
            "id": "time.exp.*",
            "reason": "known",
            "owner": "me@example.com",
            "expires": "2099-01-01",
            "state": "active",
        },
        "outcome": "accepted",
        "message": "expected a 4xx and no token; got 200 with a token",
        "exchanges": (_exchange(issued=ISSUED), _exchange(issued=OPAQUE)),
        "duration_ms": 12.345678,
        "reproduce": "curl -sS …",
        "waited_ms": 2.0004,
    }
    fields.update(changes)
    return CaseResult(**fields)


def test_case_record_reads_the_final_verdict_and_the_waiver_from_the_result() -> None:
    record = case_record(_result(), nodeid="suite::test_case[x]", failure="one screen", rerun="r")
    assert record["verdict"] == "waived"
    assert record["waiver"] == {
        "id": "time.exp.*",
        "reason": "known",
        "owner": "me@example.com",
        "expires": "2099-01-01",
        "state": "active",
    }
    assert "judged" not in record
    assert (record["id"], record["category"], record["level"], record["severity"]) == (
        "time.exp.synthetic",
        "time",
        "should",
        "critical",
    )
    assert record["expect"] == "reject"
    assert record["references"] == ["RFC 7519 §4.1.4"]
    assert record["anchors"] == ["C02"]
    assert record["message"] == "expected a 4xx and no token; got 200 with a token"
    assert (record["failure"], record["rerun"], record["nodeid"]) == (
        "one screen",
        "r",
        "suite::test_case[x]",
    )
    assert record["duration_ms"] == 12.346
    assert record["waited_ms"] == 2.0
    assert record["exchanges"][0]["latency_ms"] == 1.235
    assert json.loads(json.dumps(record)) == record  # plain JSON builtins (xdist sends them)


def test_case_record_without_a_waiver_records_null() -> None:
    record = case_record(_result(verdict="pass", judged="pass", waiver=None), nodeid="n")
    assert record["waiver"] is None
    assert record["failure"] == ""
    assert record["rerun"] == ""


def test_case_record_cuts_every_secret() -> None:
    record = case_record(_result(), nodeid="n")
    text = json.dumps(record, ensure_ascii=False)
    first, second = record["exchanges"]
    # the assertion: readable, never usable
    assert first["assertion"] == {
        "header": {"alg": "ES256", "typ": "JWT"},
        "claims": {"sub": "user-ä"},
        "signature": f"[cut: {len(ASSERTION_SIG)} chars]",
    }
    assert ASSERTION_SIG not in text
    # the issued token: its claims, never the token or its signature
    assert first["issued"]["claims"] == {"sub": "user-ä", "scope": "x"}
    assert first["issued"]["signature"] == f"[cut: {len(ISSUED_SIG)} chars]"
    assert ISSUED not in text
    assert ISSUED_SIG not in text
    # an opaque issued token: only its length
    assert second["issued"] == {"opaque": f"[redacted: {len(OPAQUE)} chars]"}
    assert OPAQUE not in text


def test_case_record_refuses_a_verdict_the_schema_does_not_know() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.verdict"):
        case_record(_result(verdict="maybe"), nodeid="n")


# -- build_results and the file -------------------------------------------------------


RUN = {
    "id": "20261125T083000Z-1a2b3c",
    "started_at": "2026-11-25T08:30:00+00:00",
    "finished_at": "2026-11-25T08:30:09+00:00",
    "duration_s": 9.1,
    "seed": 7,
    "strict": False,
    "target": {"profile": "dynamic", "embedded": True, "flaws": []},
    "unused_waivers": ["nope.*"],
}


def test_build_results_orders_cases_by_catalog_category_then_id() -> None:
    rng = random.Random(2)
    specs = [("replay", 3), ("zzz_unknown", 1), ("envelope", 9), ("time", 2), ("envelope", 1)]
    cases = [make_case(i, verdict="pass", category=c, severity="high", rng=rng) for c, i in specs]
    results = build_results(cases, run=RUN, facts={"f": {"value": 1, "detail": "d"}}, retries=2)
    assert isinstance(results, Results)
    got = [(c.category, c.id) for c in results.cases]
    expected = sorted(
        ((c["category"], c["id"]) for c in cases),
        key=lambda ci: (CATEGORIES.index(ci[0]) if ci[0] in CATEGORIES else 99, ci[1]),
    )
    assert got == expected
    assert got[-1][0] == "zzz_unknown"
    assert list(results.summary.by_category) == ["envelope", "time", "replay", "zzz_unknown"]
    assert results.summary.retries == 2
    assert results.schema_version == RESULTS_SCHEMA_VERSION
    assert results.run.suite_version and results.run.python and results.run.platform
    assert results.run.unused_waivers == ["nope.*"]
    assert results.facts["f"].value == 1


def test_build_results_names_the_bad_field() -> None:
    bad = make_case(0, verdict="pass", category="time", severity="high", rng=random.Random(0))
    bad["severity"] = "apocalyptic"
    with pytest.raises(msgspec.ValidationError, match=r"\$\.severity"):
        build_results([bad], run=RUN, facts={})


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    records = [case_record(_result(), nodeid="n")]
    results = build_results(records, run=RUN, facts={})
    path = write_json(tmp_path / "out" / "results.json", results)
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert "user-ä".encode() in raw  # UTF-8 as is, not \u00e4
    assert b"\n " in raw  # indented for humans
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no .tmp left
    assert load_results(path) == msgspec.to_builtins(results)
    assert msgspec.json.decode(raw, type=Results) == results
    assert encode_results(results) == raw


def test_a_version_1_file_from_an_early_run_still_loads(tmp_path: Path) -> None:
    """Files written before failure/rerun/waited_ms/unused_waivers existed, with a field a
    newer writer may add: they load, with the defaults filled in."""
    data = make_results(n_cases=6, failures=1, critical=1)
    assert data["schema_version"] == 1
    for c in data["cases"]:
        for key in ("failure", "rerun", "waited_ms"):
            c.pop(key, None)
        c["added_by_a_newer_writer"] = True
    data["run"].pop("unused_waivers", None)
    data["summary"].pop("coverage", None)  # schema 2 added coverage and selection
    data["run"].pop("selection", None)
    loaded = load_results(write_results(tmp_path / "results.json", data))
    assert [c["id"] for c in loaded["cases"]] == [c["id"] for c in data["cases"]]
    assert all(c["failure"] == "" and c["waited_ms"] == 0.0 for c in loaded["cases"])
    assert "added_by_a_newer_writer" not in loaded["cases"][0]
    assert loaded["run"]["unused_waivers"] == []
    assert loaded["run"]["selection"] is None
    assert loaded["summary"] == {**data["summary"], "coverage": None}


def test_a_hostile_file_with_a_lone_surrogate_escape_still_loads(tmp_path: Path) -> None:
    data = make_results(n_cases=8, hostile=True)
    loaded = load_results(write_results(tmp_path / "results.json", data))
    # kept as is: the report's own escaping turns it into U+FFFD
    assert any("\udc80" in c["message"] for c in loaded["cases"])


def _with(change: Any) -> dict[str, Any]:
    data = make_results(n_cases=6, failures=1, critical=1)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d["cases"][3].update(verdict="maybe"), "cases[3].verdict: invalid enum"),
        (lambda d: d["cases"][2].pop("id"), "cases[2]: object missing required field `id`"),
        (lambda d: d["summary"]["counts"].update({"pass": "7"}), "summary.counts.pass: expected"),
        (lambda d: d.update(run=[]), "run: expected `object`, got `array`"),
        (lambda d: d["cases"][0]["exchanges"][0].update(status="200"), "exchanges[0].status"),
        (lambda d: d.update(schema_version=3), "schema_version 3 is not supported"),
        (lambda d: d.update(schema_version="1"), "schema_version '1' is not supported"),
        (lambda d: d.pop("schema"), "not an exchange-conformance results file"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_field(
    tmp_path: Path, change: Any, needle: str
) -> None:
    path = write_results(tmp_path / "results.json", _with(change))
    with pytest.raises(ConfigError) as info:
        load_results(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert needle in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"{not json", "not valid JSON"), (b"[]", "not an exchange-conformance results file")],
)
def test_a_file_that_is_not_results_is_one_line(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=needle) as info:
        load_results(path)
    assert "\n" not in str(info.value)
