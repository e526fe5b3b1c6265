"""results.sarif: valid SARIF 2.1.0 (the official OASIS JSON Schema, copied into
tests/data) that meets what GitHub code scanning requires of an upload. Fast: no servers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from catalog_results import results_with
from factories import write_results

from conformance import cli
from conformance._sarif import anchor, sarif_document, target_label

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

FAILING = {
    "algorithms.none.lowercase.empty_signature": "fail",
    "algorithms.none.mixed.original_signature": "fail",
    "header.jwk.es256_attacker_kid": "fail",
    "header.typ.refused.at_jwt": "warn",
    "errors.disclosure.garbage": "error",
    "time.exp.past_5min": "pass",
    "claims.extra.unknown_claims": "skip",
    "keys.kid.unknown": "waived",
}

DYNAMIC = {
    "embedded": False,
    "profile": "dynamic",
    "base_url": "https://app.dynamicauth.com/api/v0",
    "environment_id": "8a2e4c1d-0000-4000-8000-000000000001",
    "config": "ci/staging.toml",
}


def validate(log: dict[str, Any]) -> None:
    validator_class = jsonschema.validators.validator_for(SCHEMA)
    errors = sorted(validator_class(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def github_requirements(log: dict[str, Any]) -> None:
    """What docs.github.com ("SARIF support for code scanning") requires or advises."""
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert driver["name"] and driver["version"]
        rules = driver["rules"]
        ids = [r["id"] for r in rules]
        assert len(ids) == len(set(ids))
        for rule in rules:
            assert (
                rule["shortDescription"]["text"] and len(rule["shortDescription"]["text"]) <= 1024
            )
            assert rule["fullDescription"]["text"] and rule["help"]["text"]
            props = rule["properties"]
            score = props["security-severity"]
            assert isinstance(score, str) and 0.0 <= float(score) <= 10.0
            assert "security" in props["tags"] and len(props["tags"]) <= 10
            for tag in props["tags"]:
                if tag.startswith("external/cwe/"):
                    assert re.fullmatch(r"external/cwe/cwe-\d+", tag), tag
        category = run["automationDetails"]["id"]
        assert category.endswith("/")
        for result in run["results"]:
            assert result["ruleId"] in ids
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert result["message"]["text"]
            assert result["level"] in {"error", "warning", "note"}
            (location,) = result["locations"]
            physical = location["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            assert not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", uri), f"not relative: {uri}"
            assert not uri.startswith("/")
            assert physical["region"]["startLine"] >= 1
            assert result["partialFingerprints"]


def test_a_run_with_findings_is_valid_sarif_that_code_scanning_accepts(tmp_path: Path) -> None:
    log = sarif_document(results_with(FAILING, **DYNAMIC), cwd=tmp_path)
    validate(log)
    github_requirements(log)


def test_a_clean_run_is_valid_sarif_with_no_results() -> None:
    log = sarif_document(results_with({"time.exp.past_5min": "pass"}))
    validate(log)
    github_requirements(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_one_rule_per_family_and_one_result_per_failing_warned_or_erring_case() -> None:
    run = sarif_document(results_with(FAILING, **DYNAMIC))["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"alg.none", "header.embedded_key", "token.type", "errors.disclosure"}
    alg_none = rules["alg.none"]
    assert alg_none["properties"]["security-severity"] == "9.5"
    assert "external/cwe/cwe-347" in alg_none["properties"]["tags"]
    assert "Verify every assertion" in alg_none["help"]["text"]
    levels = {r["properties"]["caseId"]: r["level"] for r in run["results"]}
    assert levels == {
        "algorithms.none.lowercase.empty_signature": "error",
        "algorithms.none.mixed.original_signature": "error",
        "header.jwk.es256_attacker_kid": "error",
        "header.typ.refused.at_jwt": "warning",
        "errors.disclosure.garbage": "note",
    }
    for result in run["results"]:
        assert result["properties"]["caseId"] in result["message"]["text"]


def test_results_are_anchored_to_the_line_of_the_config_that_names_the_target(
    tmp_path: Path,
) -> None:
    config = tmp_path / "ci" / "staging.toml"
    config.parent.mkdir()
    config.write_text(
        '# staging\n[target]\nprofile = "dynamic"\nbase_url = "https://app.dynamicauth.com/api/v0"\n'
    )
    assert anchor(DYNAMIC, cwd=tmp_path) == ("ci/staging.toml", 4)
    absolute = {**DYNAMIC, "config": str(config)}
    assert anchor(absolute, cwd=tmp_path) == ("ci/staging.toml", 4)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n\n[tool.conformance.target]\nprofile = "dynamic"\n'
    )
    from_pyproject = {**DYNAMIC, "config": f"{pyproject} [tool.conformance]"}
    assert anchor(from_pyproject, cwd=tmp_path) == ("pyproject.toml", 4)
    assert anchor({"embedded": True}, cwd=tmp_path) == ("README.md", 1)
    log = sarif_document(results_with(FAILING, **DYNAMIC), cwd=tmp_path)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "ci/staging.toml"
    assert location["region"]["startLine"] == 4


def test_fingerprints_are_stable_per_target_and_case_and_categories_per_target() -> None:
    first = sarif_document(results_with(FAILING, **DYNAMIC))["runs"][0]
    again = sarif_document(results_with(FAILING, **DYNAMIC))["runs"][0]
    other = {**DYNAMIC, "environment_id": "8a2e4c1d-0000-4000-8000-000000000002"}
    second_target = sarif_document(results_with(FAILING, **other))["runs"][0]

    def prints(run: dict[str, Any]) -> dict[str, str]:
        return {
            r["properties"]["caseId"]: r["partialFingerprints"]["exchangeConformanceCase/v1"]
            for r in run["results"]
        }

    assert prints(first) == prints(again)
    assert len(set(prints(first).values())) == len(prints(first))
    assert not set(prints(first).values()) & set(prints(second_target).values())
    assert first["automationDetails"]["id"] == again["automationDetails"]["id"]
    assert first["automationDetails"]["id"] != second_target["automationDetails"]["id"]
    assert first["automationDetails"]["id"].startswith("conformance/dynamic-app.dynamicauth.com-")


@pytest.mark.parametrize(
    ("target", "label"),
    [
        ({"embedded": True, "profile": "dynamic"}, "embedded"),
        (DYNAMIC, "dynamic-app.dynamicauth.com-8a2e4c1d-0000-4000-8000-000000000001"),
        (
            {
                "profile": "rfc7523",
                "token_url": "https://as.example:8443/token",
                "client_id": "c 1",
            },
            "rfc7523-as.example-8443-c-1",
        ),
    ],
)
def test_target_labels_are_path_safe(target: dict[str, Any], label: str) -> None:
    assert target_label(target) == label


def test_conformance_report_writes_sarif_and_refuses_a_bad_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import _cli_report

    results = write_results(tmp_path / "results.json", results_with(FAILING, **DYNAMIC))
    out = _cli_report.write_sarif_file(results, tmp_path / "out" / "report.sarif")
    log = json.loads(out.read_text())
    validate(log)
    github_requirements(log)
    (tmp_path / "bad.json").write_text("{}")
    code = cli.main(["report", str(tmp_path / "bad.json"), "--sarif", str(tmp_path / "x.sarif")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an exchange-conformance results file" in err
    assert not (tmp_path / "x.sarif").exists()
