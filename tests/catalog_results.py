"""Synthetic results documents whose cases carry real catalog ids (findings, SARIF, HAR)."""

from __future__ import annotations

import copy
from typing import Any

from factories import make_results

from conformance.catalog import BY_ID


def results_with(verdicts: dict[str, str], **target: Any) -> dict[str, Any]:
    """A document (schema of ``make_results``) with one case per id of ``verdicts``, in
    the given order, each with the catalog's category, level and severity and the given
    verdict; ``target`` entries replace or add members of ``run.target``."""
    data = make_results(n_cases=1, failures=0, critical=0, warns=0, skips=0, waived=0)
    template = data["cases"][0]
    cases = []
    for case_id, verdict in verdicts.items():
        real = BY_ID[case_id]
        case = copy.deepcopy(template)
        case.update(
            id=case_id,
            title=real.title,
            category=real.category,
            level=real.level.value,
            severity=real.severity.value,
            verdict=verdict,
            nodeid=f"conformance/suite/test_catalog.py::test_case[{case_id}]",
        )
        cases.append(case)
    data["cases"] = cases
    data["run"]["target"].update(target)
    return data
