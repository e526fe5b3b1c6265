"""HTML tables for the objects a reviewer meets in a notebook (``_repr_html_``).

A case, an exchange, a case's result and a finding each show as a small table when a
notebook cell ends with one. Every value goes through :func:`~conformance._redact.scrub`
(remembered secrets redacted, JWS signatures cut, control characters made visible,
bounded) and is then HTML-escaped: an exchange holds what the target sent, and a hostile
body must show as text, never as markup. The raw assertion and the issued token are
shown decoded with their signature cut (:func:`~conformance._redact.decode_token`),
never whole.

The classes call these functions from their ``_repr_html_``; :func:`install` (public as
``conformance.report.install_html_tables``) registers them with IPython for classes
that have none (a :class:`~conformance.findings.Finding`).
"""

from __future__ import annotations

import html
import importlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._redact import decode_token, redact_headers, scrub

__all__ = ["case_html", "exchange_html", "finding_html", "install", "result_html"]

#: Bound of one value in a table; bodies get more room.
_SHORT = 300
_BODY = 2000


def _text(value: Any, *, limit: int = _SHORT) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    else:
        text = str(value)
    return html.escape(scrub(text, limit=limit), quote=True)


def _pre(value: Any, *, limit: int = _BODY) -> str:
    return f'<pre style="white-space: pre-wrap; margin: 0">{_text(value, limit=limit)}</pre>'


def _table(caption: str, rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(
        f'<tr><th style="text-align: left; vertical-align: top">{html.escape(k)}</th>'
        f'<td style="text-align: left">{v}</td></tr>'
        for k, v in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption>{body}</table>"


def _headers(headers: Mapping[str, str] | None) -> str:
    if not headers:
        return ""
    lines = []
    for name, value in headers.items():
        if "[redacted" in value:
            # Recorded already (an Exchange keeps redacted headers): redact_headers would
            # remember "Bearer [redacted]" itself as a secret and blank it everywhere.
            lines.append(f"{name}: {value}")
        else:
            lines += [f"{k}: {v}" for k, v in redact_headers({name: value}).items()]
    return _pre("\n".join(lines))


def case_html(case: Any) -> str:
    """A catalogued case: id, title, category, level, severity, expectation, what a
    correct endpoint does, why it matters, references."""
    return _table(
        f"Case {scrub(str(case.id), limit=_SHORT)}",
        [
            ("id", f"<code>{_text(case.id)}</code>"),
            ("title", _text(case.title)),
            ("category", _text(case.category)),
            ("level", _text(case.level)),
            ("severity", _text(case.severity)),
            ("expect", _text(case.expect)),
            ("a correct endpoint", _text(case.correct, limit=_BODY)),
            ("why it matters", _text(case.rationale, limit=_BODY)),
            ("references", "<br>".join(_text(r) for r in case.references) or "none"),
        ],
    )


def exchange_html(exchange: Any) -> str:
    """One request and its answer: status, latency, headers (credentials redacted),
    bodies (bounded, signatures cut), the assertion and the issued token decoded."""
    rows = [
        ("label", _text(exchange.label)),
        ("request", f"<code>{_text(exchange.method)} {_text(exchange.url)}</code>"),
        ("request headers", _headers(exchange.request_headers)),
        ("request body", _pre(exchange.request_body)),
        ("assertion (decoded)", _pre(decode_token(exchange.assertion))),
        ("status", _text("no answer" if exchange.status is None else exchange.status)),
        ("latency", _text(f"{exchange.latency_ms:.1f} ms")),
        ("response headers", _headers(exchange.response_headers)),
        ("response body", _pre(exchange.response_body)),
    ]
    if exchange.error:
        rows.append(("transport error", _pre(exchange.error)))
    if exchange.retries:
        rows.append(("transport retries", _text(exchange.retries)))
    if exchange.issued_token:
        rows.append(("issued token", _pre(decode_token(exchange.issued_token, secret=True))))
    return _table(f"Exchange {scrub(str(exchange.label), limit=80)}", rows)


def result_html(result: Any) -> str:
    """A case's result: its verdict, outcome and message, then each exchange."""
    rows = [
        ("case", f"<code>{_text(result.case.id)}</code> {_text(result.case.title)}"),
        ("verdict", f"<strong>{_text(result.verdict)}</strong>"),
        ("outcome", _text(result.outcome)),
        ("message", _pre(result.message or "(passed)")),
        ("reproduce", _pre(result.reproduce)),
        ("duration", _text(f"{result.duration_ms:.0f} ms")),
    ]
    rows += [(f"exchange {i}", exchange_html(e)) for i, e in enumerate(result.exchanges, 1)]
    return _table(f"Result of {scrub(str(result.case.id), limit=_SHORT)}", rows)


def finding_html(finding: Any) -> str:
    """A finding: title, severity/level/verdict, impact, remediation, CWE/ASVS/spec,
    references, and its cases."""
    return _table(
        f"Finding {scrub(str(finding.family), limit=_SHORT)}",
        [
            ("title", _text(finding.title)),
            ("severity", _text(f"{finding.severity} · {finding.level} · {finding.verdict}")),
            ("impact", _text(finding.impact, limit=_BODY)),
            ("remediation", _text(finding.remediation, limit=_BODY)),
            ("CWE", _text(", ".join(finding.cwe))),
            ("ASVS 5.0", _text(", ".join(finding.asvs))),
            ("specification", _text("; ".join(finding.spec), limit=_BODY)),
            ("references", "<br>".join(_text(r) for r in finding.references) or "none"),
            ("cases", "<br>".join(f"<code>{_text(c)}</code>" for c in finding.case_ids)),
        ],
    )


def install(ipython: Any = None) -> None:
    """Show findings as HTML tables in an IPython kernel (the other classes carry their
    own ``_repr_html_``). Does nothing outside IPython."""
    if ipython is None:
        try:
            # lazy: IPython is there only inside a kernel (untyped: used through Any)
            ipython = importlib.import_module("IPython").get_ipython()
        except ImportError:
            return
    if ipython is None:
        return
    # By name: this module imports nothing of the catalog (Case imports it).
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type_by_name("conformance.findings", "Finding", finding_html)
