"""Synthetic results.json documents (docs/results-schema.md, version 1) for tests.

``make_results`` builds a whole, self-consistent document: summary counts, by_category
and by_severity are computed by the writer's own ``summarise`` from the cases it
generates, so a consumer that only lays out what the file holds renders a coherent
report. Shared with other test modules.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import msgspec

from conformance._schema import SCHEMA, SEVERITIES, CaseRecord
from conformance._schema import summarise as _summarise

CATEGORIES = ("envelope", "claims", "time", "algorithms", "signature", "keys", "replay")

#: Strings a hostile target could send back; the report must show them as inert text.
HOSTILE_BODY = (
    "<script>alert(1)</script>"
    '<img src=x onerror="alert(2)">'
    "\x1b[31mred\x1b[0m"
    "bad utf-8: \ufffd\ufffd"
    "\u202eevil\u202c"
    "lone surrogate: \udc80"
    "</pre></details><style>body{display:none}</style>"
)
#: Size of the one huge body a hostile document carries (the writer bounds bodies; the
#: renderer must not rely on it).
HUGE_BODY_CHARS = 10 * 1024 * 1024

_HEADER = "eyJhbGciOiJFUzI1NiJ9"
_CLAIMS = "eyJzdWIiOiJ1c2VyLTEifQ"


def make_exchange(
    *, status: int = 401, body: str = '{"error":"invalid_grant"}', latency_ms: float = 1.1
) -> dict[str, Any]:
    return {
        "label": "attempt",
        "method": "POST",
        "url": "http://127.0.0.1:41234/api/v0/sdk/env-1/externalAuth/verify",
        "request_headers": {
            "authorization": "Bearer eyJ…[redacted]",
            "content-type": "application/json",
        },
        "request_body": json.dumps({"jwt": f"{_HEADER}.{_CLAIMS}.[signature cut]"}),
        "assertion": {
            "header": {"alg": "ES256", "kid": "trusted-es256", "typ": "JWT"},
            "claims": {
                "sub": "user-1",
                "iss": "https://issuer.example",
                "aud": "env-1",
                "exp": 1_795_000_000,
                "iat": 1_794_999_940,
                "jti": "5b1f",
                "scope": "wallet:export",
            },
            "signature": "[cut: 86 chars]",
        },
        "status": status,
        "response_headers": {"content-type": "application/json"},
        "response_body": body,
        "latency_ms": latency_ms,
        "error": None,
        "retries": 0,
        "issued": None,
    }


def _verdict_plan(n_cases: int, counts: dict[str, int]) -> list[str]:
    special = [v for v in ("fail", "warn", "error", "skip", "waived") for _ in range(counts[v])]
    if len(special) > n_cases:
        raise ValueError(f"{len(special)} non-pass verdicts do not fit in {n_cases} cases")
    return special + ["pass"] * (n_cases - len(special))


def make_case(
    index: int, *, verdict: str, category: str, severity: str, rng: random.Random
) -> dict[str, Any]:
    case_id = f"{category}.case_{index:04d}"
    outcome = {
        "pass": "rejected",
        "fail": "accepted",
        "warn": "accepted",
        "waived": "accepted",
        "error": "error",
        "skip": "none",
    }[verdict]
    status = {"accepted": 200, "rejected": 401, "error": 500, "none": None}[outcome]
    body = (
        '{"jwt":"eyJ….eyJ….[signature cut]"}'
        if outcome == "accepted"
        else '{"error":"invalid_grant","error_description":"token rejected"}'
    )
    exchanges = (
        []
        if verdict == "skip"
        else [
            make_exchange(status=status or 0, body=body, latency_ms=round(rng.uniform(0.4, 9.0), 3))
        ]
    )
    message = {
        "pass": "",
        "fail": "expected a 4xx and no token; got 200 with a token",
        "warn": "expected a 4xx (hardening); got 200 with a token",
        "waived": "expected a 4xx and no token; got 200 with a token (waived)",
        "error": "the target answered 500 Internal Server Error",
        "skip": "needs capability 'second_user', which this target lacks",
    }[verdict]
    return {
        "id": case_id,
        "title": f"synthetic case {index} in {category}",
        "category": category,
        "level": "should" if verdict == "warn" else "must",
        "severity": severity,
        "expect": "reject",
        "correct": "refuses it with a 4xx and issues no token",
        "rationale": "A token minted from this assertion lets an attacker act as the user.",
        "references": ["RFC 7519 §4.1.4", "RFC 8725 §3.1"],
        "anchors": ["C02"],
        "verdict": verdict,
        "outcome": outcome,
        "message": message,
        "nodeid": f"conformance/suite/test_catalog.py::test_case[{case_id}]",
        "reproduce": (
            "curl -sS -X POST 'http://127.0.0.1:41234/api/v0/sdk/env-1/externalAuth/verify' "
            "-H 'authorization: Bearer [redacted]' --data '{\"jwt\": \"[forged]\"}'"
        ),
        "duration_ms": round(rng.uniform(0.5, 12.0), 3),
        "waiver": (
            {
                "id": case_id,
                "reason": "accepted risk until the new verifier ships",
                "owner": "security@example.com",
                "expires": "2027-01-31",
                "state": "active",
            }
            if verdict == "waived"
            else None
        ),
        "exchanges": exchanges,
    }


def summarise(cases: list[dict[str, Any]], *, retries: int = 0) -> dict[str, Any]:
    """The writer's own ``summarise`` over dict cases (validated by the models first)."""
    records = msgspec.convert(cases, list[CaseRecord])
    summary: dict[str, Any] = msgspec.to_builtins(_summarise(records, retries=retries))
    return summary


