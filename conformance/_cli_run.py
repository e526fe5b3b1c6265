"""``conformance run`` (the packaged suite through pytest) and ``conformance cases``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import ConfigError
from ._passed_options import passed_on

if TYPE_CHECKING:
    from .catalog import Case

#: The exit code of a run that stopped before every selected case ran.
INCOMPLETE = 3


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run the conformance suite (default target: the embedded emulator)",
        description="Run the packaged suite (pytest --pyargs conformance.suite) and write "
        "results.json, junit.xml, report.ipynb and report.html. Exit 0: conformant (also "
        "conformant_with_gaps: nothing failed, but critical cases did not run); 1: a case "
        "failed or erred; 2: could not run; 3: incomplete (stopped before every selected "
        "case ran: Ctrl-C, -x, a crashed worker).",
    )
    run.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="target configuration (TOML); repeat it to run several targets at once into "
        "one combined report",
    )
    run.add_argument(
        "--profile",
        metavar="NAME",
        help="a shipped declarative profile the configured target speaks (see 'conformance "
        "profiles'; needs --config)",
    )
    run.add_argument(
        "--report-dir", metavar="DIR", help="output directory (default reports/<run id>)"
    )
    run.add_argument(
        "--category",
        action="append",
        default=[],
        metavar="CAT",
        help="only this category (repeatable)",
    )
    run.add_argument(
        "--id",
        action="append",
        default=[],
        metavar="GLOB",
        help="only case ids matching (repeatable)",
    )
    run.add_argument("--level", choices=("must", "should"), help="only cases of this level")
    run.add_argument("--strict", action="store_true", help="'should' failures fail the run")
    run.add_argument(
        "--flaw",
        action="append",
        default=[],
        metavar="NAME",
        help="embedded emulator flaw (repeatable)",
    )
    run.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="embedded emulator policy variant, a legitimate difference (repeatable)",
    )
    run.add_argument(
        "--embedded-alg",
        action="append",
        default=[],
        metavar="ALG",
        help="embedded emulator with only this algorithm's key, e.g. RS256 (repeatable)",
    )
    run.add_argument("--waivers", metavar="FILE", help="accepted risks (TOML)")
    run.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="stop after this long: the rest is not run and the run is incomplete",
    )
    run.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="MODULE",
        help="also run your own case module (dotted name or .py path; repeatable)",
    )
    run.add_argument(
        "--examples", type=int, metavar="N", help="Hypothesis examples per property test"
    )
    run.add_argument(
        "--slow-tier",
        action="store_true",
        help="also run the slow tier: replays spaced 30 s and 90 s apart (the environment "
        "variable CONFORMANCE_SLOW_TIER=1 does the same)",
    )
    run.add_argument("--no-report", action="store_true", help="skip the notebook and HTML")
    run.add_argument(
        "--sarif",
        metavar="FILE",
        help="also write the findings as SARIF 2.1.0 here (always: results.sarif in the "
        "report directory)",
    )
    run.add_argument("-n", "--workers", metavar="N", help="pytest-xdist workers (e.g. 2 or auto)")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    run.set_defaults(func=run_suite)

    cases = sub.add_parser(
        "cases",
        help="list the catalog",
        description="List the catalog's cases, or those of the given categories, level and "
        "id globs (the selection 'conformance run' would make with the same options).",
    )
    cases.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    cases.add_argument(
        "--category", action="append", default=[], metavar="CAT", help="only this category"
    )
    cases.add_argument(
        "--id", action="append", default=[], metavar="GLOB", help="only ids matching"
    )
    cases.add_argument("--level", choices=("must", "should"), help="only cases of this level")
    cases.set_defaults(func=list_cases)


def pytest_args(args: argparse.Namespace) -> list[str]:
    ini = Path(__file__).parent / "suite" / "pytest.ini"
    argv = ["--pyargs", "conformance.suite", "-c", str(ini), f"--rootdir={os.getcwd()}", "-q"]
    if args.config:
        argv += ["--conformance-config", args.config]
        if args.flaw:
            raise ConfigError("--flaw applies to the embedded emulator only; drop it or --config")
        if args.variant:
            raise ConfigError(
                "--variant applies to the embedded emulator only; drop it or --config"
            )
        if args.embedded_alg:
            raise ConfigError(
                "--embedded-alg applies to the embedded emulator only; drop it or --config"
            )
    from ._selection import resolve_category  # lazy: `conformance --help` loads no catalog

    args.category = [resolve_category(value) for value in args.category]
    if args.examples is not None and args.examples < 1:
        raise ConfigError(f"--examples must be a whole number of at least 1, not {args.examples}")
    if args.deadline is not None and not args.deadline > 0:  # NaN too
        raise ConfigError(f"--deadline must be a number of seconds above 0, not {args.deadline}")
    argv += passed_on(args, to="pytest")
    for value in args.flaw:
        argv += ["--conformance-flaw", value]
    for value in args.variant:
        argv += ["--conformance-variant", value]
    if args.embedded_alg:
        from ._keyring import check_algs  # lazy: see resolve_category above

        for value in check_algs(args.embedded_alg):
            argv += ["--conformance-embedded-alg", value]
    if args.report_dir:
        argv += ["--conformance-report-dir", args.report_dir]
    if args.no_report:
        argv.append("--conformance-no-render")
    if args.workers is not None:
        _check_workers(args.workers)
    if args.workers and args.workers != "0":
        # loadgroup: each worker gets one whole share of the cases (the plugin's
        # xdist_group marks), which its scheduler runs ahead, overlapping the waits
        argv += ["-n", str(args.workers), "--dist", "loadgroup"]
    _check_run(args)
    return argv + list(args.pytest_args)


def _check_workers(value: str) -> None:
    """``-n`` is a number of workers or ``auto``/``logical`` (pytest-xdist's values)."""
    if value not in ("auto", "logical") and not value.isdigit():
        raise ConfigError(f"-n must be a number of workers (e.g. 2) or 'auto', not {value[:40]!r}")


def _check_run(args: argparse.Namespace) -> None:
    """Read the configuration, the waivers and the case modules, and select, before pytest
    starts: a mistake is then one clean line and exit 2, not a collection error."""
    # lazy: `conformance --help` and the other commands do not need the catalog
    from ._config import load_run_config
    from ._oob import fixed_port_server
    from ._outputs import ensure_writable
    from ._selection import select_cases
    from ._waivers import load_waivers
    from .catalog import load_cases

    config = load_run_config(
        Path(args.config) if args.config else None, cwd=Path.cwd(), profile=args.profile
    )
    if config is not None and args.workers not in (None, "1"):
        fixed = fixed_port_server(config)
        if fixed:
            raise ConfigError(
                f"{fixed} serves from one process on a fixed port: run it without "
                "--workers (or with --workers 1)"
            )
    load_waivers(Path(args.waivers) if args.waivers else None)
    if args.report_dir:
        ensure_writable(Path(args.report_dir), option="--report-dir")
    elif config is not None and config.report_dir is not None:  # <dir>/<run id>
        ensure_writable(config.report_dir, option="[report] dir")
    else:
        ensure_writable(Path("reports"), option="the report directory")
    profile = config.profile if config is not None else "dynamic"
    chosen = select_cases(
        load_cases(args.cases),
        profile=profile,
        categories=args.category,
        ids=args.id,
        level=args.level,
    )
    if not chosen and not args.pytest_args:
        raise ConfigError(
            f"no case of the {profile} profile matched the selection; see 'conformance cases'"
        )


def run_suite(args: argparse.Namespace) -> int:
    import pytest  # lazy: the CLI's other commands start without pytest

    from .emulator import check_flaws
    from .emulator.variants import check_variants
    from .plugin import RunReport

    check_flaws(args.flaw)
    check_variants(args.variant)
    configs = list(args.config or ())
    if len(configs) > 1:
        return _run_targets(args, configs)
    args.config = configs[0] if configs else None
    report = RunReport()
    with warnings.catch_warnings():
        # An object the calling process leaked (a socket a notebook or a test left open)
        # may be collected during the run; under the caller's "error" filter pytest would
        # turn that into the run's failure. Show it, never let it decide the exit code.
        warnings.simplefilter("default", pytest.PytestUnraisableExceptionWarning)
        code = pytest.main(pytest_args(args), plugins=[report])
    outputs = report.outputs
    if outputs is not None:
        print(f"{'results:':<9}{outputs.results}")
        print(f"{'junit:':<9}{outputs.junit}")
        print(f"{'sarif:':<9}{outputs.sarif}")
        if args.sarif:
            print(f"{'sarif:':<9}{_copy(outputs.sarif, Path(args.sarif))}")
        print(f"{'har:':<9}{outputs.har}")
        if outputs.html is not None:
            print(f"{'html:':<9}{outputs.html}")
    if report.error is not None:
        # one line and exit 2: the run could not start, or the target became unavailable
        # (the outputs of the cases that ran are written all the same)
        print(report.error, file=sys.stderr)
        return 2
    if outputs is not None and outputs.summary.verdict == "incomplete":
        cov = outputs.summary.coverage
        why = f": {cov.stopped}" if cov is not None else ""
        print(f"conformance: the run is incomplete{why}", file=sys.stderr)
        return INCOMPLETE
    if code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return int(code)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print(
            "conformance: error: no case matched the selection; see 'conformance cases'",
            file=sys.stderr,
        )
    return 2


def _copy(source: Path, destination: Path) -> Path:
    """``--sarif FILE``: the run directory's results.sarif, copied (one writer)."""
    import shutil  # lazy: only --sarif needs it

    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    except OSError as exc:
        raise ConfigError(f"--sarif {destination}: cannot write it ({exc.strerror})") from None
    return destination


def _run_targets(args: argparse.Namespace, configs: list[str]) -> int:
    """Several ``--config``: every target checked first (one line, exit 2, nothing
    sent), then run at once into one combined report (:mod:`._fleet`)."""
    # lazy: only a run of several targets needs them
    from ._cli_merge import print_summary, write_report
    from ._fleet import child_args, default_out, run_fleet

    if args.sarif:
        raise ConfigError(
            "--sarif takes one target; with several --config each target's results.sarif "
            "is in targets/<label>/ (one code-scanning category per target)"
        )
    for config in configs:
        pytest_args(argparse.Namespace(**{**vars(args), "config": config}))
    out = Path(args.report_dir) if args.report_dir else default_out()
    code, combined = run_fleet(configs, child_args(args), out=out)
    print_summary(combined)
    write_report(combined, render=not args.no_report)
    return code


def list_cases(args: argparse.Namespace) -> int:
    # lazy: `conformance --help` loads no catalog
    from ._selection import resolve_category, select_cases
    from .catalog import CASES
    from .catalog.weaknesses import weakness_for

    categories = [resolve_category(value) for value in args.category]
    chosen = select_cases(CASES, profile=None, categories=categories, ids=args.id, level=args.level)
    if args.format == "json":
        rows = [
            {
                "id": c.id,
                "family": (w := weakness_for(c.id, c.category)).family,
                "cwe": list(w.cwe),
                "asvs": list(w.asvs),
                "title": c.title,
                "category": c.category,
                "expect": c.expect.value,
                "level": c.level.value,
                "severity": c.severity.value,
                "anchors": list(c.anchors),
                "references": list(c.references),
                "needs": sorted(c.needs),
                "profiles": sorted(c.profiles),
            }
            for c in chosen
        ]
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    if args.format == "markdown":
        if categories or args.level or args.id:
            raise ConfigError("--format markdown is the whole catalog; drop the selection")
        print(catalog_markdown(), end="")
        return 0
    width = max((len(c.id) for c in chosen), default=2)
    for c in chosen:
        print(
            f"{c.id:<{width}}  {c.expect.value:<6}  {c.level.value:<6}  "
            f"{c.severity.value:<8}  {c.title}"
        )
    print(f"{len(chosen)} cases" + ("" if len(chosen) == len(CASES) else f" of {len(CASES)}"))
    return 0


def _family_lines(cases: Sequence[Case]) -> list[str]:
    """The families table of docs/catalog.md: each id prefix ``<category>.<family>`` with
    its case count, levels and the threat-catalog rows its cases anchor."""
    families: dict[str, list[Case]] = {}
    for c in cases:
        families.setdefault(".".join(c.id.split(".")[:2]), []).append(c)
    lines = [
        "## Families",
        "",
        "| family | cases | levels | anchors |",
        "|---|---|---|---|",
    ]
    for name, members in families.items():
        levels = sorted({c.level.value for c in members})
        anchors = sorted({a for c in members for a in c.anchors})
        lines.append(f"| `{name}.*` | {len(members)} | {' '.join(levels)} | {' '.join(anchors)} |")
    return [*lines, ""]


def catalog_markdown() -> str:
    """The documentation table of cases (docs/catalog.md), made from the catalog itself."""
    from .catalog import CASES, CATEGORIES, NOT_APPLICABLE  # lazy: as in list_cases

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# The catalog",
        "",
        "Generated by `conformance cases --format markdown` (a test keeps it current).",
        f"{len(CASES)} cases. Expect: what a correct endpoint does; level `must` fails the run,",
        "`should` warns unless `--strict`. Anchors are rows of the threat catalog.",
        "",
    ]
    lines += _family_lines(CASES)
    for category in CATEGORIES:
        rows = [c for c in CASES if c.category == category]
        if not rows:
            continue
        lines += [
            f"## {category} ({len(rows)})",
            "",
            "| id | title | expect | level | severity | anchors | profiles |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in rows:
            lines.append(
                f"| `{c.id}` | {cell(c.title)} | {c.expect.value} | {c.level.value} "
                f"| {c.severity.value} | {' '.join(c.anchors)} | {' '.join(sorted(c.profiles))} |"
            )
        lines.append("")
    lines += ["## Threat-catalog rows that do not apply", "", "| row | reason |", "|---|---|"]
    lines += [f"| {row} | {cell(reason)} |" for row, reason in sorted(NOT_APPLICABLE.items())]
    return "\n".join(lines) + "\n"
