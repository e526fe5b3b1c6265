"""A configured Dynamic target on a staging host that misbehaves in every way loopback
cannot reproduce (timeouts, resets, 429 storms, HTML, redirects, 10 MB, bad JSON).

respx simulates only the remote staging endpoint; the runtime, target, transport and
engine are ours and real. Every run completes, nothing hangs, and the verdicts are
``error`` where the target erred — never a pass won by a fault.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from conformance._config import RunConfig, load_run_config
from conformance._configured import open_configured
from conformance._engine import Runtime, run_case
from conformance._exceptions import TargetUnreachable
from conformance._keyring import make_key, private_jwk
from conformance.catalog import BY_ID

BASE = "https://staging.example.test/api/v0"
ENV_ID = "0b6cf2d4-1c52-4d1f-9b57-4f1d2a3c4e5f"
VERIFY = f"{BASE}/sdk/{ENV_ID}/externalAuth/verify"
SESSION = "staging-session-token-value-0123456789"
#: an accept case, two reject cases: what a fault must not turn into a pass
CASE_IDS = ("envelope.valid.baseline", "time.exp.past_5min", "claims.sub.missing")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunConfig:
    monkeypatch.setenv("STAGING_KEY", json.dumps(private_jwk(make_key("ES256", kid="k1"))))
    monkeypatch.setenv("STAGING_SESSION", SESSION)
    path = tmp_path / "staging.toml"
    path.write_text(
        f"""
[target]
base_url = "{BASE}"
environment_id = "{ENV_ID}"
issuer = "https://auth.example.com"
subjects = ["conformance-a"]
session_tokens = {{ "conformance-a" = "env:STAGING_SESSION" }}

[[target.keys]]
private_key = "env:STAGING_KEY"

