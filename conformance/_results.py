"""results.json: the one stream every output is made from (schema in docs/results-schema.md)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._redact import decode_token
from ._version import CATALOG_VERSION, RESULTS_SCHEMA_VERSION, __version__
from .catalog._model import CATEGORIES, Severity
from .targets.base import Exchange

SCHEMA = "exchange-conformance/results"
COUNT_KEYS = ("pass", "fail", "warn", "error", "skip", "waived")


def exchange_record(exchange: Exchange) -> dict[str, Any]:
    return {
        "label": exchange.label,
        "method": exchange.method,
        "url": exchange.url,
        "request_headers": dict(exchange.request_headers),
        "request_body": exchange.request_body,
        "assertion": decode_token(exchange.assertion),
        "status": exchange.status,
        "response_headers": dict(exchange.response_headers),
        "response_body": exchange.response_body,
        "latency_ms": round(exchange.latency_ms, 3),
        "error": exchange.error,
        "retries": exchange.retries,
        "issued": decode_token(exchange.issued_token, secret=True),
    }


def case_record(result: Any, *, nodeid: str, failure: str = "", rerun: str = "") -> dict[str, Any]:
    """One entry of ``cases`` from an engine ``CaseResult`` (its final verdict)."""
    case = result.case
    verdict, message, waiver = result.verdict, result.message, result.waiver
    return {
        "id": case.id,
        "title": case.title,
        "category": case.category,
        "level": case.level.value,
        "severity": case.severity.value,
        "expect": case.expect.value,
        "correct": case.correct,
        "rationale": case.rationale,
        "references": list(case.references),
        "anchors": list(case.anchors),
        "verdict": verdict,
        "outcome": result.outcome,
        "message": message,
        "failure": failure,
        "nodeid": nodeid,
        "rerun": rerun,
        "reproduce": result.reproduce,
        "duration_ms": round(result.duration_ms, 3),
        "waited_ms": round(result.waited_ms, 3),
        "waiver": dict(waiver) if waiver else None,
        "exchanges": [exchange_record(e) for e in result.exchanges],
    }


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def summarise(cases: Sequence[Mapping[str, Any]], *, retries: int = 0) -> dict[str, Any]:
    counts = _zero()
    by_category: dict[str, dict[str, int]] = {}
    by_severity: dict[str, dict[str, int]] = {s.value: _zero() for s in Severity}
    exchanges = 0
    for c in cases:
        verdict = c["verdict"]
        counts[verdict] += 1
        by_category.setdefault(c["category"], _zero())[verdict] += 1
        by_severity.setdefault(c["severity"], _zero())[verdict] += 1
        exchanges += len(c.get("exchanges", ()))
    ordered = {k: by_category[k] for k in [*CATEGORIES, *sorted(by_category)] if k in by_category}
    critical = by_severity.get("critical", {}).get("fail", 0)
    if counts["fail"]:
        verdict = "not_conformant"
    elif counts["error"]:
        verdict = "error"
    else:
        verdict = "conformant"
    return {
        "verdict": verdict,
        "counts": counts,
        "critical_failures": critical,
        "by_category": ordered,
        "by_severity": by_severity,
        "retries": retries,
        "exchanges": exchanges,
    }


def build_results(
    cases: Iterable[Mapping[str, Any]],
    *,
    run: Mapping[str, Any],
    facts: Mapping[str, Any],
    retries: int = 0,
) -> dict[str, Any]:
    ordered = sorted(
        cases,
        key=lambda c: (
            CATEGORIES.index(c["category"]) if c["category"] in CATEGORIES else 99,
            c["id"],
        ),
    )
    info = {
        "suite_version": __version__,
        "catalog_version": CATALOG_VERSION,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        **run,
    }
    return {
        "schema": SCHEMA,
        "schema_version": RESULTS_SCHEMA_VERSION,
        "run": info,
        "summary": summarise(ordered, retries=retries),
        "facts": dict(facts),
        "cases": ordered,
    }


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """Write atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
