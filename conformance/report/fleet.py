"""The combined report of several targets: ``combined.json`` (written by
``conformance run --config A --config B`` or ``conformance merge``) and each target's own
results.json, laid out as one page — the target x category matrix first, then each
target's verdict, findings (one card per weakness), waivers and skips, and cases.

Like :mod:`.views`, every function lays out what the files hold and computes nothing
else (the matrix is in ``combined.json``); every value goes through ``esc``.
:func:`render_combined` executes the combined template notebook and exports the HTML
with the single-target report's machinery (:mod:`.render`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._combined import COMBINED_SCHEMA
from .._exceptions import ConfigError
from ..findings import findings
from ._load import load_results
from ._text import esc, slug
from ._vocab import VERDICT_ORDER
from .views import attention, badge, case_table, finding_cards, verdict_line

__all__ = [
    "COMBINED_TEMPLATE",
    "Member",
    "load_combined",
    "matrix",
    "overview",
    "render_combined",
    "target_section",
]

COMBINED_TEMPLATE = Path(__file__).resolve().parent / "combined.ipynb"
_FLEET_WORDS = {
    "conformant": "Every target conformant",
    "conformant_with_gaps": "Conformant with gaps",
    "not_conformant": "Not conformant",
    "error": "Error",
    "incomplete": "Incomplete",
}


@dataclass(frozen=True, slots=True)
class Member:
    """One target of the combined report: its entry in ``combined.json`` and its
    validated results (``None`` when it could not run)."""

    entry: Mapping[str, Any]
    results: Mapping[str, Any] | None


def load_combined(path: str | Path) -> tuple[dict[str, Any], list[Member]]:
    """Read ``combined.json`` and every target's results.json it names (paths relative
    to it). Raises :class:`~conformance.ConfigError` (one line) for a missing or invalid
    file."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such combined results file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a combined results file ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != COMBINED_SCHEMA:
        raise ConfigError(f"{path}: not a combined results file (no schema {COMBINED_SCHEMA!r})")
    members = []
    for entry in data.get("targets") or []:
        where = entry.get("results") if isinstance(entry, Mapping) else None
        results = load_results(path.parent / where) if isinstance(where, str) else None
        members.append(Member(entry=entry, results=results))
    return data, members


def _anchor(label: Any) -> str:
    return f"target-{slug(label)}"


