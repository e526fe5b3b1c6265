"""``conformance report`` and ``conformance diff``: render a results file, compare two.

Exit codes: ``report`` 0 when the page was written; ``diff`` 1 when the newer run
regressed (a case turned fail/error, a new case fails, or coverage was lost: a case that
ran now skips or is missing, fewer cases were selected, the newer run is incomplete;
``--allow-lost-coverage`` accepts the lost coverage), else 0; both 2 on bad input
(a missing or invalid results file), with one line on stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="render results.json into report.ipynb and an offline report.html",
        description="Execute the report notebook on RESULTS.json and export report.html "
        "next to it (or into --out). Never contacts the target.",
    )
    report.add_argument("results", type=Path, metavar="RESULTS.json")
    report.add_argument("--out", type=Path, metavar="DIR", help="where to write the report")
    report.add_argument(
        "--baseline", type=Path, metavar="OLD.json", help="add a 'changes since' section"
    )
    report.add_argument(
        "--timeout", type=int, default=120, metavar="S", help="per-cell timeout (default 120)"
    )
    report.add_argument(
        "--sarif", type=Path, metavar="FILE", help="also write the findings as SARIF 2.1.0"
    )
    report.set_defaults(func=run_report)

    diff = subparsers.add_parser(
        "diff",
        help="compare two results files (exit 1 on regression)",
        description="List new failures, lost coverage, fixed cases, changed verdicts and "
        "added/removed cases between OLD and NEW; exit 1 when NEW regressed: a new failure, "
        "or lost coverage (a case that ran now skips or is missing, fewer cases selected, an "
        "incomplete NEW run) unless --allow-lost-coverage.",
    )
    diff.add_argument("old", type=Path, metavar="OLD/results.json")
    diff.add_argument("new", type=Path, metavar="NEW/results.json")
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.add_argument(
        "--allow-lost-coverage",
        action="store_true",
        help="a case that ran and now skips or is missing is listed, not a regression",
    )
    diff.set_defaults(func=run_diff)


def run_report(args: argparse.Namespace) -> int:
    from .report import render_report  # lazy: the report stack is an optional extra

    if args.timeout <= 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.sarif is not None:
        write_sarif_file(args.results, args.sarif)
    paths = render_report(
        args.results, out_dir=args.out, baseline=args.baseline, timeout_s=args.timeout
    )
    print(paths.html)
    if args.sarif is not None:
        print(args.sarif)
    return 0


def write_sarif_file(results: Path, destination: Path) -> Path:
    """The SARIF log of a results file (validated first); :class:`ConfigError` when the
    file is not a valid results.json or ``destination`` cannot be written."""
    # lazy: the CLI's start stays cheap
    from ._sarif import write_sarif
    from .report._load import load_results

    document = load_results(results)
    try:
        return write_sarif(destination, document)
    except OSError as exc:
        raise ConfigError(f"--sarif {destination}: cannot write it ({exc.strerror})") from None


def run_diff(args: argparse.Namespace) -> int:
    from .report import diff_files  # lazy: the report stack is an optional extra

    result = diff_files(args.old, args.new, allow_lost_coverage=args.allow_lost_coverage)
    print(result.to_json() if args.format == "json" else result.to_text())
    return 1 if result.regressed else 0


#: The dispatcher's convention: ``run`` is the family's main command.
run = run_report
