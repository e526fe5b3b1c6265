"""The report's pictures as small PNGs (matplotlib, Agg, no pyplot state).

Each function returns a :class:`Figure` (PNG bytes plus an ``alt`` text) drawn from what
the results hold: ``summary.by_category`` and ``summary.by_severity``, and the findings
grouped from the cases (:mod:`conformance.findings`). Latency is a table, not a picture
(:func:`conformance.report.views.timing`). matplotlib is imported inside the functions:
importing this module is cheap. Labels from the results are bounded and their ``$``
escaped, so a category named ``a$b{`` neither breaks the drawing nor renders as a
formula.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._text import plain
from ._vocab import SEVERITY_ORDER, VERDICT_COLOURS, categories

__all__ = [
    "STACK_ORDER",
    "Figure",
    "all_figures",
    "findings",
    "matrix",
    "rc",
    "severity",
    "verdict_bars",
]

#: Width and height of a figure in inches, and its resolution: small files, readable in
#: print at the page width.
WIDTH_IN = 6.0
HEIGHT_IN = 3.0
DPI = 90


@dataclass(frozen=True, slots=True)
class Figure:
    """One picture: ``png`` bytes and the ``alt`` text the HTML ``<img>`` carries."""

    name: str
    alt: str
    png: bytes


def _label(value: Any) -> str:
    # An unescaped '$' pair would switch matplotlib to mathtext (and a stray '{' in it
    # raises); escaped, it is drawn as typed.
    return plain(value, limit=28).replace("\n", " ").replace("$", r"\$")


def _count(mapping: Any, key: str) -> int:
    value = mapping.get(key, 0) if isinstance(mapping, Mapping) else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _new_figure(height: float) -> Any:
    # lazy: importing the report package (conformance diff) needs no matplotlib
    from matplotlib.figure import Figure as MplFigure

    # A bare Figure (no pyplot) has no global state and needs no GUI backend.
    return MplFigure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")


#: Colours of the palette PNG: flat bars and anti-aliased text need few, and a palette
#: image is a third of the RGBA one (the page budget is 600 KB for 1,000 cases).
PALETTE_COLOURS = 64


def _png(fig: Any) -> bytes:
    # lazy: Pillow (matplotlib's own dependency) only when a picture is drawn
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    buffer.seek(0)
    with Image.open(buffer) as rgba:
        palette = rgba.convert("RGB").quantize(
            colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT
        )
    out = io.BytesIO()
    # Pillow writes no "Software" text: the same results give byte-identical pictures.
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def rc() -> Any:
    """The report's matplotlib style, as a context manager."""
    # lazy: importing the report package (conformance diff) needs no matplotlib
    import matplotlib as mpl

    return mpl.rc_context({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False})


#: The order verdicts are stacked in (from the axis outwards) and listed in every legend:
#: what needs attention first, so that a handful of failures sits against the axis where
#: it is seen, not at the far end of 500 passes.
STACK_ORDER = ("fail", "error", "warn", "waived", "skip", "pass")
#: Text colour on each verdict's fill (the light fills take dark text).
_INK = {"warn": "black", "waived": "black", "skip": "black"}
#: Severity colours, the same as the report's badges.
SEVERITY_COLOURS = {
    "critical": "#8b0000",
    "high": "#D55E00",
    "medium": "#E69F00",
    "low": "#56B4E9",
    "info": "#999999",
}


