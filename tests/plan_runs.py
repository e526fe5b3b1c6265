"""Runs of the plan that several test modules read, made once per session.

A run of the plan against the embedded emulator costs seconds to tens of seconds (its
cases wait for clock boundaries and key-cache intervals), so a run that several tests
only read is made once, through the session fixtures of ``tests/conftest.py``:

* ``clean_cli_run``: ``conformance run`` of the whole default plan against the clean
  emulator (the packaged suite through the CLI), read by ``test_suite_embedded`` (it
  passes), ``test_stability`` (its verdicts equal the in-process runs') and
  ``test_oob_configured`` (its out-of-band cases are those a configured run runs);
* ``anchored_runs``: each flaw's anchored cases (those on the threat-catalog rows the
  flaw breaks) in-process, strict, 10 examples, per seed; read by
  ``test_suite_embedded`` (the flaw matrix: a case fails) and ``test_stability`` (the
  same verdicts with another seed).

A test that changes what a run does (a flaw, a variant, a key) makes its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from conformance import cli
from conformance._embedded import open_embedded
from conformance._engine import run_case
from conformance._settings import PropertySettings
from conformance._verdict import Policy
from conformance.catalog import CASES, Case
from conformance.emulator import FLAWS

#: the seed of the shared anchored runs (the property cases draw the same examples)
ANCHORED_SEED = 1919
#: property examples of the anchored runs (as tools/flaw_matrix.py)
ANCHORED_EXAMPLES = 10
#: property examples of the shared clean CLI run
CLEAN_EXAMPLES = 25


def verdicts(
    cases: Iterable[Case],
    *,
    flaws: Sequence[str] = (),
    strict: bool = False,
    examples: int = 40,
    seed: int | None = None,
) -> dict[str, str]:
    """Each case's verdict, run one after another (``run_case``) in one embedded run."""
    properties = PropertySettings(examples=examples, seed=seed)
    policy = Policy(strict=strict)
    with open_embedded(flaws=tuple(flaws), policy=policy, properties=properties) as runtime:
        return {case.id: run_case(runtime, case).verdict for case in cases}


def anchored_cases(flaw: str) -> list[Case]:
    """The dynamic-profile cases anchored on a row that ``flaw`` breaks, in plan order."""
    rows = set(FLAWS[flaw].breaks)
    return [c for c in CASES if rows & set(c.anchors) and "dynamic" in c.profiles]


class AnchoredRuns:
    """``runs(flaw, seed)``: the verdicts of ``flaw``'s anchored cases with that seed,
    strict, made on the first call and kept for the session (read, never changed)."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, int], dict[str, str]] = {}

    def __call__(self, flaw: str, seed: int = ANCHORED_SEED) -> dict[str, str]:
        key = (flaw, seed)
        if key not in self._runs:
            self._runs[key] = verdicts(
                anchored_cases(flaw),
                flaws=(flaw,),
                strict=True,
                examples=ANCHORED_EXAMPLES,
                seed=seed,
            )
        return dict(self._runs[key])


def clean_cli_run(out: Path) -> dict[str, Any]:
    """``conformance run`` of the default plan against the clean embedded emulator into
    ``out``: its results.json, with the exit code as ``exit_code`` and the file's path
    as ``results_path``."""
    argv = ["run", "--no-report", "--report-dir", str(out), "--examples", str(CLEAN_EXAMPLES)]
    code = cli.main(argv)
    data: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    data["exit_code"] = code
    data["results_path"] = str(out / "results.json")
    return data
