"""Error hygiene on every refusal (issue 14, class 7): judged once over all of them.

The engine inspects each clean refusal as it records it (``conformance._hygiene``);
these cases run last in the catalog and judge that log: every refusal the run recorded
before them in this process, besides the few probes they send themselves (markup in the
``kid`` and in ``sub``, which an HTML error page would render). Refusals of the
``errors.*`` cases are judged by those cases, so none is counted twice. Under
pytest-xdist a worker sees only its share: a finding still fails, finding none skips.

* ``errors.hygiene.every_refusal_discloses_nothing`` (``must``): no stack trace, private
  key material, exception repr, "expected <value>", echoed signature, and no attacker
  markup reflected into a non-JSON answer; an echoed public key is public (the fact
  ``refusals_echoing_public_key`` counts them);
* ``errors.hygiene.every_refusal_json_error`` (``should``): every refused exchange answers
  the documented JSON error (an object with an ``error`` string); another legitimate shape
  warns, never fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .authoring import Case, CaseContext, Level, Severity, case

__all__ = ["CASES", "NOT_APPLICABLE", "PROBES"]

#: Markup an HTML error page would render, sent where a verifier is likely to quote it.
PROBES: tuple[tuple[str, str], ...] = (
    ("kid", "<svg onload=alert('conformance-kid')>"),
    ("sub", "<img src=x onerror=alert('conformance-sub')>"),
)
_SHOWN = 5


def _probe(ctx: CaseContext) -> None:
    attacker = ctx.keyring.attacker(ctx.key.alg)
    kid_probe = ctx.assertion().with_header(kid=PROBES[0][1])
    ctx.send(ctx.sign(kid_probe, key=attacker), label="probe: markup in kid")
    ctx.send(ctx.sign(ctx.assertion().with_claims(sub=PROBES[1][1])), label="probe: markup in sub")


def _judge(*kinds: str) -> Any:
    def run(ctx: CaseContext) -> None:
        _probe(ctx)
        log = ctx.refusals
        count, findings = log.of(*kinds)
        ctx.fact(
            "refusals_inspected",
            log.checked,
            "clean refusals inspected for error hygiene in this process (errors.* excluded)",
        )
        if "disclosure" in kinds:
            echoed, _ = log.of("public_key")
            ctx.fact(
                "refusals_echoing_public_key",
                echoed,
                "refusals that echo a public key (public: no disclosure)",
            )
        if count:
            shown = "; ".join(f.line() for f in findings[:_SHOWN])
            more = f" (and {count - _SHOWN} more)" if count > _SHOWN else ""
            ctx.fail(f"{count} of {log.checked} refusals: {shown}{more}")
        if log.partial:  # the other refusals of the run were never seen here
            ctx.skip(
                f"none of the {log.checked} refusals seen by {log.partial} had a problem, "
                "but the run's other refusals were recorded elsewhere: run without -n to "
                "judge them all"
            )

    return run


_REFS = (
    "RFC 6749 §5.2",
    "PayloadsAllTheThings (CVE-2019-7644)",
    "OWASP Error Handling Cheat Sheet",
    "CWE-209",
    "CWE-79",
)

CASES: tuple[Case, ...] = (
    case(
        "errors.hygiene.every_refusal_discloses_nothing",
        "No refusal of the run discloses internals or reflects markup unescaped",
        category="errors",
        run=_judge("disclosure", "reflection"),
        control=False,
        severity=Severity.HIGH,
        anchors=("M03",),
        rationale="A leak or a reflection usually shows on one path only (a failed key "
        "fetch, a claim the parser choked on): judging every refusal of the run finds the "
        "one the fixed triggers miss. An expected signature in an error is a token "
        "(CVE-2019-7644); markup reflected into an HTML error runs in a browser.",
        correct="every refusal is free of stack traces, private key material and echoed "
        "signatures, and quotes no attacker markup outside JSON",
        references=_REFS,
    ),
    case(
        "errors.hygiene.every_refusal_json_error",
        "Every refused exchange answers a JSON object with an error string",
        category="errors",
        run=_judge("shape"),
        control=False,
        level=Level.SHOULD,
        severity=Severity.LOW,
        anchors=("M02",),
        rationale="The documented error shape is a JSON body with an error string; a "
        "refusal that answers HTML or nothing on some path breaks clients there and "
        "usually marks an unhandled branch.",
        correct='every refusal answers {"error": "<short text>"} (more members allowed)',
        references=_REFS[:1],
    ),
)

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
