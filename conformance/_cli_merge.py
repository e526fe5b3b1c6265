"""``conformance merge``: combine the results.json of separate runs (CI jobs, one per
target) into one combined report — ``combined.json``, each target's results under
``targets/<label>/``, and the HTML with its target x category matrix.

Exit codes, as for ``conformance run``: 0 every target conformant, 1 a target failed or
erred, 3 a target's run is incomplete, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError, MissingExtra


def register(subparsers: Any) -> None:
    merge = subparsers.add_parser(
        "merge",
        help="combine the results of several targets (separate runs) into one report",
        description="Combine results.json files written by separate runs into DIR: "
        "combined.json (the targets and the target x category matrix), each target's "
        "results under DIR/targets/LABEL/, and report.html. RESULTS is a results.json or "
        "the directory holding one, optionally LABEL=RESULTS (default label: the name of "
        "the directory). Exit 0: every target conformant; 1: one failed or erred; "
        "3: one is incomplete; 2: bad input.",
    )
    merge.add_argument("results", nargs="+", metavar="RESULTS", help="[LABEL=]results.json")
    merge.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    merge.add_argument("--no-report", action="store_true", help="write combined.json only")
    merge.add_argument(
        "--timeout", type=int, default=120, metavar="S", help="per-cell timeout (default 120)"
    )
    merge.set_defaults(func=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    from ._combined import combine, fleet_exit_code, parse_sources  # lazy: the catalog

    if args.timeout <= 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    members = parse_sources(args.results)
    combined = combine(members, args.out)
    print_summary(combined)
    write_report(combined, render=not args.no_report, timeout_s=args.timeout)
    return fleet_exit_code(_verdicts(combined))


def print_summary(combined: Path) -> None:
    """One line per target (verdict and counts, or why it could not run), the fleet's
    verdict, then where ``combined.json`` is."""
    from ._combined import summary_lines  # lazy: the catalog

    document = json.loads(combined.read_text(encoding="utf-8"))
    for line in summary_lines(document, base=combined.parent):
        print(line)
    print(f"{'combined:':<10}{combined}")


def write_report(combined: Path, *, render: bool, timeout_s: int = 120) -> None:
    """Render the combined HTML next to ``combined``, or say in one line why not."""
    if not render:
        return
    try:
        # lazy: the report stack (nbclient, nbconvert, matplotlib) is an optional extra
        from .report.fleet import render_combined

        html = render_combined(combined, timeout_s=timeout_s)
    except MissingExtra as exc:
        print(
            f"conformance: report not rendered ({exc}); combined.json is written", file=sys.stderr
        )
        return
    print(f"{'html:':<10}{html}")


def _verdicts(combined: Path) -> list[str]:
    data = json.loads(combined.read_text(encoding="utf-8"))
    return [str(t.get("verdict")) for t in data.get("targets", [])]
