"""results.sarif: a run's findings as SARIF 2.1.0, for GitHub code scanning and the like.

A consumer of results.json, like junit.xml. One rule per weakness family that has a
finding (``conformance.findings``), one result per failing, warned or erring case.

What code scanning needs of a dynamic test, and how it is met here:

* every result is anchored to a file of the repository: the configuration file that
  names the target (the line of its URL, else of its ``[target]`` table), or
  ``README.md`` for the embedded emulator, as a path relative to the working directory
  (``uriBaseId`` ``%SRCROOT%``): an ``http`` URI would be refused;
* ``partialFingerprints`` are a hash of the target's label and the case id: the same
  case against the same target is the same alert run after run, whatever line it is on;
* ``automationDetails.id`` is ``conformance/<target label>/``: uploads for several
  targets of one repository are separate categories and never close each other's alerts;
* rules carry ``security-severity`` (a string, 0.0-10.0) and ``tags`` with ``security``
  and ``external/cwe/cwe-NNN``; ``help`` holds the remediation.

Messages hold case ids verbatim and text from results.json (already scrubbed by the
writer); any compact JWS left in them has its signature cut again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._redact import cut_signatures, one_line
from ._version import __version__
from .catalog.weaknesses import by_family, cwe_url
from .findings import Finding, findings

__all__ = [
    "SARIF_SCHEMA",
    "anchor",
    "sarif_document",
    "sarif_text",
    "target_label",
    "write_sarif",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "exchange-conformance"
#: where the embedded emulator's results are anchored (there is no configuration file)
EMBEDDED_ANCHOR = "README.md"
_LEVEL = {"fail": "error", "warn": "warning", "error": "note"}
_URL_KEY = re.compile(r"^\s*(base_url|token_url)\s*=")
_TARGET_TABLE = re.compile(r"^\s*\[\s*(tool\.conformance\.)?target\s*\]")
_MESSAGE_LIMIT = 1500


def _as_document(results: Any) -> Mapping[str, Any]:
    if isinstance(results, Mapping):
        return results
    import msgspec  # lazy: heavy; only a Results struct (not the report's dict) needs it

    document: dict[str, Any] = msgspec.to_builtins(results)
    return document


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def target_label(target: Mapping[str, Any]) -> str:
    """A stable, path-safe label of the target: ``embedded``, or the profile, the host
    and the tenant (``dynamic-app.dynamicauth.com-<environment id>``,
    ``rfc7523-as.example-<client id>``). Never a secret: these are the configuration's
    public identifiers."""
    if target.get("embedded"):
        return "embedded"
    profile = str(target.get("profile") or "target")
    url = str(target.get("base_url") or target.get("token_url") or "")
    host = urlsplit(url).netloc if url else ""
    tenant = str(target.get("environment_id") or target.get("client_id") or "")
    return "-".join(_slug(p) for p in (profile, host, tenant) if p)


def _config_path(source: str) -> str:
    # RunConfig.source: "path/to/file.toml" or "/abs/pyproject.toml [tool.conformance]"
    return source.split(" [", 1)[0]


def _relative(path: str, cwd: Path) -> str:
    candidate = Path(path)
    try:
        resolved = (cwd / candidate).resolve() if not candidate.is_absolute() else candidate
        return resolved.relative_to(cwd.resolve()).as_posix()
    except (ValueError, OSError):
        # outside the working directory: a relative path as given, else the bare name
        return candidate.as_posix() if not candidate.is_absolute() else candidate.name


def _line(path: Path) -> int:
    """The line of the target's URL key in ``path``, else of its ``[target]`` table, else 1."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 1
    table = 0
    for number, line in enumerate(lines, 1):
        if _URL_KEY.match(line):
            return number
        if not table and _TARGET_TABLE.match(line):
            table = number
    return table or 1


def anchor(target: Mapping[str, Any], *, cwd: Path | None = None) -> tuple[str, int]:
    """The repository file (relative, ``/``-separated) and line a result is anchored to."""
    cwd = cwd or Path.cwd()
    source = target.get("config")
    if target.get("embedded") or not isinstance(source, str) or not source:
        return EMBEDDED_ANCHOR, 1
    path = _config_path(source)
    full = Path(path) if Path(path).is_absolute() else cwd / path
    return _relative(path, cwd), _line(full)


def _fingerprint(label: str, case_id: str) -> str:
    return hashlib.sha256(f"{label}\x00{case_id}".encode()).hexdigest()


def _text(value: Any, limit: int = _MESSAGE_LIMIT) -> str:
    text = one_line(cut_signatures(str(value)))
    return text if len(text) <= limit else text[:limit] + "…"


