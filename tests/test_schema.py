"""The results.json models (conformance/_schema.py) and what is generated from them:
the JSON Schema shipped in the package and the field tables of docs/results-schema.md.
Fast: no server."""

from __future__ import annotations

import importlib.util
import json
import typing
from pathlib import Path

import jsonschema
import msgspec
import pytest
from factories import make_results, shipped_schema

from conformance import _schema
from conformance._schema import Results, json_schema, json_schema_text, markdown_tables
from conformance.catalog._model import Expect, Level, Severity
from conformance.report._vocab import VERDICT_ORDER

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "regenerate with: python3 tools/results_schema.py"


def _tool() -> typing.Any:
    spec = importlib.util.spec_from_file_location(
        "results_schema", ROOT / "tools" / "results_schema.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_json_schema_is_the_generated_one() -> None:
    shipped = (ROOT / "conformance" / "schemas" / "results.schema.json").read_text("utf-8")
    assert shipped == json_schema_text(), REGENERATE
    assert shipped_schema() == json_schema()  # and the installed package finds it


def test_the_documented_fields_are_the_generated_tables() -> None:
    doc = (ROOT / "docs" / "results-schema.md").read_text("utf-8")
    assert doc == _tool().documented(doc), REGENERATE


def test_the_documentation_lists_every_field_of_every_model() -> None:
    tables = markdown_tables()
    for name, spec in json_schema()["$defs"].items():
        assert f"### `{name}`" in tables
        for field in spec["properties"]:
            assert f"| `{field}` |" in tables, (name, field)


def test_the_regeneration_tool_refuses_a_document_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        _tool().documented("# no markers here\n")


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]


def test_the_module_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert _schema.main([]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    assert _schema.main(["--markdown"]) == 0
    assert capsys.readouterr().out == markdown_tables()


def test_the_literal_types_match_the_catalog_and_the_report() -> None:
    assert typing.get_args(_schema.Severity) == tuple(s.value for s in Severity)
    assert set(typing.get_args(_schema.Level)) == {lv.value for lv in Level}
    assert set(typing.get_args(_schema.Expect)) == {e.value for e in Expect}
    assert typing.get_args(_schema.Verdict) == VERDICT_ORDER == _schema.VERDICTS


def test_the_schema_and_the_models_agree_on_synthetic_documents() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    for data in (make_results(), make_results(n_cases=12, hostile=True, errors=1)):
        data = json.loads(json.dumps(data))  # what a file holds
        assert not list(validator.iter_errors(data))
        msgspec.convert(data, Results)  # raises when the models disagree


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("cases", 0, "verdict"), "maybe"),
        (("cases", 0, "outcome"), "perhaps"),
        (("summary", "verdict"), "fine"),
        (("cases", 0, "exchanges", 0, "status"), "200"),
        (("run", "strict"), "no"),
    ],
)
def test_the_schema_refuses_what_the_models_refuse(
    path: tuple[typing.Any, ...], value: str
) -> None:
    data = json.loads(json.dumps(make_results(n_cases=6)))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert list(jsonschema.Draft202012Validator(json_schema()).iter_errors(data))
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(data, Results)
