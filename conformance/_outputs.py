"""Writing a run's outputs: results.json (the one stream), then its consumers — junit.xml,
results.sarif, results.har and, unless asked not to, the executed notebook and the HTML
report."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError, MissingExtra
from ._har import write_har
from ._junit import write_junit
from ._results import build_results, write_json
from ._runlog import RunLog
from ._sarif import write_sarif
from ._schema import CaseRecord, Scope, Summary


@dataclass(frozen=True, slots=True)
class Outputs:
    """Where a run's outputs went; ``report_note`` says why there is no HTML."""

    results: Path
    junit: Path
    sarif: Path
    har: Path
    html: Path | None
    report_note: str
    summary: Summary
    cases: tuple[CaseRecord, ...]


def write_outputs(
    log: RunLog,
    *,
    run: Mapping[str, Any],
    out: Path,
    render: bool,
    scope: Scope | None = None,
    kernel: Any = None,
) -> Outputs:
    """Write results.json, junit.xml, results.sarif and results.har into ``out``; render
    the report when ``render`` (in ``kernel``, a
    :class:`~conformance.report.render.WarmKernel` started while the cases ran, when there
    is one). ``scope`` is what the run set out to do (its coverage). A failed render is
    reported in ``report_note``, never raised: the results stand."""
    results = build_results(log.records, run=run, facts=log.facts, retries=log.retries, scope=scope)
    results_path = write_json(out / "results.json", results)
    junit_path = write_junit(out / "junit.xml", results)
    sarif_path = write_sarif(out / "results.sarif", results)
    har_path = write_har(out / "results.har", results)
    html, note = None, ""
    if render:
        html, note = _render(results_path, kernel)
    return Outputs(
        results=results_path,
        junit=junit_path,
        sarif=sarif_path,
        har=har_path,
        html=html,
        report_note=note,
        summary=results.summary,
        cases=tuple(results.cases),
    )


def ensure_writable(out: Path, *, option: str = "--report-dir") -> None:
    """Create ``out`` and prove a file can be written in it, or raise
    :class:`~conformance.ConfigError` (one line naming ``option``): checked before a run
    (or a merge) does any work, so that none is lost to a typo."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{option} {out}: cannot write there ({exc.strerror or exc}); choose a "
            "writable directory"
        ) from None


def _render(results_path: Path, kernel: Any = None) -> tuple[Path | None, str]:
    # lazy: the report stack (nbclient, matplotlib) is an optional extra
    from .report import render_report

    try:
        paths = render_report(results_path, kernel=kernel)
    except MissingExtra as exc:
        return None, f"not rendered: {exc}"
    except Exception as exc:  # the results are written; a render failure must not hide them
        return None, f"rendering failed: {type(exc).__name__}: {exc}"
    return paths.html, ""
