"""Several targets in one report: one results.json per target, kept as it is (the same
schema as a single run) under ``targets/<label>/``, and ``combined.json`` beside them —
the index of the targets (label, where its results are, its target description, run
verdict and counts, or why it could not run) and the target x category matrix.

``conformance run --config A.toml --config B.toml`` and ``conformance merge`` both end
here; the combined report (:mod:`conformance.report.fleet`) lays out ``combined.json``
and the per-target files and computes nothing they do not hold.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._outputs import ensure_writable
from ._results import write_json
from .catalog._model import CATEGORIES

__all__ = [
    "COMBINED_SCHEMA",
    "COMBINED_SCHEMA_VERSION",
    "Member",
    "combine",
    "fleet_exit_code",
    "fleet_verdict",
    "parse_sources",
    "unique_label",
]

COMBINED_SCHEMA = "exchange-conformance/combined"
COMBINED_SCHEMA_VERSION = 1
TARGETS_DIR = "targets"

#: Run verdicts, the one that decides first (as :func:`._schema.summarise` ranks them:
#: a half-run is never called anything else; then a proven failure; then an error).
RUN_VERDICT_ORDER = ("incomplete", "not_conformant", "error", "conformant_with_gaps", "conformant")
#: Case verdicts, the most telling first: what a matrix cell shows.
CELL_ORDER = ("fail", "error", "warn", "waived", "pass", "skip")
_VERDICTS = ("pass", "fail", "warn", "error", "skip", "waived")
_LABEL = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Member:
    """One target of a combined report: its label and its results.json, or, for a
    target that could not run (``results`` is ``None``), the one line saying why."""

    label: str
    results: Path | None
    error: str = ""


def unique_label(wanted: str, taken: Iterable[str]) -> str:
    """``wanted`` made safe as a directory name (letters, digits, ``.``, ``_``, ``-``;
    at most 64 characters) and distinct from ``taken`` (``-2``, ``-3``… appended)."""
    base = _LABEL.sub("-", wanted).strip("-.")[:64] or "target"
    used = set(taken)
    label, n = base, 1
    while label in used:
        n += 1
        label = f"{base}-{n}"
    return label


def parse_sources(values: Sequence[str]) -> list[Member]:
    """``conformance merge`` arguments: ``PATH`` or ``LABEL=PATH``, where PATH is a
    results.json or a directory holding one. The label defaults to the name of the
    directory the results.json is in (a CI artifact's name). Raises
    :class:`~conformance.ConfigError` for a path that holds no results.json, or for the
    same results.json given twice (it would count twice)."""
    members: list[Member] = []
    given: dict[Path, str] = {}
    for value in values:
        label, sep, rest = value.partition("=")
        if not sep or not label or Path(value).exists():
            label, rest = "", value
        path = Path(rest)
        if path.is_dir():
            path = path / "results.json"
        if not path.is_file():
            raise ConfigError(
                f"{rest}: no results.json there; pass a results.json or the directory of one"
            )
        seen = given.get(path.resolve())
        if seen is not None:
            raise ConfigError(
                f"{rest}: the same results as {seen}, given twice (it would count twice); "
                "pass each run once"
            )
        given[path.resolve()] = rest
        wanted = label or path.resolve().parent.name
        members.append(Member(unique_label(wanted, (m.label for m in members)), path))
    if not members:
        raise ConfigError("nothing to merge; pass the results.json of each target")
    return members


def combine(members: Sequence[Member], out: Path) -> Path:
    """Validate every member's results, copy each (and its junit.xml) to
    ``out/targets/<label>/`` unless it is there already, and write ``out/combined.json``.
    Returns its path. Raises :class:`~conformance.ConfigError` (one line) for a missing or
    invalid results file, or for one run given twice (two files with the same run id: a
    copy of a run's results counts once)."""
    # lazy: the reader validates through the schema models (msgspec), as the report does
    from .report._load import load_results

    ensure_writable(out, option="--out")
    entries: list[dict[str, Any]] = []
    loaded: list[tuple[str, Mapping[str, Any]]] = []
    runs: dict[str, Path] = {}
    for member in members:
        home = out / TARGETS_DIR / member.label
        if member.results is None:
            entries.append(_missing(member))
            continue
        results = load_results(member.results)
        run_id = str((results.get("run") or {}).get("id") or "")
        if run_id and (seen := runs.setdefault(run_id, member.results)) != member.results:
            raise ConfigError(
                f"{member.results}: run {run_id}, the same run as {seen}, given twice (it "
                "would count twice); pass each run once"
            )
        dest = home / "results.json"
        _copy(member.results, dest)
        _copy(member.results.with_name("junit.xml"), home / "junit.xml", optional=True)
        entries.append(_entry(member.label, dest.relative_to(out), results))
        loaded.append((member.label, results))
    document = {
        "schema": COMBINED_SCHEMA,
        "schema_version": COMBINED_SCHEMA_VERSION,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "verdict": fleet_verdict(str(e["verdict"]) for e in entries),
        "targets": entries,
        "matrix": _matrix(loaded),
    }
    out.mkdir(parents=True, exist_ok=True)
    return write_json(out / "combined.json", document)


def fleet_exit_code(verdicts: Iterable[str]) -> int:
    """The exit code of several runs, as one run's (``conformance run``): 2 when a target
    could not run, 3 when one is incomplete, 1 when one failed or erred, else 0."""
    seen = set(verdicts)
    if "could_not_run" in seen:
        return 2
    if "incomplete" in seen:
        return 3
    return 1 if seen & {"not_conformant", "error"} else 0


def _copy(src: Path, dest: Path, *, optional: bool = False) -> None:
    if optional and not src.is_file():
        return
    if dest.exists() and src.resolve() == dest.resolve():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def _missing(member: Member) -> dict[str, Any]:
    return {
        "label": member.label,
        "results": None,
        "verdict": "could_not_run",
        "error": member.error or "no results were written",
        "target": {},
        "counts": dict.fromkeys(_VERDICTS, 0),
        "critical_failures": 0,
    }


def _entry(label: str, path: Path, results: Mapping[str, Any]) -> dict[str, Any]:
    run = results.get("run") or {}
    summary = results.get("summary") or {}
    return {
        "label": label,
        "results": path.as_posix(),
        "verdict": summary.get("verdict"),
        "error": "",
        "target": run.get("target") or {},
        "run_id": run.get("id"),
        "started_at": run.get("started_at"),
        "duration_s": run.get("duration_s"),
        "counts": summary.get("counts") or {},
        "critical_failures": summary.get("critical_failures", 0),
    }


def summary_lines(document: Mapping[str, Any], *, base: Path | None = None) -> list[str]:
    """The terminal summary of a combined run: one line per target (its verdict and
    counts, or why it could not run, and where its results are, under ``base``: the
    directory of ``combined.json``), then the fleet's."""
    lines = []
    for entry in document.get("targets") or ():
        label, verdict = entry.get("label"), entry.get("verdict")
        if entry.get("results") is None:
            lines.append(f"{label}: {verdict} — {entry.get('error') or 'no results'}")
            continue
        counts = entry.get("counts") or {}
        shown = ", ".join(f"{counts.get(v, 0)} {v}" for v in _VERDICTS)
        where = base / entry["results"] if base is not None else entry["results"]
        lines.append(f"{label}: {verdict} — {shown}; {where}")
    lines.append(f"fleet: {document.get('verdict')} ({len(lines)} targets)")
    return lines


def fleet_verdict(verdicts: Iterable[str]) -> str:
    """The verdict of several runs: the first of :data:`RUN_VERDICT_ORDER` any of them
    has; a target that could not run makes the whole ``incomplete``."""
    seen = {"incomplete" if v == "could_not_run" else v for v in verdicts}
    return next((v for v in RUN_VERDICT_ORDER if v in seen), "incomplete")


def _matrix(loaded: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Per target and category: the cases per verdict and the most telling verdict."""
    names: list[str] = []
    for _label, results in loaded:
        by_category = (results.get("summary") or {}).get("by_category") or {}
        names += [c for c in by_category if c not in names]
    known = [c for c in CATEGORIES if c in names]
    categories = known + [c for c in names if c not in known]
    rows = []
    for label, results in loaded:
        by_category = (results.get("summary") or {}).get("by_category") or {}
        cells: dict[str, Any] = {}
        for category in categories:
            counts = {v: int(by_category.get(category, {}).get(v, 0)) for v in _VERDICTS}
            shown = [v for v in CELL_ORDER if counts[v]]
            cells[category] = {"counts": counts, "verdict": shown[0] if shown else None}
        rows.append({"label": label, "cells": cells})
    return {"categories": categories, "rows": rows}
