"""Comparing two results documents: what regressed, what was fixed, what else changed.

A **regression** is a case whose verdict is now ``fail`` or ``error`` while it was
anything else before (pass, skip, warn, waived), or a case that is new and fails or
errors. **Lost coverage** is a case that ran before (pass, fail, warn, waived) and now
skips or is missing from the newer run (a narrower selection, an interrupted run), and
a newer run that selected fewer cases or stopped early: it counts as a regression too,
unless the caller allows it (``allow_lost_coverage``, ``conformance diff
--allow-lost-coverage``): a run that proves less must not read as "no regression".
**Fixed** is a case that was ``fail``, ``error`` or ``warn`` and now passes. Every other
change of verdict between two runs is listed as is, as are added and removed cases.
Cases are matched by their stable ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._sarif import target_label
from ._load import load_results
from ._text import plain
from ._vocab import FAILING, severity_rank

__all__ = ["CaseChange", "ResultsDiff", "diff_files", "diff_results"]

_FIXABLE = frozenset({"fail", "error", "warn"})
#: Verdicts that prove something: a case that had one and now skips (or is gone) lost it.
_PROVED = frozenset({"pass", "fail", "warn", "waived"})


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
    lost_coverage: tuple[CaseChange, ...] = ()
    #: run-level coverage losses: fewer cases selected, the newer run stopped early
    coverage_notes: tuple[str, ...] = ()
    allow_lost_coverage: bool = False
    #: set when the two runs were against different targets: their changes may be the
    #: targets' difference, not the target's evolution
    target_note: str = ""

    @property
    def lost(self) -> bool:
        """True when the newer run proves less than the baseline."""
        return bool(self.lost_coverage or self.coverage_notes)

    @property
    def regressed(self) -> bool:
        """True when the newer run is worse (a new failure, or lost coverage unless it is
        allowed): the ``diff`` command then exits 1."""
        return bool(self.regressions) or (self.lost and not self.allow_lost_coverage)

    @property
    def empty(self) -> bool:
        return not (
            self.regressions
            or self.fixed
            or self.other_changes
            or self.added
            or self.removed
            or self.lost
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_run": self.old_run_id,
            "new_run": self.new_run_id,
            "regressed": self.regressed,
            "regressions": [c.to_dict() for c in self.regressions],
            "lost_coverage": [c.to_dict() for c in self.lost_coverage],
            "coverage_notes": list(self.coverage_notes),
            "allow_lost_coverage": self.allow_lost_coverage,
            "target_note": self.target_note,
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
        if self.target_note:
            lines.append(f"note: {plain(self.target_note, limit=400)}")
        skipped_now = tuple(c for c in self.lost_coverage if c.new is not None)
        groups = (
            ("regressions (new failures)", self.regressions),
            ("lost coverage (ran before, skipped now)", skipped_now),
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
        if self.lost_coverage:
            missing = len(self.lost_coverage) - len(skipped_now)
            lines.append(
                f"lost coverage: {len(self.lost_coverage)} cases that ran before now skip "
                f"({len(skipped_now)}) or are missing ({missing}, under removed cases)"
            )
        lines += [f"lost coverage: {plain(note, limit=300)}" for note in self.coverage_notes]
        if self.empty:
            lines.append("no verdict changed")
        if self.regressed:
            why = []
            if self.regressions:
                why.append(f"{len(self.regressions)} new failures")
            if self.lost and not self.allow_lost_coverage:
                why.append(
                    f"lost coverage: {len(self.lost_coverage)} cases"
                    + (f", {len(self.coverage_notes)} run-level" if self.coverage_notes else "")
                    + " (--allow-lost-coverage accepts it)"
                )
            lines.append(f"REGRESSED: {'; '.join(why)}")
        elif self.lost:
            lines.append(f"no regression (lost coverage allowed: {len(self.lost_coverage)} cases)")
        else:
            lines.append("no regression")
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


def _coverage(results: Mapping[str, Any]) -> Mapping[str, Any]:
    summary = results.get("summary")
    cov = summary.get("coverage") if isinstance(summary, Mapping) else None
    return cov if isinstance(cov, Mapping) else {}


def _coverage_notes(old: Mapping[str, Any], new: Mapping[str, Any], new_count: int) -> list[str]:
    """Run-level losses: the newer run selected fewer cases, or stopped early."""
    before, after = _coverage(old), _coverage(new)
    notes = []
    old_selected = before.get("selected", len(_index(old)))
    new_selected = after.get("selected", new_count)
    counted = isinstance(old_selected, int) and isinstance(new_selected, int)
    if counted and new_selected < old_selected:
        notes.append(f"the newer run selected {new_selected} cases, the baseline {old_selected}")
    if after.get("complete") is False:
        notes.append(f"the newer run is incomplete: {after.get('stopped') or 'it stopped early'}")
    return notes


def diff_results(
    old: Mapping[str, Any], new: Mapping[str, Any], *, allow_lost_coverage: bool = False
) -> ResultsDiff:
    """Compare two loaded results documents (see :func:`~conformance.report.load_results`).

    Lost coverage is a regression unless ``allow_lost_coverage`` (see the module doc).
    Cases without a string ``id`` are ignored; use ``load_results`` to reject such files.
    """
    before, after = _index(old), _index(new)
    regressions: list[CaseChange] = []
    fixed: list[CaseChange] = []
    other: list[CaseChange] = []
    added: list[CaseChange] = []
    removed: list[CaseChange] = []
    lost: list[CaseChange] = []
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
        elif verdict == "skip" and was in _PROVED:
            lost.append(change)
        elif was in _FIXABLE and verdict == "pass":
            fixed.append(change)
        else:
            other.append(change)
    for case_id, case in before.items():
        if case_id not in after:
            change = _change(case, str(case.get("verdict")), None)
            removed.append(change)
            if change.old in _PROVED:
                lost.append(change)
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
        lost_coverage=_sorted(lost),
        coverage_notes=tuple(_coverage_notes(old, new, len(after))),
        allow_lost_coverage=allow_lost_coverage,
        target_note=_target_note(old_run, new_run),
    )


def _target_note(old_run: Mapping[str, Any], new_run: Mapping[str, Any]) -> str:
    """Why the comparison may mislead: the runs were against different targets (by
    :func:`~conformance._sarif.target_label`: the embedded emulator, or the profile, host
    and tenant), or the embedded emulator with different flaws."""
    old_target, new_target = old_run.get("target"), new_run.get("target")
    if not isinstance(old_target, Mapping) or not isinstance(new_target, Mapping):
        return ""
    before, after = target_label(old_target), target_label(new_target)
    if before != after:
        return (
            f"the baseline ran against {before}, this run against {after}: verdict changes "
            "may be the difference between the targets"
        )
    flaws = [sorted(t.get("flaws") or ()) for t in (old_target, new_target)]
    if before == "embedded" and flaws[0] != flaws[1]:
        return (
            f"the embedded emulator had flaws {', '.join(flaws[0]) or 'none'} in the baseline "
            f"and {', '.join(flaws[1]) or 'none'} now"
        )
    return ""


def diff_files(
    old: str | Path, new: str | Path, *, allow_lost_coverage: bool = False
) -> ResultsDiff:
    """:func:`diff_results` on two files; a missing or invalid file raises ``ConfigError``."""
    return diff_results(
        load_results(old), load_results(new), allow_lost_coverage=allow_lost_coverage
    )
