"""The HTML tables a notebook shows for cases, exchanges, results and findings: every
value escaped, bounded, and no secret whole (conformance/_reprs.py)."""

from __future__ import annotations

import re
from dataclasses import replace

from factories import HOSTILE_BODY, make_results

from conformance import _reprs
from conformance._engine import CaseResult
from conformance._redact import scrub
from conformance.catalog import BY_ID
from conformance.findings import findings
from conformance.targets.base import Exchange

_SIGNATURE = "s" * 86
_TOKEN = f"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.{_SIGNATURE}"


def _exchange(body: str = HOSTILE_BODY) -> Exchange:
    return Exchange(
        label="attempt<b>",
        method="POST",
        url="http://127.0.0.1:1/verify?<script>",
        request_headers={"authorization": f"Bearer {_TOKEN}", "x-evil": HOSTILE_BODY},
        request_body=f'{{"jwt": "{_TOKEN}"}}',
        status=200,
        response_headers={"x-evil<script>": HOSTILE_BODY},
        response_body=body,
        latency_ms=1.5,
        assertion=_TOKEN,
        issued_token=_TOKEN,
        error=HOSTILE_BODY,
    )


def _no_live_markup(page: str) -> None:
    assert "<script" not in page.lower()
    assert not re.search(r"<img\b", page, re.IGNORECASE)
    assert "<style" not in page.lower() and "</details>" not in page
    assert "\x1b" not in page and "\u202e" not in page


def test_a_hostile_exchange_shows_as_escaped_text() -> None:
    page = _exchange()._repr_html_()
    _no_live_markup(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "attempt&lt;b&gt;" in page and "verify?&lt;script&gt;" in page
    assert "\\x1b[31mred" in page  # ANSI made visible


def test_an_exchange_never_shows_a_token_whole() -> None:
    page = _exchange(body=f'{{"elevatedAccessToken": "{_TOKEN}"}}')._repr_html_()
    assert _SIGNATURE not in page
    assert "Bearer [redacted]" in page, re.findall(r"authorization[^<]*", page)
    assert "[cut: 86 chars]" in page  # the assertion decoded, its signature cut


def test_showing_a_recorded_exchange_remembers_no_placeholder_as_a_secret() -> None:
    recorded = replace(_exchange(), request_headers={"authorization": "Bearer [redacted]"})
    assert "authorization: Bearer [redacted]" in recorded._repr_html_()
    # shown twice: the first showing must not have made the placeholder a "secret"
    assert "authorization: Bearer [redacted]" in recorded._repr_html_()
    assert scrub("Bearer [redacted]") == "Bearer [redacted]"


def test_an_overlong_body_is_bounded() -> None:
    page = _exchange(body="A" * 1_000_000)._repr_html_()
    assert len(page) < 20_000 and "truncated" in page


def test_a_case_and_its_result_show_as_tables() -> None:
    case = BY_ID["time.exp.past_5min"]
    page = case._repr_html_()
    assert page.startswith("<table>") and "<code>time.exp.past_5min</code>" in page
    result = CaseResult(
        case=case,
        verdict="fail",
        outcome="accepted",
        message=HOSTILE_BODY,
        exchanges=(_exchange(),),
        duration_ms=3.0,
    )
    page = result._repr_html_()
    _no_live_markup(page)
    assert "<strong>fail</strong>" in page and page.count("<caption>Exchange") == 1


def test_a_finding_shows_as_a_table() -> None:
    data = make_results(failures=2, critical=1)
    failing = next(c for c in data["cases"] if c["verdict"] == "fail")
    failing["id"] = "x<script>alert(5)</script>"
    found = findings(data)
    page = "".join(_reprs.finding_html(f) for f in found)
    _no_live_markup(page)
    assert "x&lt;script&gt;alert(5)&lt;/script&gt;" in page
    assert all(f"<caption>Finding {f.family}</caption>" in page for f in found)


class _Formatter:
    def __init__(self) -> None:
        self.registered: list[tuple[str, str, object]] = []

    def for_type_by_name(self, module: str, name: str, func: object) -> None:
        self.registered.append((module, name, func))


class _IPython:
    def __init__(self) -> None:
        self.display_formatter = type("F", (), {"formatters": {"text/html": _Formatter()}})()


def test_install_registers_the_finding_table_with_ipython() -> None:
    ip = _IPython()
    _reprs.install(ip)
    formatter = ip.display_formatter.formatters["text/html"]
    assert formatter.registered == [("conformance.findings", "Finding", _reprs.finding_html)]
    _reprs.install()  # outside a kernel: does nothing, raises nothing
