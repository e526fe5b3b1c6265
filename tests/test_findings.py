"""Findings: every case belongs to one weakness family; a run's failures group by it."""

from __future__ import annotations

import re

import msgspec
import pytest
from catalog_results import results_with

from conformance._schema import Results
from conformance.catalog import CASES
from conformance.catalog.weaknesses import WEAKNESSES, generic, weakness_for
from conformance.findings import Finding, findings, security_severity

#: ASVS 5.0.0 requirement ids checked against the release's text (V2, V9, V10, V16).
KNOWN_ASVS = {
    *(f"V2.2.{n}" for n in (1, 2, 3)),
    *(f"V2.3.{n}" for n in range(1, 6)),
    "V2.4.1",
    "V2.4.2",
    *(f"V9.1.{n}" for n in (1, 2, 3)),
    *(f"V9.2.{n}" for n in (1, 2, 3, 4)),
    *(f"V10.3.{n}" for n in range(1, 6)),
    *(f"V10.4.{n}" for n in range(1, 17)),
    "V16.4.1",
    *(f"V16.5.{n}" for n in range(1, 5)),
}


def test_every_builtin_case_belongs_to_exactly_one_family() -> None:
    orphans = []
    ambiguous = {}
    for case in CASES:
        families = [w.family for w in WEAKNESSES if w.matches(case.id)]
        if not families:
            orphans.append(case.id)
        elif len(families) > 1:
            ambiguous[case.id] = families
    assert not orphans, f"cases without a weakness family: {orphans}"
    assert not ambiguous, f"cases in several families: {ambiguous}"


def test_every_family_names_some_case_and_no_dead_prefix() -> None:
    ids = [c.id for c in CASES]
    for weakness in WEAKNESSES:
        for prefix in weakness.prefixes:
            assert any(i == prefix or i.startswith(prefix + ".") for i in ids), (
                f"{weakness.family}: prefix {prefix!r} matches no case"
            )


def test_family_ids_are_unique_and_data_is_well_formed() -> None:
    families = [w.family for w in WEAKNESSES]
    assert len(families) == len(set(families))
    for w in WEAKNESSES:
        assert w.title and "\n" not in w.title, w.family
        assert w.impact and "\n" not in w.impact, w.family
        assert w.remediation, w.family
        assert all(re.fullmatch(r"CWE-\d+", c) for c in w.cwe), w.family
        assert set(w.asvs) <= KNOWN_ASVS, (w.family, set(w.asvs) - KNOWN_ASVS)
        assert all(r.startswith("https://") for r in w.references), w.family


def test_an_extension_case_outside_every_family_gets_its_category_generic_one() -> None:
    assert weakness_for("acme.custom.thing", "claims") == generic("claims")
    assert weakness_for("claims.sub.acme_variant", "claims").family == "claims.sub"


def test_variants_of_one_weakness_are_one_finding_with_the_worst_values() -> None:
    data = results_with(
        {
            "time.exp.past_5min": "pass",
            "algorithms.none.lowercase.empty_signature": "fail",
            "algorithms.none.capitalized.empty_signature": "fail",
            "algorithms.null_signature.rs256": "waived",
            "header.typ.refused.at_jwt": "warn",
            "claims.extra.unknown_claims": "skip",
            "errors.disclosure.garbage": "error",
        }
    )
    found = findings(data)
    by_family = {f.family: f for f in found}
    assert set(by_family) == {"alg.none", "token.type", "errors.disclosure"}
    alg_none = by_family["alg.none"]
    assert alg_none.case_ids == (
        "algorithms.none.lowercase.empty_signature",
        "algorithms.none.capitalized.empty_signature",
    )
    assert (alg_none.severity, alg_none.level, alg_none.verdict) == ("critical", "must", "fail")
    assert "CWE-347" in alg_none.cwe and "V9.1.2" in alg_none.asvs
    assert by_family["token.type"].verdict == "warn"
    assert by_family["errors.disclosure"].verdict == "error"
    # worst first: the critical finding leads
    assert found[0].family == "alg.none"
    assert [f.security_severity for f in found] == sorted(
        (f.security_severity for f in found), reverse=True
    )


def test_worst_severity_level_and_verdict_across_variants() -> None:
    data = results_with(
        {"time.exp.past_5min": "warn", "time.exp.missing": "error", "time.nbf.future_10min": "fail"}
    )
    for case in data["cases"]:
        case.update(severity="low", level="should")
    data["cases"][1].update(severity="high")
    data["cases"][2].update(level="must")
    (finding,) = findings(data)
    assert (finding.severity, finding.level, finding.verdict) == ("high", "must", "fail")


def test_findings_accepts_a_results_struct() -> None:
    data = results_with({"algorithms.none.lowercase.empty_signature": "fail"})
    struct = msgspec.convert(data, Results)
    assert findings(struct) == findings(data)
    assert isinstance(findings(struct)[0], Finding)


def test_a_clean_run_has_no_findings() -> None:
    assert findings(results_with({"time.exp.past_5min": "pass"})) == []


@pytest.mark.parametrize(
    ("severity", "score"), [("critical", 9.5), ("high", 8.0), ("medium", 5.5), ("low", 3.0)]
)
def test_security_severity_falls_in_githubs_bands(severity: str, score: float) -> None:
    assert security_severity(severity) == score


def test_the_documentation_table_of_weaknesses_is_current() -> None:
    from pathlib import Path

    from conformance.catalog.weaknesses import markdown

    doc = Path(__file__).resolve().parent.parent / "docs" / "weaknesses.md"
    assert doc.read_text(encoding="utf-8") == markdown(), (
        "regenerate with: python3 -m conformance.catalog.weaknesses > docs/weaknesses.md"
    )
