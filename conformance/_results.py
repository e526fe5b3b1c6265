"""results.json: the one stream every output is made from.

The shape is defined once, by the models of :mod:`conformance._schema`; this module
turns what the engine produced into them and writes the file. Secrets are cut here
(:mod:`conformance._redact`) before anything is recorded.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ._redact import BODY_LIMIT, decode_token, one_line, scrub
from ._schema import (
    SCHEMA,
    CaseRecord,
    ExchangeRecord,
    Fact,
    Results,
    RunInfo,
    Scope,
    summarise,
)
from ._version import CATALOG_VERSION, RESULTS_SCHEMA_VERSION, __version__
from .catalog._model import CATEGORIES

if TYPE_CHECKING:
    from ._engine import CaseResult
    from .targets.base import Exchange

__all__ = ["build_results", "case_record", "encode_results", "exchange_record", "write_json"]


#: bounds for text scrubbed again (room for the truncation note of the first pass)
_BODY = BODY_LIMIT + 100
_MESSAGE = 2100


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        one_line(scrub(k, limit=128)): one_line(scrub(v, limit=600)) for k, v in headers.items()
    }


def _instant(epoch: float | None) -> str:
    if epoch is None:
        return ""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def exchange_record(exchange: Exchange) -> ExchangeRecord:
    """The evidence of one exchange: the assertion decoded with its signature cut, the
    issued token never whole (its claims, or only its length).

    Only the *recorded* answer is read (``response_body``, ``response_headers``), never
    the raw one the checks judge; every text is scrubbed again here, so that a secret
    learned after the exchange was made (a later session, a later assertion) is cut too.
    """
    return msgspec.convert(
        {
            "label": scrub(exchange.label, limit=200),
            "method": scrub(exchange.method, limit=20),
            "url": scrub(exchange.url, limit=2000),
            "request_headers": _headers(exchange.request_headers),
            "request_body": scrub(exchange.request_body, limit=_BODY),
            "assertion": decode_token(exchange.assertion),
            "status": exchange.status,
            "response_headers": _headers(exchange.response_headers),
            "response_body": scrub(exchange.response_body, limit=_BODY),
            "latency_ms": round(exchange.latency_ms, 3),
            "error": None if exchange.error is None else scrub(exchange.error, limit=500),
            "retries": exchange.retries,
            "issued": decode_token(exchange.issued_token, secret=True),
            "sent_at": _instant(exchange.sent_at),
        },
        ExchangeRecord,
    )


def case_record(
    result: CaseResult, *, nodeid: str, failure: str = "", rerun: str = ""
) -> dict[str, Any]:
    """One entry of ``cases`` (a :class:`~conformance._schema.CaseRecord`, as JSON
    builtins: records travel from xdist workers to the controller as JSON).

    Reads the result's ``case``, final ``verdict`` (after strict and waivers), ``waiver``,
    ``outcome``, ``message``, ``reproduce``, ``duration_ms``, ``waited_ms``, ``requests`` and
    ``exchanges``; the engine's own judgement (``judged``) is not recorded: the verdict
    and the waiver's state say it. Raises ``msgspec.ValidationError`` for a verdict,
    outcome or waiver state the schema does not know.
    """
    case = result.case
    record = msgspec.convert(
        {
            "id": case.id,
            "title": case.title,
            "category": case.category,
            "level": case.level.value,
            "severity": case.severity.value,
            "expect": case.expect.value,
            "kind": case.kind.value,
            "correct": case.correct,
            "rationale": case.rationale,
            "references": list(case.references),
            "anchors": list(case.anchors),
            "verdict": result.verdict,
            "outcome": result.outcome,
            "message": scrub(result.message, limit=_MESSAGE),
            "failure": scrub(failure, limit=8100),
            "nodeid": nodeid,
            "rerun": rerun,
            "reproduce": scrub(result.reproduce, limit=_MESSAGE),
            "duration_ms": round(result.duration_ms, 3),
            "waited_ms": round(result.waited_ms, 3),
            "requests": round(result.requests, 4),
            "waiver": dict(result.waiver) if result.waiver else None,
            "exchanges": [exchange_record(e) for e in result.exchanges],
        },
        CaseRecord,
    )
    builtins: dict[str, Any] = msgspec.to_builtins(record)
    return builtins


def _order(case: CaseRecord) -> tuple[int, str]:
    known = case.category in CATEGORIES
    return (CATEGORIES.index(case.category) if known else len(CATEGORIES), case.id)


def build_results(
    cases: Iterable[Mapping[str, Any] | CaseRecord],
    *,
    run: Mapping[str, Any],
    facts: Mapping[str, Any],
    retries: int = 0,
    scope: Scope | None = None,
) -> Results:
    """The whole document: ``cases`` in catalog order (then by id), counted by
    :func:`~conformance._schema.summarise`; ``run`` completed with the suite, catalog and
    Python versions; ``scope`` (the profile's catalog, the selection, why the run
    stopped early) decides the coverage, else the cases are taken as the whole selection.
    Every part is validated by the models (``msgspec.ValidationError`` names the bad
    field)."""
    records = [c if isinstance(c, CaseRecord) else msgspec.convert(c, CaseRecord) for c in cases]
    records.sort(key=_order)
    info = msgspec.convert(
        {
            "suite_version": __version__,
            "catalog_version": CATALOG_VERSION,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            **run,
        },
        RunInfo,
    )
    return Results(
        schema=SCHEMA,
        schema_version=RESULTS_SCHEMA_VERSION,
        run=info,
        summary=summarise(records, retries=retries, scope=scope),
        facts=msgspec.convert(dict(facts), dict[str, Fact]),
        cases=records,
    )


def encode_results(results: Results | Mapping[str, Any]) -> bytes:
    """UTF-8 JSON (non-ASCII kept as is), indented for humans, newline-terminated."""
    return msgspec.json.format(msgspec.json.encode(results), indent=1) + b"\n"


def write_json(path: Path, data: Results | Mapping[str, Any]) -> Path:
    """Write atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(encode_results(data))
    os.replace(tmp, path)
    return path
