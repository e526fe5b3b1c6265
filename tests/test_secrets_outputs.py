"""Secrets by value and inert text, through every output.

A target that echoes everything back (the assertion as sent, JSON-escaped, URL-encoded
and base64'd; the session bearer; the issued token; a cookie) and sprinkles its answers
with control characters runs the malformed-token, disclosure and session-confusion
cases; results.json, junit.xml and the terminal's failure text must hold none of those
secrets and no raw control character, while the ``errors.disclosure.*`` checks, which
judge the raw answer, must fail.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import msgspec
import pytest

from conformance._engine import Runtime, failure_message, run_case
from conformance._jose import SigningKey
from conformance._junit import _x, junit_tree
from conformance._keyring import Keyring, private_jwk
from conformance._redact import (
    decode_token,
    inert,
    one_line,
    redact_headers,
    remember_assertion,
    remember_secret,
    scrub,
    signature_segments,
)
from conformance._results import build_results, case_record, encode_results, exchange_record
from conformance._settings import TargetSettings
from conformance.catalog._builtin import BY_ID
from conformance.catalog._model import CAPABILITIES
from conformance.targets.base import ExchangeRequest, Session
from conformance.targets.fake import FakeTarget, Reply

# Raw control characters an output must never carry: C0 but tab and newline (CR too),
# DEL, C1, the bidi overrides and isolates.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "\r\r\rALL PASSED\x1b[2K\x9b2K\x85\u202eevil\u2066\x7f"
RUN = {
    "id": "20261202T000000Z-secret",
    "started_at": "2026-12-02T00:00:00+00:00",
    "finished_at": "2026-12-02T00:00:09+00:00",
    "duration_s": 9.0,
    "seed": 1,
    "strict": False,
    "target": {"profile": "dynamic", "fake": True},
}
CASES = sorted(
    i
    for i in BY_ID
    if i.startswith(("encoding.segments.", "encoding.base64.", "encoding.whitespace."))
    or i.startswith(("encoding.invalid_char.", "encoding.json_serialization.", "encoding.jwe."))
    or i.startswith("errors.disclosure.")
    or i == "subject.confusion.session_token_as_assertion"
)


class EchoTarget(FakeTarget):
    """Echoes everything it is sent, every way a target might, with control characters.

    Its sessions are random and, unlike :class:`FakeTarget`'s, not remembered by the
    target: the engine must learn them itself."""

    def __init__(self) -> None:
        super().__init__(self.answer)
        self.sessions: list[str] = []
        self.issued: list[str] = []
        self.cookies: list[str] = []

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        token = "sess-" + secrets.token_urlsafe(24)
        self.sessions.append(token)
        return Session(subject=subject, token=token, user_id=subject)

    def answer(self, request: ExchangeRequest) -> Reply:
        token = request.assertion
        bearer = request.session.token if request.session is not None else ""
        cookie = secrets.token_urlsafe(18)
        self.cookies.append(cookie)
        echo = {
            "error": f"invalid assertion {token}{HOSTILE}",
            "url": quote(token, safe=""),
            "form": quote_plus(token),
            "b64": base64.b64encode(token.encode()).decode(),
            "bearer": f"Bearer {bearer}",
            "previous": self.issued[-1] if self.issued else "",
        }
        body = json.dumps(echo) + "\r" + token + HOSTILE
        headers = {
            "set-cookie": f"sid={cookie}; Path=/; HttpOnly",
            "www-authenticate": f'Bearer error="{token}"\x85',
        }
        if request.label in {"control", "baseline"}:
            issued = "iss-" + secrets.token_urlsafe(24)
            self.issued.append(issued)
            return Reply(200, body=body + issued, issued=issued, headers=headers)
        return Reply(401, body=body, headers=headers)


def _secrets_sent(target: EchoTarget) -> set[str]:
    """Every secret of the run, as long runs of its characters."""
    found: set[str] = {*target.sessions, *target.issued, *target.cookies}
    for request in target.requests:
        for segment in signature_segments(request.assertion):
            found |= set(re.findall(r"[A-Za-z0-9_\-]{12,}", segment))
    return found


@pytest.fixture(scope="module")
def echo_run() -> tuple[EchoTarget, list[Any]]:
    target = EchoTarget()
    settings = TargetSettings(
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        capabilities=CAPABILITIES,
    )
    runtime = Runtime(settings=settings, keyring=Keyring(published_algs=("ES256",)), target=target)
    return target, [run_case(runtime, BY_ID[i]) for i in CASES]


def _outputs(results: list[Any]) -> dict[str, str]:
    failures = [failure_message(r) for r in results if r.verdict in {"fail", "error"}]
    records = [
        case_record(r, nodeid=r.case.id, failure=f)
        for r, f in zip(results, [failure_message(r) for r in results], strict=True)
    ]
    document = build_results(records, run=RUN, facts={})
    return {
        "results.json": encode_results(document).decode(),
        "junit.xml": ET.tostring(junit_tree(document).getroot(), encoding="unicode"),
        "terminal": "\n".join(failures),
    }


def test_the_echo_run_covers_what_it_should(echo_run: tuple[EchoTarget, list[Any]]) -> None:
    target, results = echo_run
    assert len(results) == len(CASES) >= 35
    assert target.sessions and target.issued and target.cookies
    assert len(_secrets_sent(target)) > 30


def test_no_secret_of_the_run_reaches_any_output(echo_run: tuple[EchoTarget, list[Any]]) -> None:
    target, results = echo_run
    outputs = _outputs(results)
    for name, text in outputs.items():
        leaked = sorted(s for s in _secrets_sent(target) if s in text)
        assert not leaked, f"{name} holds secrets {leaked[:3]}"
    # the session token sent as the assertion is recorded by its length only
    session_case = next(r for r in results if r.case.id.endswith("session_token_as_assertion"))
    sent = next(e for e in session_case.exchanges if e.label == "session as assertion")
    assert sent.assertion in target.sessions
    assert msgspec.to_builtins(exchange_record(sent).assertion) == {
        "opaque": f"[redacted: {len(sent.assertion)} chars]"
    }


def test_no_raw_control_character_reaches_any_output(
    echo_run: tuple[EchoTarget, list[Any]],
) -> None:
    _, results = echo_run
    for name, text in _outputs(results).items():
        assert not RAW_CONTROL.findall(text), name
    # ... but they are shown, escaped
    assert "\\x0d\\x0d\\x0dALL PASSED" in _outputs(results)["results.json"].replace("\\\\", "\\")
    ET.fromstring(_outputs(results)["junit.xml"])  # well-formed


def test_disclosure_judges_the_raw_answer(echo_run: tuple[EchoTarget, list[Any]]) -> None:
    """A target that echoes the whole assertion fails errors.disclosure.* (the raw answer
    is judged) while the outputs still hold no signature (the recorded one is kept)."""
    _, results = echo_run
    disclosure = {r.case.id: r for r in results if r.case.id.startswith("errors.disclosure.")}
    # a garbage or empty token has no signature to echo
    echoed = {i: r for i, r in disclosure.items() if not i.endswith((".garbage", ".empty"))}
    assert len(echoed) == 9
    for case_id, result in echoed.items():
        assert result.verdict == "fail", (case_id, result.message)
        assert "echoes the assertion's signature" in result.message
        exchange = result.exchanges[0]
        assert exchange.raw_response_body is not None
        assert "raw_response_body" not in repr(exchange)
        recorded = msgspec.to_builtins(exchange_record(exchange))
        assert "raw" not in json.dumps(sorted(recorded))  # the raw answer is never a field
        signature = exchange.assertion.split(".")[-1] if exchange.assertion else ""
        assert signature and signature in exchange.raw_response_body
        assert signature not in json.dumps(recorded)


# --- the pieces -----------------------------------------------------------------------

_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0." + "S1g_n4tur3-" * 8


@pytest.mark.parametrize(
    "malformed",
    [
        "eyJhbGciOiJFUzI1NiJ9=.eyJzdWIiOiJ1In0." + "P4dd3d_h3ad3r-" * 6,  # padding in the header
        ".eyJzdWIiOiJ1In0." + "N0_h3ad3r-" * 8,  # no header
        "eyJhbGciOiJFUzI1NiJ9.\neyJzdWIiOiJ1In0." + "N3wl1n3-" * 9,  # newline
        "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0." + "T4b_s1gnatur3" * 4 + "\t" + "m0r3_s1g" * 5,
        "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0." + "Qu3st10n_m4rk" * 4 + "?" + "m0r3_s1g" * 5,
        "eyJhbGciOiJFUzI1NiJ9.eyJ#zdWIiOiJ1In0." + "H4sh_1n_h34d3r-" * 6,
        "eyJhbGciOiJFUzI1NiJ9,eyJzdWIiOiJ1In0," + "C0mm4_s3p4r4t0r" * 6,
        " eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0." + "St4nd4rd+4lph4b/t" * 5 + "==\n",
        json.dumps({"payload": "eyJzdWIiOiJ1In0", "signature": "JS0N_s3r14l1z4t10n" * 5}),
    ],
)
def test_a_malformed_assertion_is_recorded_with_its_signature_cut(malformed: str) -> None:
    remember_assertion(malformed)
    runs = {r for s in signature_segments(malformed) for r in re.findall(r"[\w+/-]{12,}", s)}
    assert runs
    for echoed in (
        malformed,
        json.dumps({"jwt": malformed}),
        quote(malformed, safe=""),
        quote_plus(malformed),
    ):
        shown = scrub(f"the target said: {echoed} (that is all)")
        assert not [r for r in runs if r in shown], shown
        assert "signature cut" in shown
    preview = json.dumps(decode_token(malformed))
    assert not [r for r in runs if r in preview], preview


def test_an_opaque_secret_is_redacted_in_every_spelling() -> None:
    secret = "opaque/" + secrets.token_urlsafe(20) + "+x"
    remember_secret(secret)
    for spelling in (
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    ):
        shown = scrub(f"<{spelling}>")
        assert spelling not in shown and "[redacted:" in shown
    assert decode_token(secret) == {"opaque": f"[redacted: {len(secret)} chars]"}


def test_an_issued_jwt_keeps_its_claims_and_loses_its_signature() -> None:
    remember_secret(_TOKEN)
    shown = scrub(f"token={_TOKEN}")
    assert "eyJzdWIiOiJ1In0" in shown and "S1g_n4tur3" not in shown


def test_bearers_and_cookies_are_redacted_and_remembered() -> None:
    # Credentials in headers are remembered when they look random (credential_like): a
    # token_urlsafe(16) fails that about once in 110 draws ("ph_DmagGmhlRWHPSbzlX_Q": one
    # short piece, no digit), which made this test fail about once in 36 runs. Values that
    # look random, made anew each run so that no earlier test remembered them:
    bearer, cookie, other = (f"{secrets.token_hex(4)}Zq7Kx2Pw{secrets.token_hex(4)}" for _ in "abc")
    shown = redact_headers(
        {
            "Authorization": f"Bearer {bearer}",
            "Set-Cookie": f"sid={cookie}; Path=/; HttpOnly",
            "Cookie": f"a={other}; b=short",
            "X-Trace": "line\r\nInjected: yes\x85",
        }
    )
    assert shown["authorization"] == "Bearer [redacted]"
    assert shown["set-cookie"] == "sid=[redacted]"
    assert shown["cookie"] == "a=[redacted]; b=[redacted]"
    assert shown["x-trace"] == "line\\x0d\\nInjected: yes\\x85"
    body = scrub(f"your bearer {bearer}, cookie {cookie} and {other}")
    assert bearer not in body and cookie not in body and other not in body


def test_signing_key_material_is_never_shown() -> None:
    key: SigningKey = Keyring(published_algs=("RS256",)).trusted("RS256")
    jwk = private_jwk(key)
    for member in ("d", "p", "q"):
        assert jwk[member] not in scrub(f"leaked {jwk[member]} here", limit=100_000)
    assert key.public_jwk["n"] in scrub(f"public {key.public_jwk['n']}", limit=100_000)


def test_control_characters_are_escaped_tab_and_newline_kept() -> None:
    assert inert("a\rb\x85c\x9bd\u202ee\u2066f\x7fg\th\ni") == (
        "a\\x0db\\x85c\\x9bd\\u202ee\\u2066f\\x7fg\th\ni"
    )
    assert one_line("a\nb\tc\rd") == "a\\nb\\tc\\x0dd"
    assert not RAW_CONTROL.findall(scrub(HOSTILE * 3))
    assert _x("ok\r\x85\u202e\x9b\n") == "ok\\x0d\\x85\\u202e\\x9b\n"


def test_the_html_report_holds_no_secret_and_no_raw_control(
    echo_run: tuple[EchoTarget, list[Any]], tmp_path: Path
) -> None:
    pytest.importorskip("nbclient")
    from conformance.report import render_report

    target, results = echo_run
    records = [case_record(r, nodeid=r.case.id, failure=failure_message(r)) for r in results]
    path = tmp_path / "results.json"
    path.write_bytes(encode_results(build_results(records, run=RUN, facts={})))
    paths = render_report(path)
    for out in (paths.notebook, paths.html):
        text = Path(out).read_text(encoding="utf-8")
        assert not [s for s in _secrets_sent(target) if s in text], out
        assert not RAW_CONTROL.findall(text), out


def test_a_huge_signature_is_cut_chunk_by_chunk() -> None:
    segment = "".join(secrets.choice("ABCDEFGHabcdefgh0123456789_-") for _ in range(5000))
    remember_assertion("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0." + segment)
    shown = scrub(f'{{"echo": "{segment}"}}', limit=100_000)
    assert len(shown) < 400 and "signature cut: 1024 chars" in shown
    assert not re.search(r"[\w-]{12,}", shown.replace("signature", ""))


def test_the_terminal_summary_writes_inert_lines() -> None:
    from types import SimpleNamespace

    from conformance import plugin

    bearer = "bearer-" + secrets.token_urlsafe(16)
    remember_secret(bearer)
    written: list[str] = []
    reporter = SimpleNamespace(section=lambda *a, **k: None, write_line=written.append)
    config = SimpleNamespace(stash=pytest.Stash())
    run = SimpleNamespace(summary_lines=[f"INCOMPLETE: worker said {bearer}\rOK\n\x9b\u202e"])
    config.stash[plugin._RUN] = run
    plugin.pytest_terminal_summary(reporter, 0, config)  # type: ignore[arg-type]
    assert written == [
        f"INCOMPLETE: worker said [redacted: {len(bearer)} chars]\\x0dOK\\n\\x9b\\u202e"
    ]