def overview(combined: Mapping[str, Any]) -> str:
    """The fleet's verdict and one line per target (verdict, target, counts)."""
    targets = [t for t in combined.get("targets") or [] if isinstance(t, Mapping)]
    verdict = str(combined.get("verdict"))
    word = _FLEET_WORDS.get(verdict, f"Unknown verdict {verdict!r}")
    worst = [t for t in targets if t.get("verdict") not in ("conformant", "conformant_with_gaps")]
    line = f"{word}: {len(targets)} targets, {len(worst)} not conformant, erred or not complete"
    rows = []
    for t in targets:
        counts = t.get("counts") or {}
        count_badges = " ".join(
            f"{badge('v', v)}&nbsp;{esc(counts.get(v, 0))}" for v in VERDICT_ORDER if counts.get(v)
        )
        where = t.get("target") or {}
        url = where.get("base_url") or where.get("token_url") or ""
        rows.append(
            f'<tr><td><a href="#{_anchor(t.get("label"))}">{esc(t.get("label"))}</a></td>'
            f"<td>{esc(str(t.get('verdict')).replace('_', ' '))}</td>"
            f"<td><code>{esc(url)}</code></td>"
            f"<td>{count_badges or esc(t.get('error'))}</td></tr>"
        )
    return (
        '<div class="cr-head"><h1>Exchange conformance report: several targets</h1>'
        f'<div class="cr-verdict cr-verdict-{slug(verdict)}" id="verdict">{esc(line)}</div>'
        '<table class="cr-table"><thead><tr><th>target</th><th>verdict</th><th>endpoint</th>'
        f"<th>cases</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def matrix(combined: Mapping[str, Any]) -> str:
    """The target x category matrix: each cell the most telling verdict of the category
    for that target, and the number of cases behind it."""
    table = combined.get("matrix") or {}
    categories = [str(c) for c in table.get("categories") or []]
    head = "".join(f"<th>{esc(c)}</th>" for c in ["target", *categories])
    body = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or {}
        tds = [f'<td><a href="#{_anchor(row.get("label"))}">{esc(row.get("label"))}</a></td>']
        for category in categories:
            cell = cells.get(category) or {}
            shown = cell.get("verdict")
            counts = cell.get("counts") or {}
            if shown is None:
                tds.append("<td>–</td>")
                continue
            total = sum(int(n) for n in counts.values())
            title = ", ".join(f"{counts[v]} {v}" for v in VERDICT_ORDER if counts.get(v))
            tds.append(
                f'<td title="{esc(title)}">{badge("v", shown)} {esc(counts.get(shown, 0))}'
                f"/{esc(total)}</td>"
            )
        body.append(f"<tr>{''.join(tds)}</tr>")
    missing = [
        t.get("label")
        for t in combined.get("targets") or []
        if isinstance(t, Mapping) and t.get("results") is None
    ]
    note = (
        f"<p>Could not run (no results): {esc(', '.join(str(m) for m in missing))}</p>"
        if missing
        else ""
    )
    return (
        '<h2 id="matrix">Targets x categories</h2><p>Each cell: the most telling verdict '
        "of the category (fail, error, warn, waived, pass, skip) and how many of its cases "
        "had it.</p>"
        f'<table class="cr-table"><thead><tr>{head}</tr></thead><tbody>'
        f"{''.join(body)}</tbody></table>{note}"
    )


def target_section(member: Member) -> str:
    """One target: its verdict line and endpoint, its findings (one card per weakness,
    its cases and their evidence folded in), its waivers and skips, and every case
    (folded)."""
    entry = member.entry
    label = entry.get("label")
    head = f'<h2 id="{_anchor(label)}">Target {esc(label)}</h2>'
    if member.results is None:
        return f"{head}<p>Could not run: {esc(entry.get('error'))}</p>"
    results = member.results
    where = entry.get("target") or {}
    url = where.get("base_url") or where.get("token_url") or ""
    verdict = (results.get("summary") or {}).get("verdict")
    return (
        f"{head}"
        f'<div class="cr-verdict cr-verdict-{slug(verdict)}">{esc(verdict_line(results))}</div>'
        f"<p>Endpoint <code>{esc(url)}</code> · profile {esc(where.get('profile'))} · run "
        f"<code>{esc(entry.get('run_id'))}</code> · results <code>{esc(entry.get('results'))}"
        "</code></p>"
        f"{finding_cards(results, findings(results))}"
        f"{attention(results, findings_shown=True)}"
        f"<details><summary>Every case of {esc(label)}</summary>{case_table(results)}</details>"
    )


def render_combined(combined_path: str | Path, *, timeout_s: int = 120) -> Path:
    """Execute the combined template on ``combined_path`` and write ``report.ipynb`` and
    ``report.html`` beside it; return the HTML's path. Raises
    :class:`~conformance.ConfigError` for invalid inputs (checked before any kernel
    starts) and :class:`~conformance.report.ReportRenderError` when a cell fails."""
    from . import render  # lazy: nbformat, nbclient and nbconvert load only to render

    combined_path = Path(combined_path).resolve()
    load_combined(combined_path)
    out = combined_path.parent
    nb = render._lib("nbformat").read(COMBINED_TEMPLATE, as_version=4)
    render.inject_parameters(nb, {"combined_path": combined_path.name})
    nb.metadata["title"] = "Exchange conformance report: several targets"
    notebook_path = out / "report.ipynb"
    render._execute(nb, cwd=out, timeout_s=timeout_s, notebook_path=notebook_path)
    return render.export_html(nb, out / "report.html", title=nb.metadata["title"])
