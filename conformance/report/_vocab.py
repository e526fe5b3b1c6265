"""The report's fixed vocabulary: verdict and severity order, colours, category order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Verdicts in the order the report lists and stacks them.
VERDICT_ORDER = ("pass", "fail", "warn", "error", "skip", "waived")
#: Verdicts that mean "this case is broken now" (a regression when a case turns into one).
FAILING = frozenset({"fail", "error"})
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")

#: Colour-blind-friendly (Okabe-Ito based) colours, shared by the figures and the CSS.
VERDICT_COLOURS = {
    "pass": "#009E73",
    "fail": "#D55E00",
    "warn": "#E69F00",
    "error": "#CC79A7",
    "skip": "#999999",
    "waived": "#56B4E9",
}


def severity_rank(severity: Any) -> int:
    """0 for critical … 4 for info; unknown severities sort last."""
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        return len(SEVERITY_ORDER)


def categories(results: Mapping[str, Any]) -> list[str]:
    """Category names in the order the results list them (``summary.by_category`` first,
    which the writer keeps in catalog order, then any category only seen in ``cases``)."""
    names: list[str] = []
    summary = results.get("summary")
    by_category = summary.get("by_category") if isinstance(summary, Mapping) else None
    if isinstance(by_category, Mapping):
        names.extend(str(k) for k in by_category)
    cases = results.get("cases")
    for case in cases if isinstance(cases, list) else ():
        name = str(case.get("category")) if isinstance(case, Mapping) else None
        if name is not None and name not in names:
            names.append(name)
    return names
