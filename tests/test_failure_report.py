"""A case's failure is reported as its message, made by the plugin: pytest formats no
traceback (formatting parses source, and a parse racing a case thread's parse once ended
a run with an INTERNALERROR and cases without a verdict; see ``conformance._ast_lock``)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


class NoParseWhileReporting:
    """While pytest makes a call's report, any ``ast.parse`` fails as the race does."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Iterator[None]:
        original = ast.parse

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise SystemError("AST constructor recursion depth mismatch (simulated)")

        ast.parse = refuse
        try:
            return (yield)
        finally:
            ast.parse = original


def test_a_failing_case_is_reported_without_parsing_source(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        "--conformance-no-render",
        f"--conformance-report-dir={tmp_path}",
        "--conformance-flaw=crit_ignored",
        "--conformance-id=header.crit.unknown_extension",
        plugins=[NoParseWhileReporting()],
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=1)
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [(c["id"], c["verdict"]) for c in data["cases"]] == [
        ("header.crit.unknown_extension", "fail")
    ]
    assert "header.crit.unknown_extension" in result.stdout.str()  # the message is shown
