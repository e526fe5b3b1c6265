"""``conformance run --config A.toml --config B.toml``: several targets at once.

Each target runs as its own ``conformance run --config X`` in a child process: its own
transport and rate limit (its file's ``[transport]``), its own xdist workers under
``-n`` (sharing that target's one rate limit), its replay and race cases serial as in
any run. The children write ``DIR/targets/<label>/`` (label: the configuration file's
name without ``.toml``); then ``combined.json`` and one combined report are written in
``DIR`` (:mod:`._combined`, ``conformance merge`` does the same from separate jobs).

Why several ``--config`` files rather than several ``[[target]]`` tables in one file:
each file stays a complete single-target configuration (its keys, its secrets from the
environment, its rate limit), the same file serves a one-target run, a CI matrix job and
a fleet run, and a target's failure to load names its own file.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._combined import Member, combine, unique_label
from ._outputs import ensure_writable
from ._passed_options import passed_on

#: children running at once; more targets wait for a free slot (the CI matrix is the
#: engine for a fleet of hundreds: one job per target, then ``conformance merge``)
MAX_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class TargetRun:
    label: str
    config: str
    out: Path


def plan(configs: Sequence[str], out: Path) -> list[TargetRun]:
    """One run per configuration, each with a distinct label and directory."""
    runs: list[TargetRun] = []
    for config in configs:
        label = unique_label(Path(config).stem, (r.label for r in runs))
        runs.append(TargetRun(label, config, out / "targets" / label))
    return runs


def child_args(args: argparse.Namespace) -> list[str]:
    """The options of ``conformance run`` every target's run gets (its own ``--config``
    and ``--report-dir`` aside; the combined report replaces the per-target ones)."""
    argv: list[str] = ["--no-report", *passed_on(args, to="cli")]
    if args.workers:
        argv += ["-n", str(args.workers)]
    if args.pytest_args:
        argv += ["--", *args.pytest_args]
    return argv


def default_out() -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("reports") / f"{stamp}-{secrets.token_hex(3)}"


def _run_one(run: TargetRun, common: Sequence[str]) -> tuple[int, str]:
    """Run one target; its output goes to ``run.log`` in its directory. Returns the exit
    code and the last line it wrote on stderr (why it could not run)."""
    run.out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "conformance.cli", "run", "--config", run.config]
    argv += ["--report-dir", str(run.out), *common]
    proc = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ))
    (run.out / "run.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    return proc.returncode, last


def exit_code(codes: Sequence[int]) -> int:
    """Several runs' exit codes as one: 2 (a target could not run) before 3 (incomplete)
    before 1 (a case failed or erred) before 0."""
    for code in (2, 3, 1):
        if code in codes:
            return code
    return 0 if all(c == 0 for c in codes) else 2


def run_fleet(configs: Sequence[str], common: Sequence[str], *, out: Path) -> tuple[int, Path]:
    """Run every configuration at once (at most :data:`MAX_AT_ONCE`), then write the
    combined results and report into ``out``. Returns the exit code and the path of
    ``combined.json``. Raises :class:`~conformance.ConfigError` before any run when
    ``out`` cannot be written."""
    ensure_writable(out, option="--report-dir")
    runs = plan(configs, out)
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(runs), MAX_AT_ONCE)) as pool:
        outcomes = list(pool.map(lambda r: _run_one(r, common), runs))
    members = []
    for run, (code, last) in zip(runs, outcomes, strict=True):
        results = run.out / "results.json"
        written = results.is_file()
        why = last or f"exit {code}, no results; see {run.out / 'run.log'}"
        members.append(Member(run.label, results if written else None, why))
    return exit_code([code for code, _ in outcomes]), combine(members, out)
