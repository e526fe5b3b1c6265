"""The benchmark: how far the suite runs above its floor, with figures from this machine.

    python -m conformance.bench [--repeat N] [--json OUT] [--quick]

Each measurement runs ``--repeat`` times (default 3; ``--quick``: once, on a small plan)
and the table shows the median, the spread, and the target it answers to:

- **floor**: for the exact mix of tokens the default plan sent (one per exchange of a
  real run's ``results.json``), signing each with keys already loaded, plus one
  keep-alive POST per exchange to the emulator's verify endpoint (one httpx client, one
  fixed body), summed. Nothing a suite does per exchange can cost less.
- **plan**: ``conformance run --no-report`` in a child process. Wall time is split with
  timestamps that this module's pytest hooks record in the child (``-p conformance.bench``):
  start-up (interpreter, imports, collection, keys, servers, baseline: until the first
  case's call begins), case execution (the span of the call phases, and the sum of
  ``duration_ms``, with and without the deliberate ``waited_ms``) and the tail (outputs,
  servers stopped, exit). Peak RSS and CPU time come from ``os.wait4`` on the child.
- **report**: ``conformance report`` (a child process: what a user waits for) on the
  real results and on a synthetic 1,000-case file made from them, split in-process into
  notebook execution and HTML export; the HTML size.
- **scaling**: the plan with ``-n 2`` against one process (same verdicts required), and
  the property cases at two example counts (cost per extra example).
- **waits and requests**: Σ of the deliberate waits, and the longest chain of them that
  the scheduler cannot overlap (``conformance._schedule``: the JWKS lane's waits run one
  after another, the main lane's overlap, the lone cases' come last); requests per case
  (``requests`` of results.json: a shared positive control counts 1/n per case);
  requests per second outside waits; the plan's projected duration at 5 requests per
  second (the default rate limit of a staging target: every request takes a slot, the
  waits overlap them).
- **end to end**: ``conformance run`` with the report, in a child (what a user waits for).

The hooks below are inert unless ``CONFORMANCE_BENCH_SPANS`` names a file; importing this
module imports the standard library only, so ``-p conformance.bench`` costs nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPANS_ENV = "CONFORMANCE_BENCH_SPANS"
#: The module the child loads with ``-p`` (``__name__`` is ``__main__`` under ``-m``).
PLUGIN = "conformance.bench"
ONE_CASE = "envelope.valid.baseline"
SYNTHETIC_CASES = 1000
FALLBACK_ALG = "ES256"

#: Targets: (metric key, comparison, limit, unit, label).
#: A staging target's default rate limit (``transport.rate_limit_per_s``).
RATE_LIMIT_PER_S = 5.0

TARGETS: tuple[tuple[str, str, float, str, str], ...] = (
    ("plan.wall_s", "<=", 8.0, "s", "default plan wall ≤ 8 s"),
    ("ratio.span_over_bound", "<=", 1.3, "x", "case span ≤ 1.3 × max(wait chain, work)"),
    ("plan.requests_per_case", "<=", 1.3, "", "requests per case ≤ 1.3"),
    ("full.wall_s", "<=", 12.0, "s", "conformance run with the report ≤ 12 s"),
    ("plan.projected_5rps_s", "<=", 180.0, "s", "plan at 5 requests/s ≤ 3 min"),
    ("ratio.exec_minus_waits_over_floor", "<=", 2.0, "x", "case execution − waits ≤ 2 × floor"),
    ("plan.startup_s", "<=", 1.5, "s", "start-up ≤ 1.5 s"),
    ("report.synthetic.cli_s", "<=", 3.0, "s", f"report render ≤ 3 s ({SYNTHETIC_CASES} cases)"),
    ("report.synthetic.warm_s", "<=", 3.0, "s", "render in the run's warm kernel ≤ 3 s"),
    ("report.synthetic.html_mb", "<=", 0.6, "MB", f"HTML ≤ 600 KB ({SYNTHETIC_CASES} cases)"),
    ("plan.peak_rss_mb", "<=", 300.0, "MB", "peak memory ≤ 300 MB"),
    ("ratio.n2_speedup_exec", ">=", 1.5, "x", "-n 2 ≥ 1.5 × faster on case execution"),
)


# -- pytest hooks (the child process of a plan run) -------------------------------------

_PHASES: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: Any) -> None:
    """Record every phase's wall-clock start and stop (on the xdist controller too)."""
    if not os.environ.get(SPANS_ENV):
        return
    node = getattr(report, "node", None)
    gateway = getattr(node, "gateway", None)
    _PHASES.append(
        {
            "when": report.when,
            "start": float(report.start),
            "stop": float(report.stop),
            "worker": str(getattr(gateway, "id", "main")),
        }
    )


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get(SPANS_ENV)
    if not path or hasattr(session.config, "workerinput"):
        return  # an xdist worker: its reports reach the controller, which writes
    Path(path).write_text(json.dumps({"phases": _PHASES, "finished": time.time()}))


