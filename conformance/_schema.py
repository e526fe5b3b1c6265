"""The results.json models: one definition for the writer, the reader and the JSON Schema.

``Results`` is the whole document; the writer (``_results.py``) builds it, the report
(``report/_load.py``) validates what it reads through it, and
``conformance/schemas/results.schema.json`` plus the field tables of
``docs/results-schema.md`` are generated from it::

    python3 -m conformance._schema > conformance/schemas/results.schema.json
    python3 tools/results_schema.py          # both files; --check only compares

Schema version 2 added the run verdicts ``incomplete`` and ``conformant_with_gaps``,
``summary.coverage`` and ``run.selection``; the reader still reads version 1. Fields
that files of version 1 may lack (``failure``, ``rerun``, ``waited_ms``, ``requests``,
``unused_waivers``, ``coverage``, ``selection``, ``runner``, and an exchange's
``sent_at``, added within version 2) have defaults, so old baselines still load; every
other field is required, and the writer always writes every field.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from ._version import RESULTS_SCHEMA_VERSION

__all__ = [
    "RUN_VERDICTS",
    "SCHEMA",
    "SCHEMA_ID",
    "SEVERITIES",
    "SUPPORTED_SCHEMA_VERSIONS",
    "VERDICTS",
    "CaseRecord",
    "Counts",
    "Coverage",
    "ExchangeRecord",
    "Fact",
    "Results",
    "RunInfo",
    "Scope",
    "Selection",
    "Summary",
    "TokenRecord",
    "WaiverRecord",
    "json_schema",
    "json_schema_text",
    "markdown_tables",
    "summarise",
]

SCHEMA: Final = "exchange-conformance/results"
SCHEMA_ID: Final = f"urn:exchange-conformance:results:v{RESULTS_SCHEMA_VERSION}"
#: The schema versions the reader accepts (a baseline from an earlier run must still load).
SUPPORTED_SCHEMA_VERSIONS = frozenset({1, 2})
Verdict = Literal["pass", "fail", "warn", "error", "skip", "waived"]
RunVerdict = Literal["conformant", "conformant_with_gaps", "not_conformant", "error", "incomplete"]
Outcome = Literal["accepted", "rejected", "error", "judged", "none"]
Level = Literal["must", "should"]
Severity = Literal["critical", "high", "medium", "low", "info"]
Expect = Literal["accept", "reject", "either"]
Kind = Literal["security", "interop"]
WaiverState = Literal["active", "expired", "stale", "not_applied"]

VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "warn", "error", "skip", "waived")
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
RUN_VERDICTS: tuple[RunVerdict, ...] = (
    "conformant",
    "conformant_with_gaps",
    "not_conformant",
    "error",
    "incomplete",
)
#: More than this share of the profile's critical cases unproved is a gap on its own.
GAP_SHARE: Final = 0.10


def _d(text: str) -> Meta:
    return Meta(description=text)


class TokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A token as evidence: decoded ``header``/``claims`` with the signature cut; or
    ``raw_preview`` (the first 120 characters) when it does not decode; or, for an opaque
    secret, ``opaque`` (only its length). Only the members that apply are written; the
    decoded parts are whatever JSON the token held (a forged one need not hold objects)."""

    header: Annotated[Any | UnsetType, _d("decoded JOSE header (strings bounded)")] = UNSET
    claims: Annotated[Any | UnsetType, _d("decoded claims (strings bounded)")] = UNSET
    signature: Annotated[str | UnsetType, _d('"[cut: N chars]": never the signature')] = UNSET
    raw_preview: Annotated[
        str | UnsetType, _d("first 120 chars (scrubbed) when it does not decode")
    ] = UNSET
    opaque: Annotated[str | UnsetType, _d('"[redacted: N chars]" for an opaque secret')] = UNSET


class ExchangeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request and its answer, bounded (4096 characters a body) and redacted."""

    label: Annotated[str, _d("the exchange's role: attempt, control, baseline, …")]
    method: Annotated[str, _d("HTTP method")]
    url: Annotated[str, _d("request URL")]
    request_headers: Annotated[dict[str, str], _d("lower-case names; credentials redacted")]
    request_body: Annotated[str, _d("JWS signatures cut")]
    assertion: Annotated[TokenRecord | None, _d("the assertion sent, decoded")]
    status: Annotated[int | None, _d("HTTP status; null when no answer came")]
    response_headers: Annotated[dict[str, str], _d("lower-case names; values scrubbed")]
    response_body: Annotated[str, _d("bounded, signatures cut, control characters escaped")]
    latency_ms: Annotated[float, _d("request to response, milliseconds")]
    error: Annotated[str | None, _d("why no answer came (timeout, reset, refused)")]
    retries: Annotated[int, _d("transport retries of this request (429/503, connect)")]
    issued: Annotated[TokenRecord | None, _d("the issued token, never whole")]
    sent_at: Annotated[
        str, _d("when the request left, ISO 8601 UTC with milliseconds ('' in older files)")
    ] = ""


class WaiverRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The waiver that matched a case (see ``docs/configuration.md``, waivers)."""

    id: Annotated[str, _d("the waiver's case id or glob")]
    reason: Annotated[str, _d("why the risk is accepted")]
    owner: Annotated[str, _d("who answers for it")]
    expires: Annotated[str, _d("last day it holds (ISO date)")]
    state: Annotated[
        WaiverState,
        _d(
            "active: verdict waived; expired: fail; stale: the case passes; not_applied: "
            "error/skip, never waived"
        ),
    ]


class CaseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One case of the run: the catalog's data, the verdict and the evidence."""

    id: Annotated[str, _d("stable case id")]
    title: Annotated[str, _d("one line")]
    category: Annotated[str, _d("catalog category")]
    level: Annotated[Level, _d("must (contract) or should (hardening)")]
    severity: Annotated[Severity, _d("impact when the case fails")]
    expect: Annotated[Expect, _d("what a correct endpoint does with the assertion")]
    kind: Annotated[
        Kind, _d("security: accepting it gains a token; interop: refusing it is too strict")
    ] = "security"
    correct: Annotated[str, _d("a correct endpoint's behaviour, in words")]
    rationale: Annotated[str, _d("why it matters")]
    references: Annotated[list[str], _d("RFC sections, tools, test suites")]
    anchors: Annotated[list[str], _d("threat-catalog rows")]
    verdict: Annotated[Verdict, _d("final verdict, after strict and waivers")]
    outcome: Annotated[
        Outcome,
        _d(
            "of the judged exchange; judged: several exchanges and the case's own checks; "
            "none: nothing was sent"
        ),
    ]
    message: Annotated[str, _d("what this endpoint did, or why the case was skipped")]
    failure: Annotated[
        str, _d("the one-screen failure text; empty unless the engine judged fail/error")
    ] = ""
    nodeid: Annotated[str, _d("pytest node id (relative to its rootdir)")]
    rerun: Annotated[
        str, _d("the command that runs this case again (conformance run or pytest, as started)")
    ] = ""
    reproduce: Annotated[str, _d("a curl line, secrets redacted")]
    duration_ms: Annotated[float, _d("wall time of the case")]
    waited_ms: Annotated[float, _d("deliberate waits (clock, cache) within duration_ms")] = 0.0
    requests: Annotated[
        float,
        _d(
            "requests this case caused: its exchanges, plus its share (1/n) of a positive "
            "control shared by n rejections; 0 in files written before it was recorded"
        ),
    ] = 0.0
    waiver: Annotated[WaiverRecord | None, _d("the waiver that matched, if any")]
    exchanges: Annotated[list[ExchangeRecord], _d("in the order they were sent")]


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """Cases per final verdict."""

    pass_: Annotated[int, _d("cases that passed")] = msgspec.field(name="pass")
    fail: Annotated[int, _d("failed (a should case in a strict run, an expired waiver)")]
    warn: Annotated[int, _d("failed should cases of a run without strict")]
    error: Annotated[int, _d("the target erred (5xx, no answer); decides nothing")]
    skip: Annotated[int, _d("could not run here (a capability is missing)")]
    waived: Annotated[int, _d("failures covered by an active waiver")]

    def get(self, verdict: str) -> int:
        """The count of ``verdict`` (``"pass"`` … ``"waived"``)."""
        return int(getattr(self, "pass_" if verdict == "pass" else verdict))


