"""The report's pictures as small PNGs (matplotlib, Agg, no pyplot state).

Each function returns a :class:`Figure` (PNG bytes plus an ``alt`` text) drawn from what
the results hold: ``summary.by_category``, ``summary.by_severity`` and the exchanges'
``latency_ms``. matplotlib is imported inside the functions: importing this module is
cheap. Labels from the results are bounded and their ``$`` escaped, so a category
named ``a$b{`` neither breaks the drawing nor renders as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._text import plain
from ._vocab import SEVERITY_ORDER, VERDICT_COLOURS, VERDICT_ORDER, categories

__all__ = ["Figure", "all_figures", "latency", "matrix", "severity"]

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


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    # No "Software" metadata: the same results give byte-identical pictures.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _rc() -> Any:
    # lazy: importing the report package (conformance diff) needs no matplotlib
    import matplotlib as mpl

    return mpl.rc_context({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False})


def matrix(results: Mapping[str, Any]) -> Figure:
    """Category x verdict: one stacked horizontal bar per category (``by_category``)."""
    summary = results.get("summary")
    by_category = summary.get("by_category", {}) if isinstance(summary, Mapping) else {}
    names = [
        n for n in categories(results) if isinstance(by_category, Mapping) and n in by_category
    ]
    with _rc():
        fig = _new_figure(max(HEIGHT_IN, 0.9 + 0.28 * len(names)))
        ax = fig.add_subplot()
        ys = list(range(len(names)))[::-1]  # first category at the top
        left = [0] * len(names)
        for verdict in VERDICT_ORDER:
            widths = [_count(by_category.get(n), verdict) for n in names]
            if not any(widths):
                continue
            ax.barh(
                ys, widths, left=left, color=VERDICT_COLOURS[verdict], label=verdict, height=0.7
            )
            for y, x0, w in zip(ys, left, widths, strict=True):
                if w:
                    ax.text(
                        x0 + w / 2,
                        y,
                        str(w),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if verdict != "skip" else "black",
                    )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(ys, [_label(n) for n in names])
        ax.set_xlabel("cases")
        ax.set_title("Verdicts by category", loc="left", fontsize=9)
        if names:
            ax.legend(
                ncols=6, loc="lower left", bbox_to_anchor=(0, 1.08), frameon=False, fontsize=7
            )
        else:
            ax.text(0.5, 0.5, "no cases", transform=ax.transAxes, ha="center")
        return Figure("matrix", "Verdicts by category", _png(fig))


def severity(results: Mapping[str, Any]) -> Figure:
    """Cases by severity, stacked by verdict (``summary.by_severity``), fails in front."""
    summary = results.get("summary")
    by_severity = summary.get("by_severity", {}) if isinstance(summary, Mapping) else {}
    if not isinstance(by_severity, Mapping):
        by_severity = {}
    names = [s for s in SEVERITY_ORDER if s in by_severity]
    names += [str(s) for s in by_severity if s not in SEVERITY_ORDER]
    order = ("fail", "error", "warn", "waived", "skip", "pass")
    with _rc():
        fig = _new_figure(HEIGHT_IN)
        ax = fig.add_subplot()
        ys = list(range(len(names)))[::-1]
        left = [0] * len(names)
        for verdict in order:
            widths = [_count(by_severity.get(n), verdict) for n in names]
            if not any(widths):
                continue
            ax.barh(
                ys, widths, left=left, color=VERDICT_COLOURS[verdict], label=verdict, height=0.7
            )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(ys, [_label(n) for n in names])
        ax.set_xlabel("cases")
        ax.set_title("Cases by severity", loc="left", fontsize=9)
        if any(left):
            ax.legend(
                ncols=6, loc="lower left", bbox_to_anchor=(0, 1.08), frameon=False, fontsize=7
            )
        return Figure("severity", "Cases by severity and verdict", _png(fig))


def _latencies(results: Mapping[str, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {n: [] for n in categories(results)}
    cases = results.get("cases")
    for case in cases if isinstance(cases, list) else ():
        if not isinstance(case, Mapping):
            continue
        exchanges = case.get("exchanges")
        for exchange in exchanges if isinstance(exchanges, list) else ():
            value = exchange.get("latency_ms") if isinstance(exchange, Mapping) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                out.setdefault(str(case.get("category")), []).append(float(value))
    return {k: v for k, v in out.items() if v}


def latency(results: Mapping[str, Any]) -> Figure | None:
    """Latency per category: a box plot of the exchanges' ``latency_ms``; ``None`` when no
    exchange recorded one."""
    data = _latencies(results)
    if not data:
        return None
    names = list(data)
    with _rc():
        fig = _new_figure(max(HEIGHT_IN, 0.9 + 0.28 * len(names)))
        ax = fig.add_subplot()
        ax.boxplot(
            [data[n] for n in names][::-1],
            orientation="horizontal",
            widths=0.6,
            flierprops={"markersize": 2},
        )
        ax.set_yticks(range(1, len(names) + 1), [_label(n) for n in names][::-1])
        ax.set_xscale("log")
        # lazy: importing the report package (conformance diff) needs no matplotlib
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.xaxis.set_major_formatter(ScalarFormatter())  # "10", not "$10^{1}$"
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("latency per exchange (ms, log scale)")
        ax.set_title("Latency by category", loc="left", fontsize=9)
        return Figure("latency", "Latency by category", _png(fig))


def all_figures(results: Mapping[str, Any]) -> list[Figure]:
    """The report's pictures in display order (matrix, severity, latency when recorded)."""
    figures = [matrix(results), severity(results)]
    lat = latency(results)
    if lat is not None:
        figures.append(lat)
    return figures
