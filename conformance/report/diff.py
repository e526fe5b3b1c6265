"""Comparing two results documents: what regressed, what was fixed, what else changed.

A **regression** is a case whose verdict is now ``fail`` or ``error`` while it was
anything else before (pass, skip, warn, waived), or a case that is new and fails or
errors. **Fixed** is a case that was ``fail``, ``error`` or ``warn`` and now passes.
Every other change of verdict between two runs is listed as is, as are added and removed
cases. Cases are matched by their stable ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._load import load_results
from ._text import plain
from ._vocab import FAILING, severity_rank

__all__ = ["CaseChange", "ResultsDiff", "diff_files", "diff_results"]

_FIXABLE = frozenset({"fail", "error", "warn"})


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One case whose presence or verdict differs; ``old``/``new`` is ``None`` when the
    case is absent from that side."""

    case_id: str
    title: str
    severity: str
    old: str | None
    new: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "title": self.title,
            "severity": self.severity,
            "old": self.old,
            "new": self.new,
        }


@dataclass(frozen=True, slots=True)
class ResultsDiff:
    """The differences between a baseline (``old``) and a newer run (``new``)."""

    old_run_id: str
    new_run_id: str
    old_started_at: str
    regressions: tuple[CaseChange, ...]
    fixed: tuple[CaseChange, ...]
    other_changes: tuple[CaseChange, ...]
    added: tuple[CaseChange, ...]
    removed: tuple[CaseChange, ...]

    @property
    def regressed(self) -> bool:
        """True when the newer run is worse: the ``diff`` command then exits 1."""
        return bool(self.regressions)

    @property
    def empty(self) -> bool:
        return not (
            self.regressions or self.fixed or self.other_changes or self.added or self.removed
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_run": self.old_run_id,
            "new_run": self.new_run_id,
            "regressed": self.regressed,
            "regressions": [c.to_dict() for c in self.regressions],
            "fixed": [c.to_dict() for c in self.fixed],
            "other_changes": [c.to_dict() for c in self.other_changes],
            "added": [c.to_dict() for c in self.added],
            "removed": [c.to_dict() for c in self.removed],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        """A terminal-friendly summary; values are bounded and control characters are made
        visible (a case title must not be able to drive the reader's terminal)."""
        lines = [
            f"baseline {plain(self.old_run_id, limit=80)} → {plain(self.new_run_id, limit=80)}"
        ]
        groups = (
            ("regressions (new failures)", self.regressions),
            ("fixed", self.fixed),
            ("other verdict changes", self.other_changes),
            ("added cases", self.added),
            ("removed cases", self.removed),
        )
        for title, items in groups:
            if not items:
                continue
            lines.append(f"{title}: {len(items)}")
            for c in items:
                lines.append(
                    f"  {plain(c.case_id, limit=120)} [{plain(c.severity, limit=20)}] "
                    f"{plain(c.old or '-', limit=20)} -> {plain(c.new or '-', limit=20)}  "
                    f"{plain(c.title, limit=120)}"
                )
        if self.empty:
            lines.append("no verdict changed")
        lines.append("REGRESSED" if self.regressed else "no regression")
        return "\n".join(lines)


def _index(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    cases = results.get("cases")
    out: dict[str, Mapping[str, Any]] = {}
    for case in cases if isinstance(cases, list) else ():
        if isinstance(case, Mapping) and isinstance(case.get("id"), str):
            out[case["id"]] = case
    return out


def _change(case: Mapping[str, Any], old: str | None, new: str | None) -> CaseChange:
    return CaseChange(
        case_id=str(case.get("id")),
        title=str(case.get("title", "")),
        severity=str(case.get("severity", "")),
        old=old,
        new=new,
    )


def _sorted(changes: list[CaseChange]) -> tuple[CaseChange, ...]:
    return tuple(sorted(changes, key=lambda c: (severity_rank(c.severity), c.case_id)))


def diff_results(old: Mapping[str, Any], new: Mapping[str, Any]) -> ResultsDiff:
    """Compare two loaded results documents (see :func:`~conformance.report.load_results`).

    Cases without a string ``id`` are ignored; use ``load_results`` to reject such files.
    """
    before, after = _index(old), _index(new)
    regressions: list[CaseChange] = []
    fixed: list[CaseChange] = []
    other: list[CaseChange] = []
    added: list[CaseChange] = []
    removed: list[CaseChange] = []
    for case_id, case in after.items():
        verdict = str(case.get("verdict"))
        if case_id not in before:
            change = _change(case, None, verdict)
            added.append(change)
            if verdict in FAILING:
                regressions.append(change)
            continue
        was = str(before[case_id].get("verdict"))
        if was == verdict:
            continue
        change = _change(case, was, verdict)
        if verdict in FAILING and was not in FAILING:
            regressions.append(change)
        elif was in _FIXABLE and verdict == "pass":
            fixed.append(change)
        else:
            other.append(change)
    for case_id, case in before.items():
        if case_id not in after:
            removed.append(_change(case, str(case.get("verdict")), None))
    old_run: Mapping[str, Any] = old["run"] if isinstance(old.get("run"), Mapping) else {}
    new_run: Mapping[str, Any] = new["run"] if isinstance(new.get("run"), Mapping) else {}
    return ResultsDiff(
        old_run_id=str(old_run.get("id", "")),
        new_run_id=str(new_run.get("id", "")),
        old_started_at=str(old_run.get("started_at", "")),
        regressions=_sorted(regressions),
        fixed=_sorted(fixed),
        other_changes=_sorted(other),
        added=_sorted(added),
        removed=_sorted(removed),
    )


def diff_files(old: str | Path, new: str | Path) -> ResultsDiff:
    """:func:`diff_results` on two files; a missing or invalid file raises ``ConfigError``."""
    return diff_results(load_results(old), load_results(new))
