"""results.har follows the HAR 1.2 structure (what browser dev tools need to load it) and
carries no secret. Fast: synthetic results; one short real run."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from catalog_results import results_with
from factories import make_results

from conformance._har import har_document
from conformance._redact import cut_signatures

REQUEST_FIELDS = {
    "method": str,
    "url": str,
    "httpVersion": str,
    "headers": list,
    "queryString": list,
    "cookies": list,
    "headersSize": int,
    "bodySize": int,
}
RESPONSE_FIELDS = {
    "status": int,
    "statusText": str,
    "httpVersion": str,
    "headers": list,
    "cookies": list,
    "content": dict,
    "redirectURL": str,
    "headersSize": int,
    "bodySize": int,
}


def assert_har_12(har: dict[str, Any]) -> None:
    """The required members of HAR 1.2 (log, creator, entries, request, response, content,
    cache, timings), with their types."""
    log = har["log"]
    assert log["version"] == "1.2"
    assert isinstance(log["creator"]["name"], str) and isinstance(log["creator"]["version"], str)
    assert isinstance(log["entries"], list)
    for entry in log["entries"]:
        # ISO 8601 with a time zone
        started = dt.datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
        assert started.tzinfo is not None
        assert isinstance(entry["time"], int | float) and entry["time"] >= 0
        for fields, part in (
            (REQUEST_FIELDS, entry["request"]),
            (RESPONSE_FIELDS, entry["response"]),
        ):
            for name, kind in fields.items():
                assert isinstance(part[name], kind), (name, part.get(name))
            for pair in part["headers"]:
                assert set(pair) >= {"name", "value"}
                assert isinstance(pair["name"], str) and isinstance(pair["value"], str)
        for pair in entry["request"]["queryString"]:
            assert isinstance(pair["name"], str) and isinstance(pair["value"], str)
        if "postData" in entry["request"]:
            assert isinstance(entry["request"]["postData"]["mimeType"], str)
        content = entry["response"]["content"]
        assert isinstance(content["size"], int) and isinstance(content["mimeType"], str)
        assert isinstance(entry["cache"], dict)
        timings = entry["timings"]
        for name in ("send", "wait", "receive"):
            assert isinstance(timings[name], int | float) and timings[name] >= 0, name
        for key in entry:
            known = {"startedDateTime", "time", "request", "response", "cache", "timings"}
            assert key in known | {"comment", "pageref", "serverIPAddress", "connection"} or (
                key.startswith("_")
            ), f"custom HAR fields start with an underscore: {key}"


def test_the_har_of_a_results_file_follows_har_12() -> None:
    data = make_results(n_cases=30, failures=3, errors=2, hostile=True)
    har = har_document(data)
    assert_har_12(har)
    exchanges = sum(len(c["exchanges"]) for c in data["cases"])
    assert len(har["log"]["entries"]) == exchanges > 0
    json.dumps(har)  # plain JSON


def test_entries_say_which_case_and_step_and_keep_the_evidence() -> None:
    data = results_with({"algorithms.none.lowercase.empty_signature": "fail"})
    exchange = data["cases"][0]["exchanges"][0]
    exchange["sent_at"] = "2026-11-25T08:30:01.250Z"
    exchange["url"] += "?probe=1&x="
    (entry,) = har_document(data)["log"]["entries"]
    assert entry["_caseId"] == "algorithms.none.lowercase.empty_signature"
    assert entry["_verdict"] == "fail" and entry["_label"] == "attempt"
    assert entry["startedDateTime"] == "2026-11-25T08:30:01.250Z"
    assert entry["request"]["queryString"] == [
        {"name": "probe", "value": "1"},
        {"name": "x", "value": ""},
    ]
    assert entry["request"]["postData"]["mimeType"] == "application/json"
    assert {"name": "authorization", "value": "Bearer eyJ…[redacted]"} in entry["request"][
        "headers"
    ]
    assert entry["response"]["status"] == 401
    assert entry["response"]["statusText"] == "Unauthorized"
    assert entry["timings"]["wait"] == exchange["latency_ms"]


def test_an_exchange_without_answer_is_status_0_with_its_reason() -> None:
    data = results_with({"time.exp.past_5min": "error"})
    exchange = data["cases"][0]["exchanges"][0]
    exchange.update(status=None, error="timed out after 10 s", response_headers={})
    exchange.pop("sent_at", None)  # an older results file
    (entry,) = har_document(data)["log"]["entries"]
    assert (
        entry["response"]["status"] == 0 and entry["response"]["_error"] == "timed out after 10 s"
    )
    assert entry["startedDateTime"] == data["run"]["started_at"]
    assert_har_12(
        {"log": {"version": "1.2", "creator": {"name": "x", "version": "1"}, "entries": [entry]}}
    )


@pytest.mark.slow
def test_a_real_run_writes_a_har_without_secrets(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--no-report",
            "--report-dir",
            str(tmp_path),
            "--flaw",
            "alg_none_accepted",
            "--id",
            "algorithms.none.*",
            "--id",
            "replay.same_token.twice",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    har = json.loads((tmp_path / "results.har").read_text())
    assert_har_12(har)
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(har["log"]["entries"]) == results["summary"]["exchanges"]
    starts = [e["startedDateTime"] for e in har["log"]["entries"]]
    assert all(s.endswith("Z") and s >= results["run"]["started_at"][:19] for s in starts)
    text = json.dumps(har)
    # accepted forgeries were answered with a token: never whole in the HAR
    for entry in har["log"]["entries"]:
        for header in entry["request"]["headers"]:
            if header["name"] == "authorization":
                assert header["value"] == "Bearer [redacted]"
    assert "elevatedAccessToken" in text  # the forgeries were answered with a token...
    assert cut_signatures(text) == text  # ...whose signature, like every JWS's, is cut
