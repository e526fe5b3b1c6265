"""Findings: the cases of a run grouped by weakness family.

Eight alg-``none`` variants that failed are one finding, "Unsigned assertions accepted",
with eight variants: its worst severity, level and verdict, its CWE and OWASP ASVS 5.0
ids, the spec clauses, a remediation and references. The weakness data lives in the
catalog (:mod:`conformance.catalog.weaknesses`); this module only groups a run's cases.

A case counts toward a finding when its final verdict is ``fail``, ``warn`` or ``error``
(waived, passed and skipped cases do not). ``findings`` reads the document the report
loads (``report.load_results``: JSON builtins) or a :class:`~conformance._schema.Results`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog.weaknesses import Weakness, weakness_for

__all__ = [
    "FINDING_VERDICTS",
    "SECURITY_SEVERITY",
    "Finding",
    "findings",
    "security_severity",
]

#: The verdicts that make a finding, worst first.
FINDING_VERDICTS = ("fail", "warn", "error")
_SEVERITIES = ("critical", "high", "medium", "low", "info")
_LEVELS = ("must", "should")

#: GitHub code scanning's ``security-severity`` per severity (critical ≥ 9.0, high
#: 7.0-8.9, medium 4.0-6.9, low 0.1-3.9; info, a measurement, shows as low).
SECURITY_SEVERITY: Mapping[str, float] = {
    "critical": 9.5,
    "high": 8.0,
    "medium": 5.5,
    "low": 3.0,
    "info": 1.0,
}


def _rank(order: tuple[str, ...], value: str) -> int:
    return order.index(value) if value in order else len(order)


@dataclass(frozen=True)
class Finding:
    """One weakness and the variants of it that failed, warned or erred in a run."""

    family: str  # stable id of the weakness family, e.g. "alg.none"
    title: str  # one line
    impact: str  # one line: what an attacker gains
    severity: str  # worst severity among its failing/warned variants
    level: str  # "must" or "should" (worst)
    verdict: str  # worst verdict among variants: "fail" | "warn" | "error"
    cwe: tuple[str, ...]
    asvs: tuple[str, ...]
    spec: tuple[str, ...]
    remediation: str
    references: tuple[str, ...]
    case_ids: tuple[str, ...]  # variants that failed/warned/errored, catalog order

    @property
    def security_severity(self) -> float:
        """The finding's ``security-severity`` (0.0-10.0) for code scanning."""
        return security_severity(self.severity)

    def sort_key(self) -> tuple[int, int, int, str]:
        return (
            _rank(_SEVERITIES, self.severity),
            _rank(_LEVELS, self.level),
            _rank(FINDING_VERDICTS, self.verdict),
            self.family,
        )


def security_severity(severity: str) -> float:
    """``security-severity`` of a case severity (unknown ones count as info)."""
    return SECURITY_SEVERITY.get(severity, 1.0)


def _cases(results: Any) -> list[Mapping[str, Any]]:
    if not isinstance(results, Mapping):
        import msgspec  # lazy: heavy; only a Results struct (not the report's dict) needs it

        results = msgspec.to_builtins(results)
    cases: Iterable[Mapping[str, Any]] = results.get("cases") or ()
    return list(cases)


def _finding(weakness: Weakness, cases: list[Mapping[str, Any]]) -> Finding:
    return Finding(
        family=weakness.family,
        title=weakness.title,
        impact=weakness.impact,
        severity=min((str(c["severity"]) for c in cases), key=lambda s: _rank(_SEVERITIES, s)),
        level=min((str(c["level"]) for c in cases), key=lambda s: _rank(_LEVELS, s)),
        verdict=min((str(c["verdict"]) for c in cases), key=lambda s: _rank(FINDING_VERDICTS, s)),
        cwe=weakness.cwe,
        asvs=weakness.asvs,
        spec=weakness.spec,
        remediation=weakness.remediation,
        references=weakness.references,
        case_ids=tuple(str(c["id"]) for c in cases),
    )


def findings(results: Any) -> list[Finding]:
    """The findings of a run, worst first (severity, then level, then verdict, then
    family id). ``results`` is the report's document (JSON builtins, as
    ``report.load_results`` returns it) or a ``Results``; its cases are in catalog order,
    and each finding lists its variants in that order."""
    grouped: dict[str, tuple[Weakness, list[Mapping[str, Any]]]] = {}
    for case in _cases(results):
        if case.get("verdict") not in FINDING_VERDICTS:
            continue
        weakness = weakness_for(str(case["id"]), str(case.get("category", "")))
        grouped.setdefault(weakness.family, (weakness, []))[1].append(case)
    found = [_finding(w, cases) for w, cases in grouped.values()]
    return sorted(found, key=Finding.sort_key)