class Coverage(msgspec.Struct, frozen=True, kw_only=True):
    """What the run covered: of the profile's catalog, what was selected, what ran, what
    was skipped, and whether the run finished. A verdict is only as good as this."""

    complete: Annotated[
        bool, _d("every selected case has a verdict and the session was not stopped early")
    ]
    stopped: Annotated[str, _d("why the run stopped early (Ctrl-C, -x, a crashed worker); ''")]
    catalog: Annotated[int, _d("cases of the target's profile in the catalog (with extensions)")]
    selected: Annotated[int, _d("cases the run selected (options, then pytest's -k/-m)")]
    ran: Annotated[int, _d("selected cases that got a verdict other than skip")]
    skipped: Annotated[int, _d("selected cases that were skipped (a capability missing…)")]
    not_run: Annotated[int, _d("selected cases without any verdict (the run stopped first)")]
    skipped_by_category: Annotated[dict[str, int], _d("skipped cases per category")]
    skipped_by_severity: Annotated[dict[str, int], _d("skipped cases per severity")]
    critical: Annotated[int, _d("critical cases of the profile's catalog")]
    critical_unproved: Annotated[
        int, _d("critical cases of the catalog that did not run: skipped, not selected, not run")
    ]
    gaps: Annotated[list[str], _d("why the verdict is conformant_with_gaps (empty when it is not)")]


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Everything counted from ``cases`` (``summarise``), plus the transport retries."""

    verdict: Annotated[
        RunVerdict,
        _d(
            "incomplete when the run stopped early; else not_conformant when a case fails; "
            "else error when one erred; else conformant_with_gaps when critical cases were "
            "left unproved wholesale; else conformant"
        ),
    ]
    counts: Annotated[Counts, _d("per verdict, the whole run")]
    critical_failures: Annotated[int, _d("fail verdicts with severity critical")]
    by_category: Annotated[dict[str, Counts], _d("per category, in catalog order")]
    by_severity: Annotated[dict[str, Counts], _d("per severity, critical first")]
    retries: Annotated[int, _d("transport retries performed (never turn a verdict)")]
    exchanges: Annotated[int, _d("exchanges recorded over all cases")]
    coverage: Annotated[
        Coverage | None, _d("what the run covered (null in files of schema version 1)")
    ] = None


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    """What the run asked for (the ``--conformance-*`` selection options)."""

    profile: Annotated[str, _d("the target's profile: cases of other profiles never run")]
    categories: Annotated[list[str], _d("--category (all when empty)")]
    ids: Annotated[list[str], _d("--id globs (all when empty)")]
    level: Annotated[Level | None, _d("--level (both when null)")]
    cases: Annotated[list[str], _d("--cases modules added to the catalog")]
    deselected: Annotated[
        int, _d("cases the options selected that pytest's own -k/-m/--deselect left out")
    ] = 0


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who ran what against which target, and when."""

    id: Annotated[str, _d("run id: UTC timestamp and a random suffix")]
    started_at: Annotated[str, _d("ISO 8601, UTC")]
    finished_at: Annotated[str, _d("ISO 8601, UTC")]
    duration_s: Annotated[float, _d("wall time of the run")]
    suite_version: Annotated[str, _d("exchange-conformance version")]
    catalog_version: Annotated[str, _d("bumped when a case is added, removed or changed")]
    seed: Annotated[
        int | None, _d("the property cases' Hypothesis seed (--hypothesis-seed reproduces)")
    ]
    strict: Annotated[bool, _d("--conformance-strict: a failed should case is fail")]
    python: Annotated[str, _d("Python version")]
    platform: Annotated[str, _d("platform.platform(terse=True)")]
    target: Annotated[
        dict[str, Any],
        _d("the target's description (profile, URLs, issuer, …) plus embedded and flaws"),
    ]
    unused_waivers: Annotated[
        list[str], _d("waiver ids that matched no case (a typo, a renamed case)")
    ] = msgspec.field(default_factory=list)
    selection: Annotated[
        Selection | None, _d("what the run selected (null in files of schema version 1)")
    ] = None
    runner: Annotated[
        Literal["cli", "pytest", ""],
        _d("how the run was started: conformance run (cli) or pytest; '' when not recorded"),
    ] = ""


