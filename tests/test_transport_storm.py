"""A run that ends: Retry-After values a hostile target sends, the retry budget, the
circuit breaker and the run's deadline — the transport directly, then whole runs of
``conformance run`` against a loopback target that answers every request with 503."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from raw_server import RawServer, Script, answer, raw_server

from conformance import _http
from conformance._keyring import make_key, private_jwk
from conformance._transport import Transport, TransportPolicy, retry_after_s

ROOT = Path(__file__).resolve().parent.parent
#: what a storm's Retry-After holds, in turn
HOSTILE_RETRY_AFTER = (
    "99999999999",
    "-5",
    "nan",
    "inf",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Fri, 01 Jan 2100 00:00:00 GMT",
    "soon",
    "",
)


def storm(i: int, _request: bytes) -> Script:
    value = HOSTILE_RETRY_AFTER[i % len(HOSTILE_RETRY_AFTER)]
    return [answer(503, b"busy", headers=f"retry-after: {value}\r\n")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 1.0),
        ("", 1.0),
        ("0", 0.0),
        ("3", 3.0),
        ("10", 10.0),
        ("11", None),  # longer than the cap: refused, the answer stands
        ("99999999999", None),
        ("1e308", None),
        ("-5", 1.0),  # nonsense: the default pace
        ("nan", 1.0),
        ("inf", 1.0),
        ("-inf", 1.0),
        ("soon", 1.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # past: at once
        ("Fri, 01 Jan 2100 00:00:00 GMT", None),  # far future: refused
    ],
)
def test_retry_after_is_clamped_or_refused(value: str | None, expected: float | None) -> None:
    assert retry_after_s(value, 10.0) == expected


def test_a_near_future_retry_after_date_is_waited_for() -> None:
    from email.utils import formatdate

    delay = retry_after_s(formatdate(time.time() + 5, usegmt=True), 10.0)
    assert delay is not None and 3.0 <= delay <= 5.0
    assert math.isfinite(delay)


@pytest.fixture
def client() -> Iterator[object]:
    with _http.client(timeout_s=1.0) as made:
        yield made


def test_retry_waits_share_one_budget_per_run(client: object) -> None:
    with raw_server(lambda i, _r: [answer(503, headers="retry-after: 0.2\r\n")]) as server:
        t = Transport(
            client,  # type: ignore[arg-type]
            TransportPolicy(timeout_s=1.0, retries=10, retry_budget_s=0.5, max_unavailable=0),
        )
        first = t.request("POST", server.url, headers={}, content=b"{}")
        second = t.request("POST", server.url, headers={}, content=b"{}")
    assert first.status == 503 and first.retries == 2  # 0.4 s of the 0.5 s budget
    assert second.status == 503 and second.retries == 0  # the budget is spent
    assert t.retry_waited_s == pytest.approx(0.4)


def test_the_breaker_trips_after_unavailable_answers_in_a_row(client: object) -> None:
    with raw_server(storm) as server:
        t = Transport(
            client,  # type: ignore[arg-type]
            TransportPolicy(timeout_s=1.0, retries=2, max_retry_after_s=0.0, max_unavailable=4),
        )
        answers = [t.request("POST", server.url, headers={}, content=b"{}") for _ in range(5)]
    assert t.unavailable is not None and t.unavailable.startswith("target unavailable: 4 ")
    assert "status 503" in t.unavailable
    # once tripped, nothing more is sent: the last answers were never asked for
    assert len(server.requests) == 4
    assert answers[-1].status is None and answers[-1].error == f"not sent: {t.unavailable}"


def test_an_answer_resets_the_breaker(client: object) -> None:
    def respond(i: int, _r: bytes) -> Script:
        return [answer(401, b"{}")] if i % 3 == 2 else [answer(503, b"")]

    with raw_server(respond) as server:
        t = Transport(
            client,  # type: ignore[arg-type]
            TransportPolicy(timeout_s=1.0, retries=0, max_unavailable=3),
        )
        for _ in range(9):
            t.request("POST", server.url, headers={}, content=b"{}")
    assert t.unavailable is None and len(server.requests) == 9


def test_no_answer_counts_as_unavailable(client: object) -> None:
    with raw_server(lambda i, _r: [30.0]) as server:
        t = Transport(
            client,  # type: ignore[arg-type]
            TransportPolicy(timeout_s=0.3, retries=0, max_unavailable=2),
        )
        for _ in range(3):
            t.request("POST", server.url, headers={}, content=b"{}")
    assert t.unavailable is not None and "no complete answer within 0.3 s" in t.unavailable
    assert len(server.requests) == 2


# -- whole runs -----------------------------------------------------------------------


def run_against(
    server: RawServer, tmp_path: Path, *extra: str, transport: str = ""
) -> tuple[subprocess.CompletedProcess[str], float, dict[str, object]]:
    config = tmp_path / "target.toml"
    config.write_text(
        f"""
