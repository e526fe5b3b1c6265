"""The packaged suite against the embedded emulator: the clean run passes every case,
and every named flaw is caught by at least one case anchored on a row it breaks (the
flaw matrix). These start real servers on loopback ports.

Both read runs shared with ``test_stability`` (``tests/plan_runs.py``): the clean run is
``conformance run`` of the default plan; each flaw's anchored cases run in-process,
strict, with 10 property examples (``conformance run --flaw`` is tested by
``test_plugin`` and ``test_results_runs``)."""

from __future__ import annotations

from typing import Any

import pytest
from plan_runs import AnchoredRuns

from conformance.catalog import CASES
from conformance.emulator import FLAWS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clean(clean_cli_run: dict[str, Any]) -> dict[str, Any]:
    return clean_cli_run


def test_clean_emulator_passes_every_case(clean: dict[str, Any]) -> None:
    bad = [
        (c["id"], c["verdict"], c["message"][:300])
        for c in clean["cases"]
        if c["verdict"] not in {"pass", "skip"}
    ]
    assert bad == []
    assert clean["summary"]["verdict"] == "conformant"
    assert clean["exit_code"] == 0


def test_clean_run_skips_only_what_needs_a_numeric_subject(clean: dict[str, Any]) -> None:
    # Everything runs against the embedded target but the one case that needs a numeric
    # subject (user A's subject is not numeric, so that the Unicode cases can run).
    # ... and the opt-in slow tier (replays spaced in time), off unless asked for.
    skipped = {c["id"]: c["message"] for c in clean["cases"] if c["verdict"] == "skip"}
    slow = {i for i, why in skipped.items() if "CONFORMANCE_SLOW_TIER" in why}
    assert slow == {"replay.same_token.spaced_30s", "replay.same_token.spaced_90s"}
    # ... and the cases about whom an answer names (a sign-in's): the step-up's names none
    named = {i for i, why in skipped.items() if why.startswith("needs reports_subject: ")}
    assert named == {c.id for c in CASES if "reports_subject" in c.needs}
    rest = {i: why for i, why in skipped.items() if i not in slow | named}
    assert rest == {"claims.sub.type_numeric_of_subject": "the subject is not numeric"}


def test_default_plan_is_large_and_covers_every_category(clean: dict[str, Any]) -> None:
    assert len(clean["cases"]) >= 250
    assert set(clean["summary"]["by_category"]) >= {c.category for c in CASES}


@pytest.mark.parametrize("flaw", sorted(f for f in FLAWS if FLAWS[f].shape is None))
def test_each_flaw_is_caught_by_a_case_on_its_rows(anchored_runs: AnchoredRuns, flaw: str) -> None:
    rows = set(FLAWS[flaw].breaks)
    ids = sorted(c.id for c in CASES if rows & set(c.anchors))
    assert ids, f"no case is anchored on the rows {sorted(rows)} that flaw {flaw} breaks"
    ran = anchored_runs(flaw)
    assert ran, f"no case of the dynamic profile is anchored on the rows {sorted(rows)}"
    failing = [i for i, verdict in ran.items() if verdict == "fail"]
    assert failing, f"flaw {flaw} went unnoticed by {ids}"
