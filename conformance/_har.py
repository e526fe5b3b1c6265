"""results.har: a run's exchanges as an HTTP Archive (HAR 1.2), for browser dev tools.

A consumer of results.json: one entry per recorded exchange, in the order the cases ran,
made only from what the results hold — so secrets are already cut (bearers redacted,
signatures cut, issued tokens never whole) and bodies bounded. Each entry says which case
and which step (``_caseId``, ``_label``, ``_verdict``, and a ``comment``); an exchange
that got no answer has status 0 and its reason in ``response._error``, as browsers record
a failed request. The HAR 1.2 fields every viewer requires are always present
(http://www.softwareishard.com/blog/har-12-spec/).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._redact import cut_signatures
from ._version import __version__

__all__ = ["har_document", "har_text", "write_har"]

TOOL = "exchange-conformance"


def _as_document(results: Any) -> Mapping[str, Any]:
    if isinstance(results, Mapping):
        return results
    import msgspec  # lazy: heavy; only a Results struct (not the report's dict) needs it

    document: dict[str, Any] = msgspec.to_builtins(results)
    return document


def _pairs(headers: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"name": str(k), "value": cut_signatures(str(v))} for k, v in headers.items()]


def _header(headers: Mapping[str, Any], name: str) -> str:
    return next((str(v) for k, v in headers.items() if str(k).lower() == name), "")


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _status_text(status: int | None) -> str:
    if status is None:
        return ""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _entry(case: Mapping[str, Any], exchange: Mapping[str, Any], started: str) -> dict[str, Any]:
    request_headers: Mapping[str, Any] = exchange.get("request_headers") or {}
    response_headers: Mapping[str, Any] = exchange.get("response_headers") or {}
    url = str(exchange.get("url") or "")
    request_body = cut_signatures(str(exchange.get("request_body") or ""))
    response_body = cut_signatures(str(exchange.get("response_body") or ""))
    status = exchange.get("status")
    latency = max(float(exchange.get("latency_ms") or 0.0), 0.0)
    request: dict[str, Any] = {
        "method": str(exchange.get("method") or "GET"),
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],  # cookie values are redacted in the headers; never listed
        "headers": _pairs(request_headers),
        "queryString": [
            {"name": k, "value": v}
            for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": _size(request_body),
    }
    if request_body:
        request["postData"] = {
            "mimeType": _header(request_headers, "content-type") or "application/octet-stream",
            "text": request_body,
        }
    response: dict[str, Any] = {
        "status": int(status) if status is not None else 0,
        "statusText": _status_text(status),
        "httpVersion": "HTTP/1.1" if status is not None else "",
        "cookies": [],
        "headers": _pairs(response_headers),
        "content": {
            "size": _size(response_body),
            "mimeType": _header(response_headers, "content-type") or "x-unknown",
            "text": response_body,
        },
        "redirectURL": _header(response_headers, "location"),
        "headersSize": -1,
        "bodySize": _size(response_body) if status is not None else -1,
    }
    if exchange.get("error"):
        response["_error"] = str(exchange["error"])
    label = str(exchange.get("label") or "")
    return {
        "startedDateTime": str(exchange.get("sent_at") or "") or started,
        "time": round(latency, 3),
        "request": request,
        "response": response,
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "send": 0,
            "wait": latency,
            "receive": 0,
        },
        "comment": f"{case['id']} · {label} · {case.get('verdict', '')}",
        "_caseId": str(case["id"]),
        "_label": label,
        "_verdict": str(case.get("verdict", "")),
        "_retries": int(exchange.get("retries") or 0),
    }


def har_document(results: Any) -> dict[str, Any]:
    """The HAR 1.2 log of a run's exchanges (``results``: the report's document or a
    ``Results``). Exchanges of files written before ``sent_at`` existed start at the
    run's start time."""
    document = _as_document(results)
    run: Mapping[str, Any] = document.get("run") or {}
    started = str(run.get("started_at") or "1970-01-01T00:00:00Z")
    entries = [
        _entry(case, exchange, started)
        for case in document.get("cases") or ()
        for exchange in case.get("exchanges") or ()
    ]
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": TOOL, "version": __version__},
            "pages": [],
            "entries": entries,
            "comment": f"run {run.get('id', '')}: secrets redacted, bodies bounded",
        }
    }


def har_text(results: Any) -> str:
    # ASCII escapes: whatever a hand-edited results file holds, the HAR is valid JSON.
    # Compact, one entry a line: indenting would take json's pure-Python encoder (1 s for
    # a default run's 1,500 entries, at the end of every run).
    document = har_document(results)
    entries = document["log"].pop("entries")
    head = json.dumps(document, separators=(",", ":"))
    body = ",\n".join(json.dumps(entry, separators=(",", ":")) for entry in entries)
    return head[:-2] + ',"entries":[\n' + body + "\n]}}\n"


def write_har(path: Path, results: Any) -> Path:
    """Write the HAR atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(har_text(results), encoding="utf-8")
    os.replace(tmp, path)
    return path