[transport]
timeout_s = 2
retries = 2
max_retry_after_s = 0      # keep the retries' sleeps tiny
rate_limit_per_s = 1000
"""
    )
    loaded = load_run_config(path, cwd=tmp_path)
    assert loaded is not None
    return loaded


@pytest.fixture
def staging() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def run(runtime: Runtime) -> dict[str, str]:
    return {case_id: run_case(runtime, BY_ID[case_id]).verdict for case_id in CASE_IDS}


@pytest.mark.parametrize(
    ("name", "fault", "resent"),
    [
        # the request may have reached the target: never re-sent (a copy would meet the
        # replay guard, and its refusal would pass for a verdict)
        ("read timeout", httpx.ReadTimeout("timed out"), False),
        ("connection reset", httpx.ReadError("[Errno 104] Connection reset by peer"), False),
        # nothing was sent: retried, at most twice
        ("connect timeout", httpx.ConnectTimeout("timed out"), True),
        ("refused", httpx.ConnectError("[Errno 111] Connection refused"), True),
    ],
)
def test_transport_faults_are_errors(
    config: RunConfig, staging: respx.MockRouter, name: str, fault: Exception, resent: bool
) -> None:
    route = staging.post(VERIFY).mock(side_effect=fault)
    with open_configured(config, check_reachable=False) as runtime:
        verdicts = run(runtime)
        retries = runtime.target.transport.retry_count  # type: ignore[attr-defined]
    assert set(verdicts.values()) == {"error"}, verdicts
    attempts = 3 if resent else 1
    assert route.call_count == attempts * len(CASE_IDS)
    assert retries == (attempts - 1) * len(CASE_IDS)


def test_transport_fault_evidence(config: RunConfig, staging: respx.MockRouter) -> None:
    staging.post(VERIFY).mock(side_effect=httpx.ReadTimeout("timed out"))
    with open_configured(config, check_reachable=False) as runtime:
        result = run_case(runtime, BY_ID["time.exp.past_5min"])
    assert result.verdict == "error"
    assert "no answer (no complete answer within 2 s)" in result.message
    exchange = result.exchanges[-1]
    assert exchange.status is None and exchange.retries == 0
    # the session bearer never reaches the evidence
    assert SESSION not in json.dumps(exchange.request_headers)


@pytest.mark.parametrize(
    ("status", "headers", "body", "content_type"),
    [
        (503, {"retry-after": "0"}, b'{"error": "maintenance"}', "application/json"),
        (500, {}, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        (200, {}, b"<!doctype html><title>Sign in</title><p>Welcome</p>", "text/html"),
        (200, {}, b'{"elevatedAccessToken": "abc', "application/json"),
        (200, {}, b'{"elevatedAccessToken": 12}', "application/json"),
        (200, {}, b"\xff\xfe\x00garbage", "application/octet-stream"),
    ],
    ids=["503", "html-500", "html-200", "truncated-json", "wrong-type", "garbage"],
)
def test_bad_answers_are_errors(
    config: RunConfig,
    staging: respx.MockRouter,
    status: int,
    headers: dict[str, str],
    body: bytes,
    content_type: str,
) -> None:
    staging.post(VERIFY).mock(
        return_value=httpx.Response(
            status, headers={"content-type": content_type, **headers}, content=body
        )
    )
    with open_configured(config, check_reachable=False) as runtime:
        verdicts = run(runtime)
    assert set(verdicts.values()) == {"error"}, verdicts


def test_429_storm_is_an_error_not_a_verdict(config: RunConfig, staging: respx.MockRouter) -> None:
    route = staging.post(VERIFY).mock(
        return_value=httpx.Response(429, headers={"retry-after": "0"}, json={"error": "slow down"})
    )
    with open_configured(config, check_reachable=False) as runtime:
        verdicts = run(runtime)
    assert route.call_count >= 3
    assert set(verdicts.values()) == {"error"}, verdicts


def test_429_then_success_is_retried_into_an_answer(
    config: RunConfig, staging: respx.MockRouter
) -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzY29wZSI6IndhbGxldDpleHBvcnQifQ.c2ln"
    route = staging.post(VERIFY).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(200, json={"elevatedAccessToken": token}),
        ]
    )
    with open_configured(config, check_reachable=False) as runtime:
        result = run_case(runtime, BY_ID["envelope.valid.baseline"])
        retries = runtime.target.transport.retry_count  # type: ignore[attr-defined]
    assert result.verdict == "pass"
    assert route.call_count == 2 and retries == 1
    assert result.exchanges[-1].retries == 1


def test_redirect_to_another_host_is_not_followed(
    config: RunConfig, staging: respx.MockRouter
) -> None:
    staging.post(VERIFY).mock(
        return_value=httpx.Response(307, headers={"location": "https://evil.example.test/steal"})
    )
    elsewhere = staging.route(host="evil.example.test").mock(
        return_value=httpx.Response(200, json={"elevatedAccessToken": "x.y.z"})
    )
    with open_configured(config, check_reachable=False) as runtime:
        verdicts = run(runtime)
    assert set(verdicts.values()) == {"error"}, verdicts
    assert elsewhere.call_count == 0  # neither the assertion nor the session went there


def test_ten_megabyte_body_is_bounded(config: RunConfig, staging: respx.MockRouter) -> None:
    huge = b'{"elevatedAccessToken": "' + b"A" * (10 * 1024 * 1024) + b'"}'
    staging.post(VERIFY).mock(
        return_value=httpx.Response(200, headers={"content-type": "application/json"}, content=huge)
    )
    with open_configured(config, check_reachable=False) as runtime:
        result = run_case(runtime, BY_ID["envelope.valid.baseline"])
    assert result.verdict == "error"
    for exchange in result.exchanges:
        assert len(exchange.response_body) < 10_000  # bounded evidence, not 10 MB


def test_unreachable_target_stops_before_any_case(
    config: RunConfig, staging: respx.MockRouter
) -> None:
    staging.get(VERIFY).mock(side_effect=httpx.ConnectError("[Errno -2] Name or service not known"))
    with pytest.raises(TargetUnreachable) as info, open_configured(config):
        pytest.fail("the runtime must not open")
    message = str(info.value)
    assert "\n" not in message
    assert VERIFY in message and "Name or service not known" in message
    assert staging.calls.call_count == 3  # the probe is retried like any request


def test_probe_accepts_any_http_answer(config: RunConfig, staging: respx.MockRouter) -> None:
    probe = staging.get(VERIFY).mock(return_value=httpx.Response(405))
    staging.post(VERIFY).mock(return_value=httpx.Response(401, json={"error": "no session"}))
    with open_configured(config) as runtime:
        result = run_case(runtime, BY_ID["envelope.valid.baseline"])
    assert probe.call_count == 1
    # a real refusal of a valid assertion is a verdict: an interop failure (a warning
    # unless strict; the run's own baseline check stops a run that meets it first)
    assert (result.judged, result.verdict) == ("fail", "warn")
    assert "HTTP 401" in result.message