def _help(finding: Finding) -> tuple[str, str]:
    lines = [finding.remediation, ""]
    md = [finding.remediation, ""]
    if finding.spec:
        lines.append("Spec: " + "; ".join(finding.spec))
        md.append("**Spec:** " + "; ".join(finding.spec))
    if finding.cwe:
        lines.append("CWE: " + ", ".join(finding.cwe))
        md.append("**CWE:** " + ", ".join(f"[{c}]({cwe_url(c)})" for c in finding.cwe))
    if finding.asvs:
        lines.append("OWASP ASVS 5.0: " + ", ".join(finding.asvs))
        md.append("**OWASP ASVS 5.0:** " + ", ".join(finding.asvs))
    if finding.references:
        lines.append("References: " + " ".join(finding.references))
        md += ["", *(f"- <{r}>" for r in finding.references)]
    return "\n".join(lines).strip(), "\n\n".join(m for m in md if m != "").strip()


def _rule(finding: Finding) -> dict[str, Any]:
    text, markdown = _help(finding)
    weakness = by_family(finding.family)
    tags = ["security", *(f"external/cwe/{c.lower()}" for c in finding.cwe)]
    tags += [f"owasp-asvs-5.0/{a}" for a in finding.asvs]
    return {
        "id": finding.family,
        "name": "".join(p.capitalize() for p in re.split(r"[._]", finding.family)),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": finding.impact},
        "help": {"text": text, "markdown": markdown},
        "helpUri": finding.references[0] if finding.references else None,
        "defaultConfiguration": {"level": "error" if finding.level == "must" else "warning"},
        "properties": {
            "tags": tags[:10],
            "precision": "high",
            "problem.severity": "error" if finding.level == "must" else "warning",
            "security-severity": f"{finding.security_severity:.1f}",
            "generic": weakness is None,
        },
    }


def _result(
    case: Mapping[str, Any],
    *,
    rule_index: int,
    rule_id: str,
    label: str,
    where: tuple[str, int],
    target: Mapping[str, Any],
) -> dict[str, Any]:
    case_id = str(case["id"])
    verdict = str(case["verdict"])
    said = _text(case.get("message") or "", 900)
    what = {"fail": "failed", "warn": "failed (hardening)", "error": "erred"}[verdict]
    message = f"{case_id} {what}: {_text(case.get('title', ''), 300)}."
    if said:
        message += f" {said}"
    uri, line = where
    return {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[verdict],
        "message": {"text": _text(message)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": line},
                },
                "message": {"text": f"target {label}"},
            }
        ],
        "partialFingerprints": {"exchangeConformanceCase/v1": _fingerprint(label, case_id)},
        "properties": {
            "caseId": case_id,
            "verdict": verdict,
            "severity": case.get("severity"),
            "level": case.get("level"),
            "category": case.get("category"),
            "endpoint": _text(target.get("base_url") or target.get("token_url") or "", 300),
            "rerun": _text(case.get("rerun") or "", 600),
        },
    }


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def sarif_document(results: Any, *, cwd: Path | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a run (``results``: the report's document or a ``Results``)."""
    document = _as_document(results)
    run_info: Mapping[str, Any] = document.get("run") or {}
    target: Mapping[str, Any] = run_info.get("target") or {}
    label = target_label(target)
    where = anchor(target, cwd=cwd)
    found = findings(document)
    by_id = {str(c["id"]): c for c in document.get("cases") or ()}
    rules = [_rule(f) for f in found]
    out: list[dict[str, Any]] = []
    for index, finding in enumerate(found):
        for case_id in finding.case_ids:
            out.append(
                _result(
                    by_id[case_id],
                    rule_index=index,
                    rule_id=finding.family,
                    label=label,
                    where=where,
                    target=target,
                )
            )
    summary: Mapping[str, Any] = document.get("summary") or {}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"conformance/{label}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository root"}}},
        "results": out,
        "properties": {
            "runId": run_info.get("id"),
            "verdict": summary.get("verdict"),
            "profile": target.get("profile"),
        },
    }
    log: dict[str, Any] = _drop_none({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]})
    return log


def sarif_text(results: Any, *, cwd: Path | None = None) -> str:
    return json.dumps(sarif_document(results, cwd=cwd), indent=1, ensure_ascii=False) + "\n"


def write_sarif(path: Path, results: Any, *, cwd: Path | None = None) -> Path:
    """Write the SARIF log atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(sarif_text(results, cwd=cwd), encoding="utf-8")
    os.replace(tmp, path)
    return path
