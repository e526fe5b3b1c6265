"""Every selected catalog case, one test item each (parametrised by the plugin)."""

from __future__ import annotations

from typing import Any

import pytest


def test_case(conformance_case: Any, conformance_run: Any, request: pytest.FixtureRequest) -> None:
    conformance_run.run(conformance_case, request.node.nodeid)