[target]
profile = "rfc7523"
token_url = "{server.url}/token"
client_id = "storm-client"

[[target.keys]]
private_key = "env:STORM_KEY"

[transport]
timeout_s = 2
rate_limit_per_s = 1000
{transport}
"""
    )
    env = dict(os.environ)
    env["STORM_KEY"] = json.dumps(private_jwk(make_key("ES256", kid="k1")))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = tmp_path / "out"
    started = time.monotonic()
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "conformance.cli", "run", "--config", str(config)),
            *("--no-report", "--report-dir", str(out), *extra, "--", "-p", "no:randomly", "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    results = (
        json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    )
    return proc, elapsed, results


TOKEN = answer(200, b'{"access_token":"opaque-token-value-1234","token_type":"Bearer"}')


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_a_storm_ends_the_run_in_seconds_target_unavailable(
    tmp_path: Path, workers: tuple[str, ...]
) -> None:
    # each process's probe (a GET) and baseline (the POST after it on its connection) are
    # answered; then every request gets a 503 with a hostile Retry-After (the defaults:
    # retries 2, max_retry_after_s 10, breaker 10)
    def respond(i: int, request: bytes) -> Script:
        connection = server.requests[i][0]
        earlier = [r for c, r in server.requests[:i] if c == connection]
        if request.startswith(b"GET") or (earlier and earlier[-1].startswith(b"GET")):
            return [TOKEN]
        return storm(i, request)

    with raw_server(respond) as server:
        proc, elapsed, results = run_against(server, tmp_path, *workers)
    assert elapsed < 60, elapsed  # generous: unbounded, the run took close to an hour
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("conformance: error: target unavailable: 10 ")
    summary = results["summary"]  # the outputs are written all the same
    assert summary["verdict"] == "incomplete"  # type: ignore[index]
    coverage = summary["coverage"]  # type: ignore[index]
    assert coverage["stopped"].startswith("target unavailable:")
    assert coverage["not_run"] > 100
    assert len(server.requests) < 80


def test_the_run_deadline_stops_a_slow_target(tmp_path: Path) -> None:
    # every answer is a clean refusal, but slow: the deadline ends the run. The deadline
    # counts from the session's start (collection and the target's set-up take about 2 s
    # on a loaded 2-core machine): 6 s leaves room for a case to run before it, under load.
    def respond(i: int, _request: bytes) -> Script:
        return [TOKEN] if i < 2 else [0.3, answer(400, b'{"error":"invalid_grant"}')]

    with raw_server(respond) as server:
        proc, elapsed, results = run_against(server, tmp_path, "--deadline", "6")
    assert elapsed < 60, elapsed
    assert proc.returncode == 3, proc.stderr  # incomplete
    coverage = results["summary"]["coverage"]  # type: ignore[index]
    assert "deadline of 6 s passed" in coverage["stopped"]
    assert coverage["not_run"] > 100 and coverage["ran"] >= 1


def test_the_run_deadline_from_the_configuration(tmp_path: Path) -> None:
    def respond(i: int, _request: bytes) -> Script:
        return [TOKEN] if i < 2 else [0.3, answer(400, b'{"error":"invalid_grant"}')]

    with raw_server(respond) as server:
        proc, _elapsed, results = run_against(server, tmp_path, transport="run_deadline_s = 2")
    assert proc.returncode == 3, proc.stderr
    coverage = results["summary"]["coverage"]  # type: ignore[index]
    assert "deadline of 2 s passed" in coverage["stopped"]