def make_results(
    n_cases: int = 40,
    failures: int = 3,
    *,
    critical: int = 1,
    warns: int = 1,
    errors: int = 0,
    skips: int = 1,
    waived: int = 1,
    hostile: bool = False,
    seed: int = 12345,
    categories: tuple[str, ...] = CATEGORIES,
) -> dict[str, Any]:
    """A whole results document with ``n_cases`` cases.

    ``failures`` cases fail (the first ``critical`` of them with severity critical), then
    ``warns``, ``errors``, ``skips`` and ``waived`` cases; the rest pass. ``hostile=True``
    puts attacker-controlled strings (script tags, ANSI escapes, a 10 MB body, replacement
    and bidi characters) in every field a target could influence. Raises ``ValueError``
    when the requested verdicts do not fit in ``n_cases`` or ``critical > failures``.
    """
    if critical > failures:
        raise ValueError(f"critical ({critical}) cannot exceed failures ({failures})")
    rng = random.Random(seed)
    plan = _verdict_plan(
        n_cases,
        {"fail": failures, "warn": warns, "error": errors, "skip": skips, "waived": waived},
    )
    cases = []
    fails_seen = 0
    for i, verdict in enumerate(plan):
        if verdict == "fail":
            severity = "critical" if fails_seen < critical else "high"
            fails_seen += 1
        else:
            severity = SEVERITIES[1 + i % 4]
        cases.append(
            make_case(
                i,
                verdict=verdict,
                category=categories[i % len(categories)],
                severity=severity,
                rng=rng,
            )
        )
    facts: dict[str, Any] = {
        "clock_tolerance_s": {"value": 30, "detail": "accepted exp=-29s, rejected exp=-31s"},
        "accepted_algs": {"value": ["ES256", "RS256"], "detail": "probed 9 algorithms"},
        "token_lifetime_s": {"value": 300, "detail": "exp - iat of the issued token"},
    }
    if hostile:
        _poison(cases)
        facts["server_header"] = {"value": HOSTILE_BODY, "detail": HOSTILE_BODY}
    cases.sort(
        key=lambda c: (
            categories.index(c["category"]) if c["category"] in categories else len(categories),
            c["id"],
        )
    )
    return {
        "schema": SCHEMA,
        "schema_version": 1,
        "run": {
            "id": "20261125T083000Z-1a2b3c",
            "started_at": "2026-11-25T08:30:00Z",
            "finished_at": "2026-11-25T08:30:09Z",
            "duration_s": 9.1,
            "suite_version": "0.1.0",
            "catalog_version": "2026.11.1",
            "seed": seed,
            "strict": False,
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64",
            "target": {
                "profile": "dynamic",
                "base_url": "http://127.0.0.1:41234/api/v0",
                "environment_id": "env-1",
                "issuer": "https://issuer.example",
                "audience": None,
                "embedded": True,
                "flaws": [],
            },
        },
        "summary": summarise(cases),
        "facts": facts,
        "cases": cases,
    }


def _poison(cases: list[dict[str, Any]]) -> None:
    """Put hostile strings wherever the target's answers (or a case's text) end up."""
    failing = [c for c in cases if c["verdict"] in ("fail", "error", "warn")]
    for case in failing or cases[:1]:
        case["message"] = HOSTILE_BODY
        for exchange in case["exchanges"]:
            exchange["response_body"] = HOSTILE_BODY
            exchange["response_headers"] = {"x-evil<script>": HOSTILE_BODY}
            exchange["error"] = HOSTILE_BODY
            exchange["assertion"] = {"raw_preview": HOSTILE_BODY}
    first = (failing or cases)[0]
    if first["exchanges"]:
        first["exchanges"][0]["response_body"] = "<script>alert(3)</script>" + "A" * HUGE_BODY_CHARS
    first["title"] = "<script>alert(4)</script> title"
    # '$' starts matplotlib mathtext and '{' is invalid in it: labels must stay literal.
    first["category"] = "evil$\\frac{<b>$"


def write_results(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as UTF-8 JSON at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # ensure_ascii (the default) because only an escape can carry a lone surrogate.
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def with_verdicts(data: dict[str, Any], changes: dict[str, str]) -> dict[str, Any]:
    """A copy of ``data`` where the cases named in ``changes`` get new verdicts."""
    new = copy.deepcopy(data)
    for case in new["cases"]:
        if case["id"] in changes:
            case["verdict"] = changes[case["id"]]
    new["summary"] = summarise(new["cases"])
    return new


def shipped_schema() -> dict[str, Any]:
    """The JSON Schema of results.json as the installed package ships it."""
    from importlib.resources import files

    text = files("conformance").joinpath("schemas/results.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def assert_valid_results(path: Path) -> dict[str, Any]:
    """Validate the results file at ``path`` against the shipped JSON Schema (jsonschema,
    independent of the models that wrote it); the document. Fails listing every error."""
    import jsonschema

    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(shipped_schema())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(data)
    ]
    assert not errors, errors[:10]
    return data
