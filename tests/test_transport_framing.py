"""One answer per request, or none, against a real loopback socket that writes exactly
the hostile bytes (respx cannot: it never frames anything).

A connection whose answer was framed wrong is closed, so its leftover bytes are never
read as the next request's answer; the deadline covers the whole exchange, headers
included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from raw_server import CLOSE, RawServer, Script, answer, raw_server

from conformance import _http
from conformance._transport import RawResponse, Transport, TransportPolicy

#: an answer a smuggler would like the NEXT request to read as its own
SMUGGLED = answer(200, b'{"access_token":"smuggled","token_type":"Bearer"}')


def own(index: int) -> bytes:
    """The answer that belongs to request ``index``: the body names it."""
    return answer(400, b'{"request":%d}' % index)


@pytest.fixture
def t() -> Iterator[Transport]:
    with _http.client(timeout_s=1.0) as client:
        yield Transport(client, TransportPolicy(timeout_s=1.0, retries=0))


def send(t: Transport, server: RawServer, method: str = "POST") -> RawResponse:
    return t.request(method, server.url, headers={}, content=b"{}" if method == "POST" else None)


@pytest.mark.parametrize(
    ("first", "what"),
    [
        pytest.param([own(0) + SMUGGLED], "more bytes than", id="bytes-past-content-length"),
        pytest.param(
            [answer(401, b'{"error":"x"}', length=5) + SMUGGLED],
            "more bytes than",
            id="content-length-short",
        ),
        pytest.param([answer(204, b"") + SMUGGLED], "status 204 allows none", id="204-body"),
        pytest.param(
            [answer(204, b"") + b'{"access_token":"x"}'], "status 204 allows none", id="204-junk"
        ),
        pytest.param([answer(304, b"") + SMUGGLED], "status 304 allows none", id="304-body"),
    ],
)
def test_bytes_past_an_answer_belong_to_no_answer(first: Script, what: str, t: Transport) -> None:
    with raw_server(lambda i, _request: first if i == 0 else [own(i)]) as server:
        hostile = send(t, server)
        assert hostile.error is not None and "answer framing broken" in hostile.error
        assert what in hostile.error
        assert b"smuggled" not in hostile.body
        following = [send(t, server) for _ in range(3)]
    # each later request reads its own answer, never the leftover bytes
    assert [r.body for r in following] == [b'{"request":%d}' % i for i in (1, 2, 3)]
    assert all(r.status == 400 and r.error is None for r in following)
    # the hostile connection was closed; the next one is reused as usual
    assert [c for c, _ in server.requests] == [1, 2, 2, 2]


def test_a_clean_answer_keeps_its_connection(t: Transport) -> None:
    with raw_server(lambda i, _request: [own(i)]) as server:
        answers = [send(t, server) for _ in range(4)]
    assert [r.body for r in answers] == [b'{"request":%d}' % i for i in range(4)]
    assert server.connections == 1


def test_a_head_answer_never_shares_its_connection(t: Transport) -> None:
    # a HEAD answer announces a length it does not send; a body after it would be read
    # as the next answer, so its connection is closed whatever was seen
    with raw_server(lambda i, _request: [answer(200, b"", length=40)] if i == 0 else [own(i)]) as s:
        head = send(t, s, "HEAD")
        after = send(t, s)
    assert head.status == 200 and head.error is None
    assert after.body == b'{"request":1}'
    assert s.connections == 2


@pytest.mark.parametrize(
    ("first", "needle"),
    [
        # fewer bytes than announced, then the connection closed
        pytest.param([answer(400, b"{}", length=50)], "transport error", id="short-then-close"),
        # not HTTP at all
        pytest.param([b"SSH-2.0-OpenSSH_9.6\r\n\r\n"], "transport error", id="bad-status-line"),
        pytest.param([b"HTTP/1.1 abc\r\n\r\n"], "transport error", id="bad-status-code"),
    ],
)
def test_a_broken_answer_is_an_error_and_its_connection_is_gone(
    first: Script, needle: str, t: Transport
) -> None:
    def respond(i: int, _request: bytes) -> Script:
        if i == 0:
            return [*first, CLOSE]
        return [own(i)]

    with raw_server(respond) as server:
        broken = send(t, server)
        after = send(t, server)
    assert broken.error is not None and needle in broken.error, broken
    assert after.body == b'{"request":1}' and after.error is None
    assert [c for c, _ in server.requests] == [1, 2]


def test_fewer_bytes_than_announced_on_an_open_connection_end_at_the_deadline(t: Transport) -> None:
    def respond(i: int, _request: bytes) -> Script:
        return [answer(400, b"{}", length=50), 30.0] if i == 0 else [own(i)]

    with raw_server(respond) as server:
        started = time.monotonic()
        short = send(t, server)
        assert time.monotonic() - started < 10  # generous: the server would hold 30 s
        after = send(t, server)
    assert short.error == "no complete answer within 1 s"
    assert after.body == b'{"request":1}'


def trickle(data: bytes, pause: float) -> list[bytes | float]:
    return [step for byte in data for step in (bytes([byte]), pause)]


@pytest.mark.parametrize(
    "script",
    [
        # headers a byte per 100 ms: ~12 s of headers, each read well within httpx's timeout
        pytest.param(
            trickle(answer(400, b"{}", headers="x-pad: " + "p" * 60 + "\r\n"), 0.1),
            id="headers-trickled",
        ),
        pytest.param([answer(400, b"", length=100), *trickle(b"x" * 100, 0.1)], id="body-trickled"),
        pytest.param([30.0, own(0)], id="silent"),
    ],
)
def test_the_deadline_covers_the_whole_exchange(script: Script, t: Transport) -> None:
    with raw_server(lambda i, _request: script if i == 0 else [own(i)]) as server:
        started = time.monotonic()
        late = send(t, server)
        elapsed = time.monotonic() - started
        after = send(t, server)
    assert late.error == "no complete answer within 1 s"
    assert elapsed < 5  # generous: the target would take 10 s or more
    assert after.body == b'{"request":1}' and after.error is None


def test_a_server_error_does_not_share_its_connection(t: Transport) -> None:
    # uvicorn closes the connection just after a 500 from an exception: reused, that
    # close would reach the NEXT request as a reset and blame the wrong case
    def respond(i: int, _request: bytes) -> Script:
        return [answer(500, b"boom"), 0.2, CLOSE] if i == 0 else [own(i)]

    with raw_server(respond) as server:
        crashed = send(t, server)
        after = send(t, server)
    assert crashed.status == 500 and crashed.error is None
    assert after.body == b'{"request":1}' and after.error is None
    assert [c for c, _ in server.requests] == [1, 2]