class Fact(msgspec.Struct, frozen=True, kw_only=True):
    """Something measured about the target (clock offset, tolerance, token lifetime…)."""

    value: Annotated[Any, _d("the measurement (number, string, boolean, list)")]
    detail: Annotated[str, _d("how it was measured")]


class Results(msgspec.Struct, frozen=True, kw_only=True):
    """The whole ``results.json`` document. Every model is frozen and keyword-only;
    unknown fields (from a newer writer) are ignored by the reader."""

    schema: Annotated[Literal["exchange-conformance/results"], _d("always this string")]
    schema_version: Annotated[int, _d("the version of this shape")]
    run: Annotated[RunInfo, _d("the run")]
    summary: Annotated[Summary, _d("counted from cases")]
    facts: Annotated[dict[str, Fact], _d("measured about the target; may be empty")]
    cases: Annotated[list[CaseRecord], _d("category order, then id")]


# -- counting -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What a run set out to do, for :func:`summarise`: the profile's ``catalog`` as
    ``(id, category, severity)``, the ids it ``selected``, and why it ``stopped`` early
    (``""`` when it did not)."""

    catalog: tuple[tuple[str, str, str], ...]
    selected: frozenset[str]
    stopped: str = ""

    @classmethod
    def of(cls, cases: Iterable[CaseRecord]) -> Scope:
        """The scope a list of records implies: catalog and selection are the records."""
        rows = tuple((c.id, c.category, c.severity) for c in cases)
        return cls(catalog=rows, selected=frozenset(r[0] for r in rows))


def coverage(cases: Iterable[CaseRecord], scope: Scope) -> Coverage:
    """What ``cases`` covered of ``scope`` (see :class:`Coverage`); the ``gaps`` say which
    critical cases were left unproved wholesale: every critical case of a category, or more
    than a tenth (:data:`GAP_SHARE`) of the profile's critical cases."""
    records = list(cases)
    ran = {c.id for c in records if c.verdict != "skip"}
    recorded = {c.id for c in records}
    selected = scope.selected | recorded
    skipped = [c for c in records if c.verdict == "skip"]
    not_run = len(selected - recorded)
    stopped = scope.stopped
    if not_run and not stopped:
        stopped = f"{not_run} selected cases have no verdict (a crashed worker?)"
    catalog = {row[0]: row for row in scope.catalog}
    for c in records:  # a case the catalog does not list (an old baseline) still counts
        catalog.setdefault(c.id, (c.id, c.category, c.severity))
    critical = [row for row in catalog.values() if row[2] == "critical"]
    unproved = [row for row in critical if row[0] not in ran]
    gaps: list[str] = []
    if critical and len(unproved) > GAP_SHARE * len(critical):
        skipped_ids = {c.id for c in skipped}
        how = {
            "skipped": sum(row[0] in skipped_ids for row in unproved),
            "not selected": sum(row[0] not in selected for row in unproved),
            "not run": sum(row[0] in selected and row[0] not in recorded for row in unproved),
        }
        detail = ", ".join(f"{n} {what}" for what, n in how.items() if n)
        gaps.append(f"{len(unproved)} of {len(critical)} critical cases did not run ({detail})")
    by_category: dict[str, list[tuple[str, str, str]]] = {}
    for row in critical:
        by_category.setdefault(row[1], []).append(row)
    blind = [c for c, rows in by_category.items() if all(row[0] not in ran for row in rows)]
    if blind:
        gaps.append(f"no critical case ran in {len(blind)} categories: {', '.join(blind)}")
    return Coverage(
        complete=not stopped,
        stopped=stopped,
        catalog=len(catalog),
        selected=len(selected),
        ran=len(ran),
        skipped=len(skipped),
        not_run=not_run,
        skipped_by_category=_tally(c.category for c in skipped),
        skipped_by_severity={s: sum(c.severity == s for c in skipped) for s in SEVERITIES},
        critical=len(critical),
        critical_unproved=len(unproved),
        gaps=gaps,
    )


