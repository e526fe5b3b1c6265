"""Re-sending one case of a report from the executed notebook.

The report notebook's last cell calls :func:`resend` when the reviewer sets
``SEND = True``: the case runs again, with fresh assertions, against the target the
results name, exactly as ``conformance replay RESULTS CASE_ID`` does (its runtime is
reused): the embedded emulator started anew with the run's flaws, policy variants and
keys, or a configured target through the configuration file the results recorded (or
``CONFIG``; its secrets come from the environment). Nothing here runs while the report
renders.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError

if TYPE_CHECKING:
    from .._engine import CaseResult

__all__ = ["default_case", "resend"]


def default_case(results: Mapping[str, Any]) -> str | None:
    """The case a reviewer most likely wants again: the first failing, warned or erred
    case of the most severe finding (the first case of the results when none failed)."""
    # lazy: the findings module reads the catalog's weakness table
    from ..findings import findings

    found = findings(results)
    if found:
        return found[0].case_ids[0]
    cases = results.get("cases") or []
    return str(cases[0]["id"]) if cases else None


def resend(
    results: Mapping[str, Any],
    case_id: str | None,
    *,
    config: str | Path | None = None,
    results_path: str | Path = "results.json",
    cases: Sequence[str] = (),
) -> CaseResult:
    """Run ``case_id`` again against the results' target and return its new result, as
    ``conformance replay`` does (the same target: a fresh embedded emulator with the
    run's flaws, variants and keys, or the configuration the results recorded, or
    ``config``); ``None`` picks :func:`default_case`. ``cases`` names the modules of
    extension cases; ``results_path`` only names the file in messages.

    Raises :class:`~conformance.ConfigError` when the case is in no catalog, when
    ``config`` is given for a run against the embedded emulator, when a configured
    target's results do not say which configuration named it and ``config`` is missing,
    or when ``config`` names another target.
    """
    # lazy: the engine and the catalog start only when a reviewer re-sends a case
    from .._cli_replay import _catalog_case, _runtime
    from .._engine import run_case
    from .._runtime import check_baseline

    case_id = case_id or default_case(results)
    if case_id is None:
        raise ConfigError("the results hold no case; set CASE_ID to a case id")
    case = _catalog_case(case_id, list(cases))
    target = (results.get("run") or {}).get("target") or {}
    embedded = target.get("embedded") is True
    # The notebook's words for what the replay command says with its options.
    if embedded and config is not None:
        raise ConfigError("the run used the embedded emulator; leave CONFIG = None")
    if not embedded and config is None and not target.get("config"):
        raise ConfigError(
            "the results do not say which configuration named the target; set CONFIG to "
            "the path of its TOML file (its secrets come from the environment, as in the run)"
        )
    args = argparse.Namespace(
        results=Path(results_path), config=Path(config) if config is not None else None
    )
    with _runtime(results, args) as runtime:
        check_baseline(runtime)
        return run_case(runtime, case)