def _summary(results: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    summary = results.get("summary")
    value = summary.get(key) if isinstance(summary, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _present(results: Mapping[str, Any]) -> list[str]:
    """The verdicts this run has, in :data:`STACK_ORDER`: both bar charts stack and list
    the same ones, so a colour means the same thing at the same place in both legends."""
    totals = _summary(results, "counts")
    by_category = _summary(results, "by_category")
    return [
        v
        for v in STACK_ORDER
        if _count(totals, v) or any(_count(c, v) for c in by_category.values())
    ]


def _stacked(ax: Any, names: list[str], rows: Mapping[str, Any], verdicts: list[str]) -> None:
    """Stacked horizontal bars, one per name, with every count written on the picture.

    A count goes inside its segment when the segment is wide enough for it; the counts
    that do not fit are written after the bar's end instead ("fail 2 · warn 1"), so small
    counts never overlap each other or their neighbours.
    """
    ys = list(range(len(names)))[::-1]  # first name at the top
    totals = [sum(_count(rows.get(n), v) for v in verdicts) for n in names]
    span = max(totals, default=0) or 1
    # Data units per character at the axis' width (about 4.6 in of bars, 7 pt digits).
    per_char = span / 95
    left = [0] * len(names)
    outside: list[list[tuple[str, int]]] = [[] for _ in names]
    for verdict in verdicts:
        widths = [_count(rows.get(n), verdict) for n in names]
        ax.barh(ys, widths, left=left, color=VERDICT_COLOURS[verdict], label=verdict, height=0.7)
        for i, (y, x0, w) in enumerate(zip(ys, left, widths, strict=True)):
            if not w:
                continue
            if w >= per_char * (len(str(w)) + 1.5):
                ax.text(
                    x0 + w / 2, y, str(w), ha="center", va="center", fontsize=7,
                    color=_INK.get(verdict, "white"),
                )  # fmt: skip
            else:
                outside[i].append((verdict, w))
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, end, notes in zip(ys, left, outside, strict=True):
        if notes:
            ax.text(
                end + span * 0.01, y, " · ".join(f"{v} {n}" for v, n in notes),
                ha="left", va="center", fontsize=7, color="#1f2328",
            )  # fmt: skip
    ax.set_yticks(ys, [_label(n) for n in names])
    # Room on the right for the counts written after the longest bar.
    ax.set_xlim(0, span * 1.22)
    ax.set_xlabel("cases")
    if names and verdicts:
        ax.legend(
            ncols=len(verdicts), loc="lower left", bbox_to_anchor=(0, 1.0),
            frameon=False, fontsize=7, handlelength=1.2, columnspacing=1.0,
        )  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no cases", transform=ax.transAxes, ha="center")


def verdict_bars(results: Mapping[str, Any], by: str) -> Any:
    """The matplotlib figure of :func:`matrix` (``by="category"``) or :func:`severity`
    (``by="severity"``), before it becomes a PNG (tests measure where its labels are)."""
    if by == "category":
        rows = _summary(results, "by_category")
        names = [n for n in categories(results) if n in rows]
        title, height = "Verdicts by category", max(HEIGHT_IN, 0.9 + 0.28 * len(names))
    else:
        rows = _summary(results, "by_severity")
        names = [s for s in SEVERITY_ORDER if s in rows]
        names += [str(s) for s in rows if s not in SEVERITY_ORDER]
        title, height = "Verdicts by severity", max(2.2, 0.9 + 0.28 * len(names))
    fig = _new_figure(height)
    ax = fig.add_subplot()
    _stacked(ax, names, rows, _present(results))
    ax.set_title(title, loc="left", fontsize=9, pad=16)
    return fig


def matrix(results: Mapping[str, Any]) -> Figure:
    """Category x verdict: one stacked horizontal bar per category (``by_category``),
    counts on the bars."""
    with rc():
        return Figure("matrix", "Verdicts by category", _png(verdict_bars(results, "category")))


def severity(results: Mapping[str, Any]) -> Figure:
    """Cases by severity, stacked by verdict (``summary.by_severity``), counts on the bars,
    the same verdict order and legend as :func:`matrix`."""
    with rc():
        return Figure("severity", "Verdicts by severity", _png(verdict_bars(results, "severity")))


def findings(found: Sequence[Any]) -> Figure | None:
    """Findings by severity: one bar per severity with the number of findings and of
    their failing variants; ``None`` when there is no finding.

    ``found`` holds :class:`conformance.findings.Finding` objects (``severity`` and
    ``case_ids`` are read).
    """
    if not found:
        return None
    counts: dict[str, list[int]] = {}
    for finding in found:
        row = counts.setdefault(str(finding.severity), [0, 0])
        row[0] += 1
        row[1] += len(finding.case_ids)
    names = [s for s in SEVERITY_ORDER if s in counts]
    names += [s for s in counts if s not in SEVERITY_ORDER]
    with rc():
        fig = _new_figure(max(1.6, 0.8 + 0.3 * len(names)))
        ax = fig.add_subplot()
        ys = list(range(len(names)))[::-1]
        widths = [counts[n][0] for n in names]
        ax.barh(
            ys, widths, height=0.7,
            color=[SEVERITY_COLOURS.get(n, "#6e7781") for n in names],
        )  # fmt: skip
        span = max(widths)
        for y, name, w in zip(ys, names, widths, strict=True):
            variants = counts[name][1]
            text = f"{_plural(w, 'finding')} ({_plural(variants, 'case')})"
            ax.text(w + span * 0.02, y, text, ha="left", va="center", fontsize=7)
        ax.set_yticks(ys, [_label(n) for n in names])
        ax.set_xlim(0, span * 1.7)
        ax.xaxis.set_major_locator(_integer_locator())
        ax.set_xlabel("findings")
        ax.set_title("Findings by severity", loc="left", fontsize=9)
        return Figure("findings", "Findings by severity", _png(fig))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _integer_locator() -> Any:
    # lazy: importing the report package (conformance diff) needs no matplotlib
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def all_figures(results: Mapping[str, Any], found: Sequence[Any] = ()) -> list[Figure]:
    """The report's pictures in display order: findings by severity (when there is a
    finding), then verdicts by category and by severity."""
    pictures = [matrix(results), severity(results)]
    summary = findings(found)
    return [summary, *pictures] if summary is not None else pictures
