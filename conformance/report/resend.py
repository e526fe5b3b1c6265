"""Re-sending one case of a report from the executed notebook.

The report notebook's last cell calls :func:`resend` when the reviewer sets
``SEND = True``: the case runs again, with fresh assertions, against the target the
results name — the embedded emulator started anew with the run's flaws and policy
variants, or a configured target through its configuration file (the results never hold
the file's path or its secrets, so the reviewer passes it). Nothing here runs while the
report renders.
"""

from __future__ import annotations

from collections.abc import Mapping
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
) -> CaseResult:
    """Run ``case_id`` (a catalogued case of the results) again against the results'
    target and return its new result; ``None`` picks :func:`default_case`.

    Raises :class:`~conformance.ConfigError` when the case is not in the built-in catalog
    (an extension module's case: run it with ``conformance run --cases``), when the
    results name a configured target and ``config`` is missing, or when ``config`` is
    given for a run against the embedded emulator.
    """
    # lazy: the engine and the catalog start only when a reviewer re-sends a case
    from .._engine import run_case
    from .._runtime import open_runtime
    from ..catalog import BY_ID

    case_id = case_id or default_case(results)
    if case_id is None or case_id not in BY_ID:
        raise ConfigError(
            f"case {case_id!r} is not in the built-in catalog; set CASE_ID to one of the "
            "report's case ids (a case of a --cases module runs with conformance run)"
        )
    run = results.get("run") or {}
    target = run.get("target") or {}
    embedded = target.get("embedded") is True
    if embedded and config is not None:
        raise ConfigError("the run used the embedded emulator; leave CONFIG = None")
    if not embedded and config is None:
        raise ConfigError(
            "the run used a configured target; set CONFIG to the path of its TOML file "
            "(its secrets come from the environment, as in the run)"
        )
    with open_runtime(
        config,
        flaws=list(target.get("flaws") or ()) if embedded else (),
        variants=list(target.get("variants") or ()) if embedded else (),
        strict=run.get("strict") is True,
    ) as runtime:
        return run_case(runtime, BY_ID[case_id])