def summarise_phases(phases: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """First setup start, first and last call edges, and the sum of call durations."""
    setups = [p for p in phases if p["when"] == "setup"]
    calls = [p for p in phases if p["when"] == "call"]
    if not calls:
        raise ValueError("no test ran: no call phase was recorded")
    return {
        "first_setup_start": min(p["start"] for p in setups or calls),
        "first_call_start": min(p["start"] for p in calls),
        "last_call_stop": max(p["stop"] for p in calls),
        "last_stop": max(p["stop"] for p in phases),
        "calls": float(len(calls)),
        "workers": float(len({p["worker"] for p in calls})),
    }


# -- child processes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Child:
    """A finished child process: exit code, wall time, peak RSS, CPU, output."""

    code: int
    started: float  # time.time() just before the spawn
    wall_s: float
    peak_rss_mb: float  # max over the child and the descendants it waited for
    cpu_s: float
    stdout: str
    stderr: str


def run_child(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> Child:
    """Run ``argv`` and reap it with ``os.wait4``: its own rusage, not the sum of all."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=dict(env or os.environ))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            code=proc.returncode,
            started=started,
            wall_s=wall,
            peak_rss_mb=usage.ru_maxrss * 1024 / 1e6,  # ru_maxrss is in KiB on Linux
            cpu_s=usage.ru_utime + usage.ru_stime,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def conformance_argv(*args: str, python_flags: Sequence[str] = ()) -> list[str]:
    return [sys.executable, *python_flags, "-m", "conformance.cli", *args]


@dataclass(frozen=True, slots=True)
class PlanRun:
    child: Child
    results: dict[str, Any]
    results_path: Path
    spans: dict[str, float]

    @property
    def verdicts(self) -> dict[str, str]:
        return {c["id"]: c["verdict"] for c in self.results["cases"]}

    def figures(self) -> dict[str, float]:
        cases = self.results["cases"]
        duration = sum(float(c["duration_ms"]) for c in cases) / 1000
        waited = sum(float(c.get("waited_ms") or 0.0) for c in cases) / 1000
        requests = sum(case_requests(c) for c in cases)
        chain = wait_chain_s(cases)
        s, t0 = self.spans, self.child.started
        work = max(duration - waited, 1e-9)
        return {
            "requests": requests,
            "requests_per_case": requests / max(1, len(cases)),
            "requests_per_s_outside_waits": requests / work,
            "wait_chain_s": chain,
            "projected_5rps_s": max(requests / RATE_LIMIT_PER_S, chain),
            "projected_5rps_remote_s": max(remote_requests(cases) / RATE_LIMIT_PER_S, chain),
            "wall_s": self.child.wall_s,
            "startup_s": s["first_call_start"] - t0,
            "startup_to_first_setup_s": s["first_setup_start"] - t0,
            "runtime_start_s": s["first_call_start"] - s["first_setup_start"],
            "exec_span_s": s["last_call_stop"] - s["first_call_start"],
            "tail_s": max(0.0, t0 + self.child.wall_s - s["last_call_stop"]),
            "exec_sum_s": duration,
            "waited_s": waited,
            "exec_minus_waits_s": duration - waited,
            "cases": float(len(cases)),
            # requests sent: a positive control shared by a group is in each case's
            # evidence but was sent once
            "exchanges": requests,
            "peak_rss_mb": self.child.peak_rss_mb,
            "cpu_s": self.child.cpu_s,
        }


def case_requests(case: Mapping[str, Any]) -> float:
    """The requests a case caused: ``requests`` when recorded, else its exchanges."""
    recorded = case.get("requests")
    if isinstance(recorded, int | float) and recorded > 0:
        return float(recorded)
    return float(len(case.get("exchanges", ())))


def remote_requests(cases: Sequence[Mapping[str, Any]]) -> float:
    """The requests of the cases a remote target runs by default: those that burst or
    race the target (``needs`` bursts/races) skip on a non-loopback target unless its
    ``transport.allow_bursts`` is set (``conformance._configured``)."""
    # lazy: the benchmarked run loads this module (-p conformance.bench): stdlib only
    from ._schedule import ALONE_NEEDS
    from .catalog import load_cases

    bursts = {c.id for c in load_cases(()) if c.needs & ALONE_NEEDS}
    return sum(case_requests(c) for c in cases if c.get("id") not in bursts)


def wait_chain_s(cases: Sequence[Mapping[str, Any]]) -> float:
    """The longest chain of deliberate waits the scheduler cannot overlap: the JWKS
    lane's waits in a row, or the longest single wait of the main lane, whichever is
    longer, then the lone cases' waits and those of the cases that run last
    (``conformance._schedule``)."""
    # lazy: the benchmarked run loads this module (-p conformance.bench): stdlib only
    from ._schedule import lane
    from .catalog import load_cases

    lanes = {c.id: lane(c) for c in load_cases(())}
    sums = {"main": 0.0, "jwks": 0.0, "alone": 0.0, "last": 0.0}
    longest_main = 0.0
    for case in cases:
        waited = float(case.get("waited_ms") or 0.0) / 1000
        name = lanes.get(str(case.get("id")), "main")
        sums[name] += waited
        if name == "main":
            longest_main = max(longest_main, waited)
    return max(sums["jwks"], longest_main) + sums["alone"] + sums["last"]


def run_full(workdir: Path) -> Child:
    """``conformance run`` with the report (the default plan), end to end, in a child."""
    child = run_child(conformance_argv("run", "--report-dir", str(workdir / "report")))
    if child.code not in (0, 1) or not (workdir / "report" / "report.html").exists():
        raise RuntimeError(
            f"conformance run exited {child.code} or wrote no report:\n{child.stderr[-2000:]}"
        )
    return child


#: cases that judge what one process recorded: under ``-n`` each worker sees its share,
#: and they skip there by design (``catalog/hygiene.py``)
PER_PROCESS = ("errors.hygiene.",)


def _comparable(verdicts: Mapping[str, str]) -> dict[str, str]:
    """The verdicts that must agree between one process and ``-n 2``."""
    return {k: v for k, v in verdicts.items() if not k.startswith(PER_PROCESS)}


def run_plan(args: Sequence[str], workdir: Path, *, pytest_args: Sequence[str] = ()) -> PlanRun:
    """``conformance run --no-report`` with ``args`` (and ``pytest_args`` after ``--``) in
    a child; raises ``RuntimeError`` when the run could not run (exit 2 and up)."""
    workdir.mkdir(parents=True, exist_ok=True)
    report_dir = workdir / "report"
    spans_path = workdir / "spans.json"
    argv = conformance_argv(
        "run",
        "--no-report",
        "--report-dir",
        str(report_dir),
        *args,
        "--",
        "-p",
        PLUGIN,
        *pytest_args,
    )
    child = run_child(argv, env={**os.environ, SPANS_ENV: str(spans_path)})
    results_path = report_dir / "results.json"
    if child.code not in (0, 1) or not results_path.exists() or not spans_path.exists():
        raise RuntimeError(
            f"plan run {' '.join(args) or '(default)'} exited {child.code}:\n"
            f"{child.stdout[-2000:]}\n{child.stderr[-2000:]}"
        )
    spans = summarise_phases(json.loads(spans_path.read_text())["phases"])
    results = json.loads(results_path.read_text(encoding="utf-8"))
    return PlanRun(child=child, results=results, results_path=results_path, spans=spans)


def import_breakdown(stderr: str, *, top: int = 8) -> list[tuple[str, float]]:
    """The slowest top-level imports (cumulative ms) from ``python -X importtime`` output."""
    rows: list[tuple[str, float]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, _, rest = line.partition(":")
        parts = rest.split("|")
        if len(parts) != 3:
            continue
        name = parts[2].rstrip()
        if name.startswith(" " * 3):  # nested: counted in its parent's cumulative time
            continue
        rows.append((name.strip(), int(parts[1]) / 1000))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


# -- the floor ---------------------------------------------------------------------------

DEFAULT_CLAIMS: dict[str, Any] = {
    "iss": "https://issuer.conformance.test/a",
    "sub": "conformance-b",
    "scope": "wallet:export",
    "jti": "floor",
    "iat": 1_795_000_000,
    "exp": 1_795_000_120,
}


def token_mix(results: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One (alg, claims) per request of a run (a positive control shared by several cases
    once): the assertion's alg when it decoded and
    our keyring can sign with it, else a plain ES256 token (alg ``none``, ``ES256K``,
    garbage headers, undecodable tokens); its claims when they decoded, else a plain set.
    """
    # lazy: the benchmarked run loads this module (-p conformance.bench): stdlib only
    from ._keyring import ALGS, HMAC_ALGS

    signable = set(ALGS) | set(HMAC_ALGS)
    mix: list[tuple[str, dict[str, Any]]] = []
    shared: set[str] = set()
    for case in results.get("cases", ()):
        for exchange in case.get("exchanges", ()):
            assertion = exchange.get("assertion")
            header = assertion.get("header") if isinstance(assertion, dict) else None
            claims = assertion.get("claims") if isinstance(assertion, dict) else None
            jti = claims.get("jti") if isinstance(claims, dict) else None
            if exchange.get("label") == "control" and isinstance(jti, str):
                if jti in shared:
                    continue  # one positive control shared by a group: sent once
                shared.add(jti)
            alg = header.get("alg") if isinstance(header, dict) else None
            mix.append(
                (
                    alg if isinstance(alg, str) and alg in signable else FALLBACK_ALG,
                    dict(claims) if isinstance(claims, dict) else dict(DEFAULT_CLAIMS),
                )
            )
    return mix


@dataclass(frozen=True, slots=True)
class Floor:
    sign_s: float
    http_s: float
    tokens: int
    algs: dict[str, int] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.sign_s + self.http_s


def measure_floor(mix: Sequence[tuple[str, dict[str, Any]]], *, repeat: int) -> list[Floor]:
    """Sign the mix with loaded keys, then POST a fixed body once per token, ``repeat`` times
    against one embedded emulator (started, like the plan's, in this process)."""
    # lazy: the benchmarked run loads this module (-p conformance.bench): stdlib only
    from . import _http
    from ._embedded import open_embedded
    from ._keyring import HMAC_ALGS
    from .forge import compact

    algs: dict[str, int] = {}
    for alg, _ in mix:
        algs[alg] = algs.get(alg, 0) + 1
    floors: list[Floor] = []
    with open_embedded() as runtime:
        keyring = runtime.keyring
        keys = {a: keyring.hmac(a) if a in HMAC_ALGS else keyring.trusted(a) for a in algs}
        work = [({"alg": a, "kid": keys[a].kid, "typ": "JWT"}, c, keys[a]) for a, c in mix]
        session = runtime.session(0)
        now = int(time.time())
        fixed = compact(
            {"alg": "ES256", "kid": keys.get("ES256", keyring.trusted("ES256")).kid, "typ": "JWT"},
            {
                "iss": runtime.settings.issuer,
                "sub": session.subject,
                "aud": runtime.settings.audience,
                "scope": "wallet:export",
                "jti": "bench-floor",
                "iat": now,
                "exp": now + 120,
            },
            key=keyring.trusted("ES256"),
        )
        # The first POST is accepted, the rest refused as replays: the emulator still
        # parses, verifies the signature, checks the claims and looks the jti up each time.
        body = json.dumps({"jwt": fixed}).encode()
        headers = {"content-type": "application/json", "authorization": f"Bearer {session.token}"}
        settings = runtime.settings
        url = f"{settings.base_url}/sdk/{settings.environment_id}/externalAuth/verify"
        with _http.client() as client:
            for _ in range(min(20, len(work))):  # warm: connection, caches, JWKS fetch
                client.post(url, content=body, headers=headers)
            for _ in range(repeat):
                t0 = time.perf_counter()
                for header, claims, key in work:
                    compact(header, claims, key=key)
                t1 = time.perf_counter()
                for _ in work:
                    client.post(url, content=body, headers=headers).read()
                t2 = time.perf_counter()
                floors.append(Floor(sign_s=t1 - t0, http_s=t2 - t1, tokens=len(work), algs=algs))
    return floors


# -- the report --------------------------------------------------------------------------


def synthetic_results(
    real: Mapping[str, Any], n_cases: int, *, fail_every: int = 20
) -> dict[str, Any]:
    """A results document of ``n_cases`` cases cut from a real run's (cycled, ids made
    unique, a copy's Reproduce line and re-run command naming the copy), every
    ``fail_every``-th turned into a failure with a message, so the report shows failures
    first as a real not-conformant run does. Summary from the writer."""
    # lazy: the benchmarked run loads this module (-p conformance.bench): stdlib only
    import msgspec

    from ._results import build_results

    source = list(real["cases"])
    if not source:
        raise ValueError("the real results hold no case")
    cases = []
    for i in range(n_cases):
        case = json.loads(json.dumps(source[i % len(source)]))
        if i >= len(source):
            original = case["id"]
            case["id"] = f"{original}.copy{i // len(source)}"
            # a copy names itself where a real case does (its Reproduce line's notes, its
            # re-run command, its node id), never the case it was copied from
            for key in ("reproduce", "rerun", "nodeid"):
                if isinstance(case.get(key), str):
                    case[key] = case[key].replace(original, case["id"])
        if fail_every and i % fail_every == fail_every - 1:
            case["verdict"] = "fail" if case["level"] == "must" else "warn"
            case["message"] = (
                f"{case['id']}: a correct endpoint {case.get('correct', 'refuses it')}; "
                "this one answered 200 and issued a token"
            )
        cases.append(case)
    run = {k: v for k, v in real["run"].items() if k not in ("python", "platform")}
    doc: dict[str, Any] = msgspec.to_builtins(
        build_results(cases, run=run, facts=real.get("facts", {}))
    )
    return doc


@dataclass(frozen=True, slots=True)
class Render:
    cli_s: float
    cli_peak_rss_mb: float
    execute_s: float
    export_s: float
    html_bytes: int
    warm_s: float  # render_report in a kernel started beforehand, as conformance run does


def measure_render(results_path: Path, workdir: Path) -> Render:
    """``conformance report`` in a child (cold, as a user runs it), then the same render
    in this process, timed as notebook execution and HTML export, and once more in a
    kernel started (and warmed) beforehand: what ``conformance run`` waits for after its
    cases, its kernel having started while they ran."""
    # lazy: the optional report extra
    from .report.render import WarmKernel, export_html, render_report

    nbformat: Any = importlib.import_module("nbformat")  # untyped

    cli_dir = workdir / "cli"
    child = run_child(conformance_argv("report", str(results_path), "--out", str(cli_dir)))
    if child.code != 0:
        raise RuntimeError(f"conformance report exited {child.code}: {child.stderr[-2000:]}")
    html = cli_dir / "report.html"
    in_dir = workdir / "in-process"
    t0 = time.perf_counter()
    paths = render_report(results_path, out_dir=in_dir)
    total = time.perf_counter() - t0
    nb = nbformat.read(paths.notebook, as_version=4)
    t1 = time.perf_counter()
    export_html(nb, in_dir / "export-again.html")
    export = time.perf_counter() - t1
    kernel = WarmKernel().start()
    kernel.wait()
    t2 = time.perf_counter()
    render_report(results_path, out_dir=workdir / "warm", kernel=kernel)
    warm = time.perf_counter() - t2
    return Render(
        warm_s=warm,
        cli_s=child.wall_s,
        cli_peak_rss_mb=child.peak_rss_mb,
        execute_s=max(0.0, total - export),
        export_s=export,
        html_bytes=html.stat().st_size,
    )


# -- the whole benchmark -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What to run: the full default plan, or small pieces of it (``--quick``)."""

    plan_args: tuple[str, ...] = ()
    property_args: tuple[str, ...] = ("--id", "*.property.*")
    examples: tuple[int, int] = (40, 160)
    synthetic_cases: int = SYNTHETIC_CASES


FULL = Plan()
QUICK = Plan(
    plan_args=("--category", "envelope", "--category", "scope"),
    property_args=("--id", "claims.property.oracle"),
    examples=(5, 15),
    synthetic_cases=100,
)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def stat(values: Sequence[float]) -> dict[str, Any]:
    return {"median": median(values), "min": min(values), "max": max(values), "n": len(values)}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "loadavg": load,
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def benchmark(
    plan: Plan, *, repeat: int, workdir: Path, log: Callable[[str], None] = _log
) -> dict[str, Any]:
    """Every measurement, ``repeat`` times; returns the JSON document (medians + samples)."""
    samples: dict[str, list[float]] = {}

    def add(prefix: str, figures: Mapping[str, float]) -> None:
        for name, value in figures.items():
            samples.setdefault(f"{prefix}.{name}", []).append(float(value))

    extra: dict[str, Any] = {"verdicts_identical": True, "verdict_differences": []}
    plans: list[PlanRun] = []
    for i in range(repeat):
        log(f"plan, one process ({i + 1}/{repeat})")
        one = run_plan(plan.plan_args, workdir / f"plan-{i}")
        plans.append(one)
        add("plan", one.figures())
        log(f"plan, -n 2 ({i + 1}/{repeat})")
        two = run_plan((*plan.plan_args, "-n", "2"), workdir / f"plan-n2-{i}")
        add("plan_n2", two.figures())
        first, second = _comparable(one.verdicts), _comparable(two.verdicts)
        if second != first:
            extra["verdicts_identical"] = False
            extra["verdict_differences"] += [
                (k, first.get(k), second.get(k))
                for k in sorted(set(first) | set(second))
                if first.get(k) != second.get(k)
            ][:20]
        log(f"conformance run with the report ({i + 1}/{repeat})")
        full = run_full(workdir / f"full-{i}")
        add("full", {"wall_s": full.wall_s, "peak_rss_mb": full.peak_rss_mb})
        log(f"one-case run ({i + 1}/{repeat})")
        single = run_plan(("--id", ONE_CASE), workdir / f"one-{i}")
        add("one_case", single.figures())
        for n in plan.examples:
            log(f"property cases, --examples {n} ({i + 1}/{repeat})")
            prop = run_plan((*plan.property_args, "--examples", str(n)), workdir / f"ex{n}-{i}")
            figures = prop.figures()
            figures["examples"] = float(
                sum(
                    1
                    for c in prop.results["cases"]
                    for e in c["exchanges"]
                    if e.get("label") == "example"
                )
            )
            add(f"examples_{n}", figures)
    log("interpreter alone and the imports of a one-case run")
    bare = [run_child([sys.executable, "-c", "pass"]).wall_s for _ in range(repeat)]
    samples["plan.python_bare_s"] = bare
    timed = run_child(
        conformance_argv(
            "run",
            "--no-report",
            "--report-dir",
            str(workdir / "importtime"),
            "--id",
            ONE_CASE,
            python_flags=("-X", "importtime"),
        )
    )
    extra["imports_top_ms"] = [(n, round(ms, 1)) for n, ms in import_breakdown(timed.stderr)]

    reference = plans[0]
    mix = token_mix(reference.results)
    log(f"floor: {len(mix)} tokens, {repeat} times")
    for floor in measure_floor(mix, repeat=repeat):
        add("floor", {"sign_s": floor.sign_s, "http_s": floor.http_s, "total_s": floor.total_s})
        extra["floor_algs"] = floor.algs

    synthetic_path = workdir / "synthetic" / "results.json"
    # lazy: the benchmarked run loads this module (-p conformance.bench): stdlib only
    from ._results import write_json

    write_json(synthetic_path, synthetic_results(reference.results, plan.synthetic_cases))
    for i in range(repeat):
        for name, path in (("real", reference.results_path), ("synthetic", synthetic_path)):
            log(f"report, {name} ({i + 1}/{repeat})")
            r = measure_render(path, workdir / f"render-{name}-{i}")
            add(
                f"report.{name}",
                {
                    "cli_s": r.cli_s,
                    "cli_peak_rss_mb": r.cli_peak_rss_mb,
                    "execute_s": r.execute_s,
                    "export_s": r.export_s,
                    "html_mb": r.html_bytes / 1_000_000,
                    "warm_s": r.warm_s,
                },
            )
    extra["report_cases"] = {
        "real": len(reference.results["cases"]),
        "synthetic": plan.synthetic_cases,
    }
    medians = {k: median(v) for k, v in samples.items()}
    medians.update(ratios(medians, plan))
    return {
        "machine": machine(),
        "repeat": repeat,
        "plan": {
            "plan_args": list(plan.plan_args),
            "property_args": list(plan.property_args),
            "examples": list(plan.examples),
            "synthetic_cases": plan.synthetic_cases,
        },
        "medians": medians,
        "samples": {k: stat(v) for k, v in samples.items()},
        "targets": evaluate(medians),
        **extra,
    }


def ratios(m: Mapping[str, float], plan: Plan) -> dict[str, float]:
    """Ratios of medians (a ratio of medians, not a median of ratios: runs are paired only
    by order, and the machine is noisy)."""
    floor = m["floor.total_s"]
    low, high = plan.examples
    d_examples = m[f"examples_{high}.examples"] - m[f"examples_{low}.examples"]
    out = {
        "ratio.exec_over_floor": m["plan.exec_sum_s"] / floor,
        "ratio.exec_minus_waits_over_floor": m["plan.exec_minus_waits_s"] / floor,
        "ratio.exec_span_minus_waits_over_floor": (m["plan.exec_span_s"] - m["plan.waited_s"])
        / floor,
        "ratio.span_over_bound": m["plan.exec_span_s"]
        / max(m.get("plan.wait_chain_s", 0.0), m["plan.exec_minus_waits_s"], 1e-9),
        "ratio.n2_speedup_exec": m["plan.exec_span_s"] / m["plan_n2.exec_span_s"],
        "ratio.n2_speedup_wall": m["plan.wall_s"] / m["plan_n2.wall_s"],
        "floor.per_exchange_ms": 1000 * floor / max(1.0, m["plan.exchanges"]),
        "plan.per_exchange_minus_waits_ms": 1000
        * m["plan.exec_minus_waits_s"]
        / max(1.0, m["plan.exchanges"]),
    }
    if d_examples > 0:
        out["examples.extra"] = d_examples
        out["examples.exec_ms_per_extra"] = (
            1000 * (m[f"examples_{high}.exec_sum_s"] - m[f"examples_{low}.exec_sum_s"]) / d_examples
        )
        out["examples.wall_ms_per_extra"] = (
            1000 * (m[f"examples_{high}.wall_s"] - m[f"examples_{low}.wall_s"]) / d_examples
        )
    return out


def evaluate(medians: Mapping[str, float]) -> list[dict[str, Any]]:
    rows = []
    for key, op, limit, unit, label in TARGETS:
        value = medians.get(key)
        met = value is not None and (value <= limit if op == "<=" else value >= limit)
        rows.append(
            {"target": label, "metric": key, "value": value, "limit": limit, "unit": unit,
             "op": op, "met": met}
        )  # fmt: skip
    return rows


# -- the table ---------------------------------------------------------------------------

ROWS: tuple[tuple[str, str, str], ...] = (
    ("floor.sign_s", "floor: sign the plan's tokens (keys loaded)", "s"),
    ("floor.http_s", "floor: one keep-alive POST per exchange", "s"),
    ("floor.total_s", "floor: total", "s"),
    ("floor.per_exchange_ms", "floor per exchange", "ms"),
    ("plan.cases", "plan: cases", ""),
    ("plan.exchanges", "plan: exchanges", ""),
    ("plan.wall_s", "plan: wall (one process)", "s"),
    ("plan.startup_s", "plan: start-up (spawn → first case's call)", "s"),
    ("plan.startup_to_first_setup_s", "  of which interpreter, imports, collection", "s"),
    ("plan.runtime_start_s", "  of which keys, servers, baseline (first setup)", "s"),
    ("plan.python_bare_s", "  (python -c pass)", "s"),
    ("one_case.wall_s", "one-case run: wall", "s"),
    ("plan.exec_span_s", "plan: case execution span (first call → last call)", "s"),
    ("plan.exec_sum_s", "plan: case execution, Σ duration_ms", "s"),
    ("plan.waited_s", "plan: deliberate waits, Σ waited_ms", "s"),
    ("plan.wait_chain_s", "plan: longest wait chain (waits that cannot overlap)", "s"),
    ("ratio.span_over_bound", "ratio: case span / max(wait chain, work)", "x"),
    ("plan.requests", "plan: requests (controls shared by groups of rejections)", ""),
    ("plan.requests_per_case", "plan: requests per case", ""),
    ("plan.requests_per_s_outside_waits", "plan: requests per second outside waits", "/s"),
    ("plan.projected_5rps_s", "plan: projected duration at 5 requests/s", "s"),
    (
        "plan.projected_5rps_remote_s",
        "plan: same, without the burst cases a remote target skips by default",
        "s",
    ),
    ("full.wall_s", "conformance run with the report: wall", "s"),
    ("full.peak_rss_mb", "conformance run with the report: peak RSS", "MB"),
    ("plan.exec_minus_waits_s", "plan: case execution − waits", "s"),
    ("plan.per_exchange_minus_waits_ms", "plan per exchange, − waits", "ms"),
    ("plan.tail_s", "plan: tail (outputs, servers stopped, exit)", "s"),
    ("plan.cpu_s", "plan: CPU time (user + system)", "s"),
    ("plan.peak_rss_mb", "plan: peak RSS", "MB"),
    ("ratio.exec_over_floor", "ratio: case execution / floor", "x"),
    ("ratio.exec_minus_waits_over_floor", "ratio: (case execution − waits) / floor", "x"),
    ("report.real.cli_s", "report (real results): conformance report, wall", "s"),
    ("report.real.execute_s", "  notebook execution (in process)", "s"),
    ("report.real.export_s", "  HTML export (in process)", "s"),
    ("report.real.html_mb", "  HTML size", "MB"),
    ("report.real.warm_s", "  render in a kernel started beforehand (as in a run)", "s"),
    ("report.synthetic.cli_s", "report (synthetic): conformance report, wall", "s"),
    ("report.synthetic.execute_s", "  notebook execution (in process)", "s"),
    ("report.synthetic.export_s", "  HTML export (in process)", "s"),
    ("report.synthetic.html_mb", "  HTML size", "MB"),
    ("report.synthetic.warm_s", "  render in a kernel started beforehand (as in a run)", "s"),
    ("report.synthetic.cli_peak_rss_mb", "  peak RSS (CLI)", "MB"),
    ("plan_n2.wall_s", "-n 2: wall", "s"),
    ("plan_n2.startup_s", "-n 2: start-up (spawn → first call)", "s"),
    ("plan_n2.exec_span_s", "-n 2: case execution span", "s"),
    ("plan_n2.exec_sum_s", "-n 2: Σ duration_ms", "s"),
    ("plan_n2.peak_rss_mb", "-n 2: peak RSS (largest process)", "MB"),
    ("ratio.n2_speedup_exec", "-n 2 speed-up, case execution span", "x"),
    ("ratio.n2_speedup_wall", "-n 2 speed-up, wall", "x"),
    ("examples.extra", "property cases: extra examples drawn", ""),
    ("examples.exec_ms_per_extra", "property cases: Σ duration per extra example", "ms"),
    ("examples.wall_ms_per_extra", "property cases: wall per extra example", "ms"),
)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("", "MB") and value >= 100:
        return f"{value:.0f}{(' ' + unit) if unit else ''}"
    digits = 3 if unit == "s" else 2
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def table(doc: Mapping[str, Any]) -> str:
    m, samples = doc["medians"], doc["samples"]
    lines = [
        f"machine: {doc['machine']['nproc']} CPUs, {doc['machine']['cpu']}, "
        f"Python {doc['machine']['python']}; medians of {doc['repeat']}",
        "",
        f"{'measure':<56} {'median':>11}  {'min … max':>22}",
        "-" * 92,
    ]
    for key, label, unit in ROWS:
        if key not in m:
            continue
        spread = ""
        if key in samples and samples[key]["n"] > 1:
            s = samples[key]
            spread = f"{_fmt(s['min'], unit)} … {_fmt(s['max'], unit)}"
        lines.append(f"{label:<56} {_fmt(m[key], unit):>11}  {spread:>22}")
    if doc.get("imports_top_ms"):
        lines += ["", "slowest top-level imports of a one-case run (-X importtime, cumulative):"]
        lines += [f"  {name:<40} {ms:>8.1f} ms" for name, ms in doc["imports_top_ms"]]
    lines += ["", "targets:"]
    for row in doc["targets"]:
        mark = "met    " if row["met"] else "NOT MET"
        lines.append(
            f"  {mark} {row['target']:<46} {_fmt(row['value'], row['unit']):>10} "
            f"({row['op']} {row['limit']:g} {row['unit']})"
        )
    identical = "identical" if doc["verdicts_identical"] else "DIFFERENT"
    lines.append(f"  verdicts, one process vs -n 2: {identical}")
    for diff in doc.get("verdict_differences", [])[:10]:
        lines.append(f"    {diff[0]}: {diff[1]} vs {diff[2]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=None, metavar="N", help="default 3")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="one repetition, small sizes")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="keep the runs' outputs here")
    args = parser.parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="conformance-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        doc = benchmark(plan, repeat=repeat, workdir=workdir)
    print(table(doc))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"json:    {args.json}")
    targets_met = doc["verdicts_identical"] and all(r["met"] for r in doc["targets"])
    return 0 if targets_met else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
