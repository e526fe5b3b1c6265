"""The transport policy against faults a staging endpoint produces and loopback cannot
(simulated with respx)."""

from __future__ import annotations

import time

import httpx
import pytest
import respx

from conformance import _http
from conformance._transport import Transport, TransportPolicy

URL = "https://staging.example.test/api/v0/sdk/env/externalAuth/verify"


def transport(**policy: float | int) -> Transport:
    return Transport(_http.client(timeout_s=1.0), TransportPolicy(max_retry_after_s=0.01, **policy))  # type: ignore[arg-type]


@respx.mock
def test_429_is_retried_honouring_retry_after_then_answered() -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(401, json={"error": "bad"}),
        ]
    )
    t = transport(retries=3)
    raw = t.request("POST", URL, headers={}, content=b"{}")
    assert raw.status == 401
    assert raw.retries == 2 and t.retry_count == 2
    assert route.call_count == 3


@respx.mock
def test_a_429_storm_gives_up_after_the_retry_budget() -> None:
    respx.post(URL).mock(return_value=httpx.Response(503, headers={"retry-after": "0"}))
    raw = transport(retries=2).request("POST", URL, headers={}, content=b"{}")
    assert raw.status == 503 and raw.retries == 2


@respx.mock
def test_a_verdict_is_never_retried() -> None:
    route = respx.post(URL).mock(
        return_value=httpx.Response(200, json={"elevatedAccessToken": "x"})
    )
    raw = transport(retries=3).request("POST", URL, headers={}, content=b"{}")
    assert raw.status == 200 and raw.retries == 0 and route.call_count == 1


@pytest.mark.parametrize(
    ("fault", "retried"),
    [
        (httpx.ConnectTimeout("slow"), True),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), False),  # it may have been processed: never re-sent
        (httpx.ReadError("reset"), False),
    ],
)
@respx.mock
def test_transport_faults_become_an_error_not_an_exception(fault: Exception, retried: bool) -> None:
    route = respx.post(URL).mock(side_effect=fault)
    raw = transport(retries=1).request("POST", URL, headers={}, content=b"{}")
    assert raw.status is None
    assert raw.error is not None
    assert raw.retries == (1 if retried else 0)
    assert route.call_count == (2 if retried else 1)


@respx.mock
def test_a_retry_after_that_is_not_a_number_does_not_crash() -> None:
    respx.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "nan"}), httpx.Response(401)]
    )
    raw = transport(retries=1).request("POST", URL, headers={}, content=b"{}")
    assert raw.status == 401 and raw.retries == 1


@respx.mock
def test_compression_is_never_asked_for() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(401))
    transport(retries=0).request("POST", URL, headers={}, content=b"{}")
    assert route.calls.last.request.headers["accept-encoding"] == "identity"


@respx.mock
def test_a_burst_fires_at_once_in_its_slots_and_a_connection_per_copy() -> None:
    # A race spread out by the rate limiter is a sequence: the copies fire together, take
    # one slot each (before and after they fire: the rate holds around them), and each
    # copy has a client (a connection) of its own.
    respx.post(URL).mock(return_value=httpx.Response(401))
    made: list[httpx.Client] = []

    def connect() -> httpx.Client:
        made.append(_http.client(timeout_s=1.0, max_connections=1))
        return made[-1]

    t = Transport(
        _http.client(timeout_s=1.0), TransportPolicy(rate_limit_per_s=20), connect=connect
    )
    statuses = t.burst(
        4,
        lambda c: t.request("POST", URL, headers={}, content=b"{}", client=c, throttle=False),
    )
    assert [r.status for r in statuses] == [401] * 4
    assert len(made) == 4 and all(c.is_closed for c in made)
    # four slots of 50 ms taken after the copies fired: the next request waits for them
    assert 0.0 < t.pacer.state().next_slot - time.monotonic() <= 0.2


@respx.mock
def test_a_10mb_body_is_cut_to_the_limit() -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, content=b"x" * (10 << 20)))
    raw = transport(retries=0, max_body_bytes=4096).request("POST", URL, headers={}, content=b"{}")
    assert raw.status == 200 and len(raw.body) == 4096


@respx.mock
def test_redirects_are_reported_not_followed() -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(307, headers={"location": "https://evil.test/"})
    )
    raw = transport(retries=0).request("POST", URL, headers={}, content=b"{}")
    assert raw.status == 307
    assert raw.headers["location"] == "https://evil.test/"


@respx.mock
def test_the_date_header_is_parsed_for_the_clock() -> None:
    respx.post(URL).mock(
        return_value=httpx.Response(400, headers={"date": "Wed, 25 Nov 2026 08:00:00 GMT"})
    )
    raw = transport(retries=0).request("POST", URL, headers={}, content=b"{}")
    assert raw.server_date == 1795593600.0


def test_a_request_http_cannot_carry_is_an_answer_never_an_exception() -> None:
    """A header value a hostile target chose (its sign-in's user id, sent back in a
    profile's header) that is not ASCII, or a URL that does not parse: recorded as not
    sent, the value not repeated."""
    seen: list[httpx.Request] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
    )
    t = Transport(client, TransportPolicy(retries=0, rate_limit_per_s=1000))
    raw = t.request("POST", "http://127.0.0.1:9/x", headers={"x-user": "n\u20acxt"}, content=b"")
    assert raw.status is None and raw.error is not None
    assert raw.error.startswith("not sent:") and "x-user" in raw.error
    assert "\u20ac" not in raw.error
    raw = t.request(
        "POST", "http://127.0.0.1:9/x", headers={"x-user": "a\r\nx-admin: 1"}, content=b""
    )
    assert raw.status is None and "line break" in (raw.error or "")
    raw = t.request("GET", "http://127.0.0.1:9/\x00", headers={}, content=None)
    assert raw.status is None and (raw.error or "").startswith("not sent:")
    assert seen == []
    assert t.request("GET", "http://127.0.0.1:9/x", headers={"a": "b"}, content=None).status == 200