def _tally(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


def summarise(
    cases: Iterable[CaseRecord], *, retries: int = 0, scope: Scope | None = None
) -> Summary:
    """Count ``cases`` by verdict, category and severity; decide the run's verdict.

    The run is ``incomplete`` when it stopped before every selected case had a verdict
    (whatever those that ran did: what did not run proves nothing); else
    ``not_conformant`` when any case is ``fail``; else ``error`` when any is ``error``;
    else ``conformant_with_gaps`` when critical cases were left unproved wholesale (see
    :func:`coverage`); else ``conformant`` (warn, skip and waived never fail a run).
    ``scope`` says what the run set out to do; without it, the cases are the whole
    catalog and the whole selection. ``by_category`` follows the order of ``cases``
    (``build_results`` sorts them in catalog order); ``by_severity`` lists every
    severity, critical first.
    """
    records = list(cases)
    counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
    by_category: dict[str, dict[str, int]] = {}
    by_severity: dict[str, dict[str, int]] = {s: dict.fromkeys(VERDICTS, 0) for s in SEVERITIES}
    exchanges = 0
    for case in records:
        counts[case.verdict] += 1
        by_category.setdefault(case.category, dict.fromkeys(VERDICTS, 0))[case.verdict] += 1
        by_severity[case.severity][case.verdict] += 1
        exchanges += len(case.exchanges)
    covered = coverage(records, scope if scope is not None else Scope.of(records))
    verdict: RunVerdict
    if not covered.complete:
        verdict = "incomplete"
    elif counts["fail"]:
        verdict = "not_conformant"
    elif counts["error"]:
        verdict = "error"
    elif covered.gaps:
        verdict = "conformant_with_gaps"
    else:
        verdict = "conformant"
    return Summary(
        verdict=verdict,
        counts=_counts(counts),
        critical_failures=by_severity["critical"]["fail"],
        by_category={k: _counts(v) for k, v in by_category.items()},
        by_severity={k: _counts(v) for k, v in by_severity.items()},
        retries=retries,
        exchanges=exchanges,
        coverage=covered,
    )


def _counts(counts: Mapping[str, int]) -> Counts:
    return msgspec.convert(counts, Counts)


# -- generated artefacts --------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``results.json``, generated from the models."""
    generated = msgspec.json.schema(Results)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"exchange-conformance results.json (schema version {RESULTS_SCHEMA_VERSION})",
        **generated,
    }


def json_schema_text() -> str:
    """:func:`json_schema` as the shipped file holds it (two-space indent, UTF-8)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _type_name(spec: Mapping[str, Any]) -> str:
    if "$ref" in spec:
        return f"`{spec['$ref'].rsplit('/', 1)[-1]}`"
    if "enum" in spec:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "anyOf" in spec:
        return " or ".join(_type_name(s) for s in spec["anyOf"])
    kind = spec.get("type")
    if kind == "array":
        return f"array of {_type_name(spec.get('items', {}))}"
    if kind == "object":
        values = spec.get("additionalProperties")
        return f"object of {_type_name(values)}" if isinstance(values, dict) else "object"
    if kind is None:
        return "any"
    return str(kind)


def markdown_tables() -> str:
    """One Markdown table per model (field, type, required, meaning), from the schema."""
    defs = json_schema()["$defs"]
    order = [
        "Results",
        "RunInfo",
        "Selection",
        "Summary",
        "Coverage",
        "Counts",
        "Fact",
        "CaseRecord",
        "WaiverRecord",
        "ExchangeRecord",
        "TokenRecord",
    ]
    missing = sorted(set(defs) - set(order))
    if missing:
        raise RuntimeError(f"models without a place in the documentation: {missing}")
    out: list[str] = []
    for name in order:
        spec = defs[name]
        text = spec.get("description", "").replace("\n", " ").replace("``", "`")
        out += [f"### `{name}`", "", text, ""]
        out += ["| field | type | required | meaning |", "|---|---|---|---|"]
        required = set(spec.get("required", ()))
        for field, prop in spec["properties"].items():
            if field in required:
                default = "yes"
            elif "default" in prop:
                default = f"no (`{json.dumps(prop['default'])}`)"
            else:
                default = "no (absent)"
            meaning = prop.get("description", "").replace("``", "`").replace("|", "\\|")
            out.append(f"| `{field}` | {_type_name(prop)} | {default} | {meaning} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python3 -m conformance._schema [--markdown]``: print the schema (or the tables)."""
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.write(markdown_tables() if args == ["--markdown"] else json_schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
