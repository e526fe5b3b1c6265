"""The report's sections as HTML strings, built from a results document.

The notebook calls one function per section and displays the string. Each function reads
what results.json holds and lays it out; none of them judges, counts or infers anything
the results do not say. Every value from the results goes through :func:`esc` (bounded,
control characters made visible, HTML-escaped): bodies may hold markup, ANSI escapes or
megabytes of text. The markup uses only the tags our HTML sanitiser allows (see
``render.ALLOWED_TAGS``): no ``style`` attributes, no images, no scripts.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._waivers import waiver_notes
from ._text import BODY_LIMIT, SHORT_LIMIT, esc, plain, slug
from ._vocab import VERDICT_ORDER, categories, severity_rank
from .diff import ResultsDiff

__all__ = [
    "attention",
    "case_table",
    "changes",
    "facts",
    "failures",
    "heading",
    "headline",
    "verdict_line",
    "waiver_review",
]

_VERDICT_WORDS = {
    "conformant": "Conformant",
    "conformant_with_gaps": "Conformant with gaps",
    "not_conformant": "Not conformant",
    "error": "Error",
    "incomplete": "Incomplete",
}


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    # The results are data from disk: a missing or mistyped field shows as blank, it
    # never breaks the whole report.
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def badge(kind: str, value: Any) -> str:
    """A small coloured label; ``kind`` is ``v`` (verdict), ``s`` (severity) or ``l``."""
    return f'<span class="cr-badge cr-{kind}-{slug(value)}">{esc(value, limit=40)}</span>'


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def verdict_line(results: Mapping[str, Any]) -> str:
    """The one-line verdict as plain text, e.g. ``Not conformant: 3 failures, of which 1
    critical``. Built from ``summary.verdict``, ``counts`` and ``critical_failures``."""
    summary = _get(results, "summary", {})
    verdict = _get(summary, "verdict")
    counts = _get(summary, "counts", {})
    fails = _int(_get(counts, "fail"))
    errors = _int(_get(counts, "error"))
    critical = _int(_get(summary, "critical_failures"))
    word = _VERDICT_WORDS.get(verdict, f"Unknown verdict {verdict!r}")
    parts = [_plural(fails, "failure") + (f", of which {critical} critical" if critical else "")]
    if errors:
        parts.append(_plural(errors, "error"))
    coverage = _get(summary, "coverage")
    if isinstance(coverage, Mapping):
        selected, not_run = _int(_get(coverage, "selected")), _int(_get(coverage, "not_run"))
        if verdict == "incomplete" or not_run:
            parts.insert(0, f"{not_run} of {selected} selected cases did not run")
        unproved = _int(_get(coverage, "critical_unproved"))
        if unproved:
            critical = _int(_get(coverage, "critical"))
            parts.append(f"{unproved} of {critical} critical cases did not run")
    return f"{word}: {'; '.join(parts)}"


def _coverage_cell(coverage: Any) -> str:
    if not isinstance(coverage, Mapping):
        return "not recorded (results of schema version 1)"
    skipped = ", ".join(
        f"{esc(n)} {esc(s)}"
        for s, n in (_get(coverage, "skipped_by_severity", {}) or {}).items()
        if _int(n)
    )
    return (
        f"{esc(_get(coverage, 'ran'))} ran, {esc(_get(coverage, 'skipped'))} skipped"
        + (f" ({skipped})" if skipped else "")
        + f", {esc(_get(coverage, 'not_run'))} not run — of {esc(_get(coverage, 'selected'))}"
        f" selected; {esc(_get(coverage, 'catalog'))} in the catalog of this profile"
    )


def _selection_cell(selection: Any) -> str:
    if not isinstance(selection, Mapping):
        return "not recorded"
    parts = [
        f"{name} {', '.join(str(v) for v in _list(_get(selection, key)))}"
        for name, key in (("categories", "categories"), ("ids", "ids"), ("modules", "cases"))
        if _list(_get(selection, key))
    ]
    if _get(selection, "level"):
        parts.append(f"level {_get(selection, 'level')}")
    if _int(_get(selection, "deselected")):
        parts.append(f"{_get(selection, 'deselected')} left out by pytest -k/-m")
    return esc("; ".join(parts) or "the whole catalog")


def _coverage_notes(coverage: Any) -> str:
    """Under the banner: why the run stopped, and the gaps (nothing for a full run)."""
    if not isinstance(coverage, Mapping):
        return ""
    notes = []
    if _get(coverage, "stopped"):
        notes.append(
            f"Stopped early: {esc(_get(coverage, 'stopped'), limit=300)}. The cases that did "
            "not run prove nothing either way."
        )
    notes += [f"Gap: {esc(g, limit=300)}" for g in _list(_get(coverage, "gaps"))]
    if not notes:
        return ""
    return (
        '<ul class="cr-gaps" id="coverage-notes">'
        + "".join(f"<li>{n}</li>" for n in notes)
        + "</ul>"
    )


def _listener_note(results: Mapping[str, Any]) -> str:
    """Under the banner: the out-of-band cases did not run (the ``oob_listener`` fact,
    ``conformance._oob``), because nothing the target could reach was listening."""
    fact = _get(_get(results, "facts", {}), "oob_listener", {})
    if not isinstance(fact, Mapping) or _get(fact, "value") != "unreachable":
        return ""
    return (
        '<ul class="cr-gaps" id="oob-listener"><li>Out-of-band checks did not run: '
        f"{esc(_get(fact, 'detail'), limit=400)}. A target that fetches URLs from tokens "
        "(jku, x5u, kid, claims) would not have been noticed; see "
        "docs/configuration.md#listener.</li></ul>"
    )


def headline(results: Mapping[str, Any]) -> str:
    """Section 1: the verdict line, the target and the run's facts (when, how long,
    versions, seed), and the verdict counts."""
    run = _get(results, "run", {})
    summary = _get(results, "summary", {})
    target = _get(run, "target", {})
    verdict = _get(summary, "verdict", "unknown")
    counts = _get(summary, "counts", {})
    count_badges = " ".join(
        f"{badge('v', v)}&nbsp;{esc(_get(counts, v, 0))}" for v in VERDICT_ORDER if v in counts
    )
    flaws = ", ".join(str(f) for f in _list(_get(target, "flaws"))) or "none"
    rows = [
        ("Target", f"<code>{esc(_get(target, 'base_url'))}</code>"),
        (
            "Profile",
            f"{esc(_get(target, 'profile'))}"
            + (" (embedded emulator)" if _get(target, "embedded") is True else ""),
        ),
        ("Environment", esc(_get(target, "environment_id"))),
        ("Issuer", esc(_get(target, "issuer"))),
        ("Audience", esc(_get(target, "audience") or "none")),
        ("Emulator flaws", esc(flaws)),
        (
            "When",
            f"{esc(_get(run, 'started_at'))} → {esc(_get(run, 'finished_at'))}"
            f" ({esc(_get(run, 'duration_s'))} s)",
        ),
        (
            "Versions",
            f"suite {esc(_get(run, 'suite_version'))}, catalog {esc(_get(run, 'catalog_version'))}",
        ),
        (
            "Seed",
            ("none recorded" if _get(run, "seed") is None else esc(_get(run, "seed")))
            + (" · strict" if _get(run, "strict") is True else ""),
        ),
        ("Run id", f"<code>{esc(_get(run, 'id'))}</code>"),
        ("Python", f"{esc(_get(run, 'python'))} on {esc(_get(run, 'platform'))}"),
        ("Selection", _selection_cell(_get(run, "selection"))),
        ("Coverage", _coverage_cell(_get(summary, "coverage"))),
        ("Cases", count_badges),
        (
            "Exchanges",
            f"{esc(_get(summary, 'exchanges'))} ({esc(_get(summary, 'retries', 0))} transport"
            " retries)",
        ),
    ]
    table = "".join(f'<tr><td class="cr-k">{k}</td><td>{v}</td></tr>' for k, v in rows)
    return (
        f'<div class="cr-head"><h1>Exchange conformance report</h1>'
        f'<div class="cr-verdict cr-verdict-{slug(verdict)}" id="verdict">'
        f"{esc(verdict_line(results))}</div>"
        f"{_coverage_notes(_get(summary, 'coverage'))}"
        f"{_listener_note(results)}"
        f'<table class="cr-meta">{table}</table></div>'
    )


def _case_anchor(case: Mapping[str, Any]) -> str:
    return f"case-{slug(_get(case, 'id'))}"


def _pre(value: Any, *, limit: int = BODY_LIMIT) -> str:
    return f"<pre>{esc(value, limit=limit)}</pre>"


def _headers_text(headers: Any) -> str:
    if not isinstance(headers, Mapping):
        return "" if headers is None else str(headers)
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def _token(label: str, token: Any) -> str:
    if not isinstance(token, Mapping):
        return ""
    parts = [f'<div class="cr-sub">{label}</div>']
    if "header" in token or "claims" in token:
        parts.append(_pre(_get(token, "header", {})))
        parts.append(_pre(_get(token, "claims", {})))
        if "signature" in token:
            parts.append(f'<div class="cr-small">signature: {esc(_get(token, "signature"))}</div>')
    if _get(token, "raw_preview"):
        parts.append('<div class="cr-small">does not decode; first characters:</div>')
        parts.append(_pre(_get(token, "raw_preview")))
    return "".join(parts)


def _exchange(index: int, exchange: Mapping[str, Any]) -> str:
    status = _get(exchange, "status")
    latency = _get(exchange, "latency_ms")
    retries = _int(_get(exchange, "retries"))
    head = (
        f"#{index} {esc(_get(exchange, 'label'))} · {esc(_get(exchange, 'method'))} → "
        f"{esc(status if status is not None else 'no answer')}"
        + (f" · {esc(latency)} ms" if latency is not None else "")
        + (f" · {retries} transport retries" if retries else "")
    )
    # Each part is bounded on its own so that a huge body cannot push the others out.
    request = "\n".join(
        [
            plain(f"{_get(exchange, 'method', '')} {_get(exchange, 'url', '')}", limit=SHORT_LIMIT),
            plain(_headers_text(_get(exchange, "request_headers"))),
            "",
            plain(_get(exchange, "request_body") or ""),
        ]
    )
    response = "\n".join(
        [
            plain(status if status is not None else "(no response)", limit=SHORT_LIMIT),
            plain(_headers_text(_get(exchange, "response_headers"))),
            "",
            plain(_get(exchange, "response_body") or ""),
        ]
    )
    parts = [
        f'<div class="cr-ex"><div class="cr-ex-head">{head}</div>',
        _token("Assertion sent (decoded)", _get(exchange, "assertion")),
        '<div class="cr-sub">Request</div>',
        f"<pre>{html.escape(request)}</pre>",
        '<div class="cr-sub">Response</div>',
        f"<pre>{html.escape(response)}</pre>",
    ]
    if _get(exchange, "error"):
        parts += ['<div class="cr-sub">Transport error</div>', _pre(_get(exchange, "error"))]
    parts.append(_token("Token issued (decoded)", _get(exchange, "issued")))
    parts.append("</div>")
    return "".join(parts)


def _case_block(case: Mapping[str, Any]) -> str:
    references = ", ".join(str(r) for r in _list(_get(case, "references")))
    exchanges = [e for e in _list(_get(case, "exchanges")) if isinstance(e, Mapping)]
    rows = [
        ("A correct endpoint", esc(_get(case, "correct"), limit=BODY_LIMIT)),
        (
            "This one",
            f"{badge('o', _get(case, 'outcome', 'none'))} {_pre(_get(case, 'message'))}",
        ),
        ("Why it matters", esc(_get(case, "rationale"), limit=BODY_LIMIT)),
        ("References", esc(references or "none", limit=BODY_LIMIT)),
        (
            "Reproduce",
            _pre(_get(case, "reproduce") or "(no reproduction line recorded)")
            + f"<code>{esc(_get(case, 'rerun') or _get(case, 'nodeid'))}</code>",
        ),
    ]
    table = "".join(f'<tr><td class="cr-k">{k}</td><td>{v}</td></tr>' for k, v in rows)
    evidence = (
        f"<details><summary>Evidence: {_plural(len(exchanges), 'exchange')}</summary>"
        + "".join(_exchange(i, e) for i, e in enumerate(exchanges, start=1))
        + "</details>"
        if exchanges
        else '<div class="cr-small">No exchange recorded.</div>'
    )
    return (
        f'<div class="cr-case" id="{_case_anchor(case)}"><div class="cr-case-head">'
        f"{badge('s', _get(case, 'severity'))} {badge('l', _get(case, 'level'))} "
        f"<code>{esc(_get(case, 'id'))}</code> {esc(_get(case, 'title'))}</div>"
        f'<table class="cr-kv">{table}</table>{evidence}</div>'
    )


def _by_verdict(results: Mapping[str, Any], verdict: str) -> list[Mapping[str, Any]]:
    cases = [c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)]
    chosen = [c for c in cases if _get(c, "verdict") == verdict]
    # Most severe first; within a severity the results' own order (catalog order).
    return sorted(chosen, key=lambda c: severity_rank(_get(c, "severity")))


def heading(title: str, *, anchor: str) -> str:
    """A section heading (``title`` and ``anchor`` are escaped)."""
    return f'<h2 id="{slug(anchor)}">{esc(title)}</h2>'


def _section(title: str, body: str, *, anchor: str) -> str:
    return f'<div class="cr-section" id="{anchor}"><h2>{title}</h2>{body}</div>'


def failures(results: Mapping[str, Any]) -> str:
    """Section 3: every ``fail`` case, most severe first, with its evidence."""
    chosen = _by_verdict(results, "fail")
    if not chosen:
        return _section("Failures", '<p class="cr-ok">No case failed.</p>', anchor="failures")
    return _section(
        f"Failures ({len(chosen)})", "".join(_case_block(c) for c in chosen), anchor="failures"
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "cr-table") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _id_title(case: Mapping[str, Any]) -> str:
    return f"<code>{esc(_get(case, 'id'))}</code><br>{esc(_get(case, 'title'))}"


def attention(results: Mapping[str, Any]) -> str:
    """Section 4: warnings, waived cases (owner, expiry, state), errors, and skips with
    their reasons. Warnings and errors carry their evidence like failures do."""
    parts: list[str] = []
    warns = _by_verdict(results, "warn")
    if warns:
        parts.append(
            f"<h3>Warnings ({len(warns)})</h3>"
            '<p class="cr-small">Failed <em>should</em> cases (hardening); they fail the run '
            "only with <code>--conformance-strict</code>.</p>"
            + "".join(_case_block(c) for c in warns)
        )
    waived = _by_verdict(results, "waived")
    if waived:
        rows = []
        for case in waived:
            waiver = _get(case, "waiver", {})
            rows.append(
                [
                    _id_title(case),
                    badge("s", _get(case, "severity")),
                    esc(_get(waiver, "owner")),
                    esc(_get(waiver, "expires")),
                    badge("w", _get(waiver, "state", "unknown")),
                    esc(_get(waiver, "reason"), limit=BODY_LIMIT),
                ]
            )
        parts.append(
            f"<h3>Waived ({len(waived)})</h3>"
            + _table(["Case", "Severity", "Owner", "Expires", "State", "Reason"], rows)
        )
    errors = _by_verdict(results, "error")
    if errors:
        parts.append(
            f"<h3>Errors ({len(errors)})</h3>"
            '<p class="cr-small">The target misbehaved (5xx, timeout, unparsable answer): '
            "these cases have no verdict.</p>" + "".join(_case_block(c) for c in errors)
        )
    skips = _by_verdict(results, "skip")
    if skips:
        rows = [[_id_title(c), esc(_get(c, "message"), limit=BODY_LIMIT)] for c in skips]
        parts.append(f"<h3>Skipped ({len(skips)})</h3>" + _table(["Case", "Reason"], rows))
    if not parts:
        parts.append('<p class="cr-ok">No warnings, waivers, errors or skips.</p>')
    return _section("Warnings, waivers, errors and skips", "".join(parts), anchor="attention")


def _case_list(ids: Sequence[str], *, shown: int = 10) -> str:
    more = f" (+{len(ids) - shown} more)" if len(ids) > shown else ""
    return ", ".join(f"<code>{esc(c)}</code>" for c in ids[:shown]) + more or "—"


def waiver_review(results: Mapping[str, Any]) -> str:
    """The waivers that need their owner: expired (with the date and owner; their cases
    fail because the waiver expired), stale (their cases pass now: remove them), unused
    (they match no case: a misspelt id or glob, or a renamed case). Empty when none."""
    cases = [c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)]
    recorded = [
        (str(_get(c, "id")), w if isinstance(w := _get(c, "waiver"), Mapping) else None)
        for c in cases
    ]
    unused = [str(w) for w in _list(_get(_get(results, "run", {}), "unused_waivers"))]
    notes = waiver_notes(recorded, unused)
    if not notes:
        return ""
    todo = {
        "expired": "its cases fail because it expired: renew it or fix the target",
        "stale": "its cases pass now: remove the waiver",
        "unused": "matches no case of this run: a misspelt id or glob, or a renamed case?",
    }
    rows = [
        [
            badge("w", note.state),
            f"<code>{esc(note.waiver)}</code>",
            esc(note.owner) or "—",
            esc(note.expires) or "—",
            _case_list(note.cases),
            esc(todo[note.state]),
        ]
        for note in notes
    ]
    body = _table(["State", "Waiver", "Owner", "Expires", "Cases", "What to do"], rows)
    return _section(f"Waivers to review ({len(notes)})", body, anchor="waiver-review")


def case_table(results: Mapping[str, Any]) -> str:
    """Section 5: every case, grouped by category in the results' order; a category with
    a failure, warning or error is open, the others folded."""
    by_category = _get(_get(results, "summary", {}), "by_category", {})
    cases = [c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)]
    groups: dict[str, list[Mapping[str, Any]]] = {name: [] for name in categories(results)}
    for case in cases:
        groups.setdefault(str(_get(case, "category")), []).append(case)
    blocks = []
    for name, members in groups.items():
        counts = _get(by_category, name, {})
        tally = " ".join(
            f"{badge('v', v)}&nbsp;{esc(_get(counts, v))}"
            for v in VERDICT_ORDER
            if _int(_get(counts, v))
        )
        rows = [
            [
                f'<a href="#{_case_anchor(c)}"><code>{esc(_get(c, "id"))}</code></a>'
                if _get(c, "verdict") in ("fail", "warn", "error")
                else f"<code>{esc(_get(c, 'id'))}</code>",
                esc(_get(c, "title")),
                esc(_get(c, "level")),
                badge("s", _get(c, "severity")),
                esc(_get(c, "expect")),
                badge("v", _get(c, "verdict")),
                esc(_get(c, "outcome")),
                esc(_get(c, "duration_ms")),
            ]
            for c in members
        ]
        is_open = any(_int(_get(counts, v)) for v in ("fail", "warn", "error"))
        blocks.append(
            f"<details{' open' if is_open else ''}><summary><strong>{esc(name)}</strong> "
            f"{tally}</summary>"
            + _table(
                ["Case", "Title", "Level", "Severity", "Expect", "Verdict", "Outcome", "ms"],
                rows,
            )
            + "</details>"
        )
    return _section("All cases", "".join(blocks) or "<p>No cases.</p>", anchor="cases")


def facts(results: Mapping[str, Any]) -> str:
    """Section 5b: the measured ``facts`` about the target, as recorded."""
    measured = _get(results, "facts", {})
    if not isinstance(measured, Mapping) or not measured:
        return _section("Target profile", "<p>No facts were measured.</p>", anchor="facts")
    rows = []
    for name, fact in measured.items():
        value = _get(fact, "value") if isinstance(fact, Mapping) else fact
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        rows.append(
            [
                f"<code>{esc(name)}</code>",
                esc(value, limit=BODY_LIMIT),
                esc(_get(fact, "detail"), limit=BODY_LIMIT),
            ]
        )
    return _section(
        "Target profile", _table(["Fact", "Value", "How it was measured"], rows), anchor="facts"
    )


def changes(diff: ResultsDiff) -> str:
    """Section 6: what changed since the baseline run (see :mod:`conformance.report.diff`)."""
    blocks = []
    groups = (
        ("Regressions", diff.regressions),
        ("Lost coverage (ran before, skipped or missing now)", diff.lost_coverage),
        ("Fixed", diff.fixed),
        ("Other verdict changes", diff.other_changes),
        ("Added cases", diff.added),
        ("Removed cases", diff.removed),
    )
    for title, items in groups:
        if not items:
            continue
        rows = [
            [
                f"<code>{esc(ch.case_id)}</code><br>{esc(ch.title)}",
                badge("s", ch.severity),
                badge("v", ch.old) if ch.old else "—",
                badge("v", ch.new) if ch.new else "—",
            ]
            for ch in items
        ]
        blocks.append(
            f"<h3>{title} ({len(items)})</h3>"
            + _table(["Case", "Severity", "Baseline", "Now"], rows)
        )
    intro = (
        f'<p class="cr-small">Baseline run <code>{esc(diff.old_run_id)}</code> '
        f"({esc(diff.old_started_at)}).</p>"
    )
    notes = "".join(f"<li>Lost coverage: {esc(n, limit=300)}</li>" for n in diff.coverage_notes)
    if notes:
        blocks.insert(0, f'<ul class="cr-gaps">{notes}</ul>')
    body = "".join(blocks) or '<p class="cr-ok">No verdict changed.</p>'
    return _section("Changes since baseline", intro + body, anchor="changes")
