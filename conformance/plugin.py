"""pytest plugin (``pytest11`` entry point ``conformance``).

Cheap and inert until asked for: importing it imports nothing heavy, and it only starts
servers when a test uses the ``conformance_run`` fixture (the packaged suite,
``pytest --pyargs conformance.suite``). Options live in one group with one prefix; state
lives in ``config.stash``; under pytest-xdist each worker runs its own embedded target
and sends its case records to the controller through ``workeroutput``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._oob import listener_lines

if TYPE_CHECKING:
    from ._config import RunConfig
    from ._engine import Runtime
    from ._outputs import Outputs
    from ._runlog import RunLog
    from ._schedule import Scheduler
    from ._schema import CaseRecord, Scope, Summary
    from ._transport import Transport
    from ._verdict import Policy
    from .catalog._model import Case

OPT_CONFIG = "--conformance-config"
OPT_PROFILE = "--conformance-profile"
OPT_CATEGORY = "--conformance-category"
OPT_ID = "--conformance-id"
OPT_LEVEL = "--conformance-level"
OPT_STRICT = "--conformance-strict"
OPT_REPORT_DIR = "--conformance-report-dir"
OPT_NO_RENDER = "--conformance-no-render"
OPT_FLAW = "--conformance-flaw"
OPT_VARIANT = "--conformance-variant"
OPT_EXAMPLES = "--conformance-examples"
OPT_SLOW_TIER = "--conformance-slow-tier"
OPT_WAIVERS = "--conformance-waivers"
OPT_CASES = "--conformance-cases"
OPT_EMBEDDED_ALG = "--conformance-embedded-alg"
OPT_DEADLINE = "--conformance-deadline"
#: how a run stopped by the circuit breaker is recognised (also in a worker's log)
UNAVAILABLE = "target unavailable:"
DEADLINE = "the run's deadline of"
#: how a run that could not start is recognised (also in a worker's log)
ABORTED = "conformance: error:"

_RUN = pytest.StashKey["ConformanceRun"]()
#: the report kernel, started while the cases run (``conformance.report.render.WarmKernel``)
_KERNEL = pytest.StashKey[Any]()
_WORKER_KEY = "conformance_records"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "exchange-conformance suite")
    group.addoption(
        OPT_CONFIG,
        metavar="FILE",
        help="target configuration (TOML); default: the embedded emulator",
    )
    group.addoption(
        OPT_PROFILE,
        metavar="NAME",
        help="a shipped declarative profile the configured target speaks (docs/profiles.md)",
    )
    group.addoption(
        OPT_CATEGORY,
        action="append",
        default=[],
        metavar="CAT",
        help="run only this category (repeatable)",
    )
    group.addoption(
        OPT_ID,
        action="append",
        default=[],
        metavar="GLOB",
        help="run only case ids matching (repeatable)",
    )
    group.addoption(OPT_LEVEL, choices=("must", "should"), help="run only cases of this level")
    group.addoption(
        OPT_STRICT, action="store_true", help="'should' failures fail the run instead of warning"
    )
    group.addoption(
        OPT_REPORT_DIR, metavar="DIR", help="where results go (default reports/<run id>)"
    )
    group.addoption(
        OPT_NO_RENDER,
        action="store_true",
        help="write results.json and junit.xml only, no notebook/HTML",
    )
    group.addoption(
        OPT_FLAW,
        action="append",
        default=[],
        metavar="NAME",
        help="embedded emulator only: turn a named flaw on (repeatable)",
    )
    group.addoption(
        OPT_VARIANT,
        action="append",
        default=[],
        metavar="NAME",
        help="embedded emulator only: a legitimate policy variant (repeatable); the suite "
        "is then told none of its policy numbers",
    )
    group.addoption(
        OPT_EMBEDDED_ALG,
        action="append",
        default=[],
        metavar="ALG",
        help="embedded emulator only: publish and accept only this algorithm's key, as a "
        "target with one registered key (repeatable; the first signs)",
    )
    group.addoption(
        OPT_EXAMPLES,
        type=int,
        default=40,
        metavar="N",
        help="Hypothesis examples per property test (default 40)",
    )
    group.addoption(
        OPT_SLOW_TIER,
        action="store_true",
        default=False,
        help="also run the slow tier: replays spaced 30 s and 90 s apart (the environment "
        "variable CONFORMANCE_SLOW_TIER=1 does the same)",
    )
    group.addoption(
        OPT_CASES,
        action="append",
        default=[],
        metavar="MODULE",
        help="also run the cases of this module (dotted name or .py path; repeatable); "
        "installed 'conformance.cases' entry points are always loaded",
    )
    group.addoption(
        OPT_DEADLINE,
        type=float,
        metavar="SECONDS",
        help="stop the run after this long: the remaining cases are not run and the run is "
        "incomplete (default: transport.run_deadline_s, else none)",
    )
    group.addoption(
        OPT_WAIVERS,
        metavar="FILE",
        help="a TOML file of accepted risks (case id, reason, owner, expires)",
    )


def pytest_configure(config: pytest.Config) -> None:
    from . import _xdist_share  # lazy: the plugin's import stays pytest-only
    from .catalog._model import CATEGORIES

    _xdist_share.start_clock(config)

    for category in CATEGORIES:
        config.addinivalue_line("markers", f"{category}: conformance cases of category {category}")
    config.addinivalue_line("markers", "must: conformance cases of level must (contract, RFC MUST)")
    config.addinivalue_line("markers", "should: conformance cases of level should (hardening)")
    _check_options(config)


def _check_options(config: pytest.Config) -> None:
    """The options that can be checked before collection, checked now: a mistake is one
    ``ERROR:`` line from pytest (a usage error), not a traceback out of collection."""
    # lazy: the plugin's import stays pytest-only
    from ._exceptions import ConformanceError
    from ._outputs import ensure_writable
    from ._selection import resolve_category
    from ._waivers import load_waivers

    examples = config.getoption(OPT_EXAMPLES)
    if examples is not None and examples < 1:
        raise pytest.UsageError(f"{OPT_EXAMPLES} must be at least 1, not {examples}")
    try:
        for value in config.getoption(OPT_CATEGORY) or ():
            resolve_category(value)
        waivers = config.getoption(OPT_WAIVERS)
        if waivers:
            load_waivers(Path(waivers))
        report_dir = config.getoption(OPT_REPORT_DIR)
        if report_dir and not hasattr(config, "workerinput"):  # xdist workers write nothing
            ensure_writable(Path(report_dir), option=OPT_REPORT_DIR)
    except ConformanceError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption(OPT_CONFIG) or config.getoption(OPT_CASES):
        _run(config)  # reads the target configuration and the case modules now


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise pytest.UsageError(f"{OPT_DEADLINE} must be a number of seconds above 0")
    return value


def _categories(values: Iterable[str]) -> list[str]:
    from ._selection import resolve_category  # lazy: see pytest_configure

    return [resolve_category(value) for value in values]


def _seed(config: pytest.Config) -> int:
    """The seed of the property cases: ``--hypothesis-seed`` when given, else a fresh one
    (recorded in the results, so that any run can be reproduced)."""
    given = (
        config.getoption("hypothesis_seed", None)
        if config.pluginmanager.hasplugin("hypothesispytest")
        else None
    )
    return int(given) if given is not None else secrets.randbits(32)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The ``--conformance-*`` options of one run, read once."""

    config: str | None = None
    profile: str | None = None
    categories: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    level: str | None = None
    strict: bool = False
    report_dir: str | None = None
    render: bool = True
    flaws: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    examples: int = 40
    slow_tier: bool = False
    waivers: str | None = None
    seed: int | None = None
    cases: tuple[str, ...] = ()
    embedded_algs: tuple[str, ...] = ()
    deadline: float | None = None

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> RunOptions:
        return cls(
            config=config.getoption(OPT_CONFIG),
            profile=config.getoption(OPT_PROFILE),
            categories=tuple(_categories(config.getoption(OPT_CATEGORY) or ())),
            ids=tuple(config.getoption(OPT_ID) or ()),
            level=config.getoption(OPT_LEVEL),
            strict=bool(config.getoption(OPT_STRICT)),
            report_dir=config.getoption(OPT_REPORT_DIR),
            render=not config.getoption(OPT_NO_RENDER),
            flaws=tuple(config.getoption(OPT_FLAW) or ()),
            variants=tuple(config.getoption(OPT_VARIANT) or ()),
            examples=int(config.getoption(OPT_EXAMPLES)),
            slow_tier=bool(config.getoption(OPT_SLOW_TIER)),
            waivers=config.getoption(OPT_WAIVERS),
            seed=_seed(config),
            cases=tuple(config.getoption(OPT_CASES) or ()),
            embedded_algs=tuple(config.getoption(OPT_EMBEDDED_ALG) or ()),
            deadline=_positive(config.getoption(OPT_DEADLINE)),
        )

    def rerun_line(self, case_id: str, *, cli: bool = False) -> str:
        """The command that runs this one case again against the same target: a
        ``conformance run`` line for a run that command started (``cli``), else a pytest
        line, so that each user is shown the option names they type."""
        seed = case_id.split(".")[1:2] == ["property"] and self.seed is not None
        if cli:
            parts = ["conformance run", f"--id '{case_id}'"]
            if self.config:
                parts.append(f"--config '{self.config}'")
            parts += [f"--cases '{module}'" for module in self.cases]
            parts += [f"--flaw {flaw}" for flaw in self.flaws]
            parts += [f"--variant {variant}" for variant in self.variants]
            parts += [f"--embedded-alg {alg}" for alg in self.embedded_algs]
            if self.strict:
                parts.append("--strict")
            if self.slow_tier:
                parts.append("--slow-tier")
            if seed:
                parts.append(f"-- --hypothesis-seed={self.seed}")
            return " ".join(parts)
        parts = ["pytest --pyargs conformance.suite", f"{OPT_ID} '{case_id}'"]
        if self.config:
            parts.append(f"{OPT_CONFIG} '{self.config}'")
        parts += [f"{OPT_CASES} '{module}'" for module in self.cases]
        parts += [f"{OPT_FLAW} {flaw}" for flaw in self.flaws]
        parts += [f"{OPT_VARIANT} {variant}" for variant in self.variants]
        parts += [f"{OPT_EMBEDDED_ALG} {alg}" for alg in self.embedded_algs]
        if self.strict:
            parts.append(OPT_STRICT)
        if self.slow_tier:
            parts.append(OPT_SLOW_TIER)
        if seed:
            parts.append(f"--hypothesis-seed={self.seed}")
        return " ".join(parts)


class RunReport:
    """Handed to ``pytest.main(plugins=[...])`` by ``conformance run``: the run leaves its
    outputs (or the one-line reason it could not start) here for the CLI to print last,
    instead of printing them itself."""

    def __init__(self) -> None:
        self.outputs: Outputs | None = None
        self.error: str | None = None


def _cli_report(config: pytest.Config) -> RunReport | None:
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, RunReport):
            return plugin
    return None


def _new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class ConformanceRun:
    """One run inside one pytest process (kept in ``config.stash``): the selection, the
    runtime while cases run, and the log of what they did."""

    options: RunOptions
    config: RunConfig | None
    policy: Policy
    catalog: tuple[Case, ...]  # the built-in cases and the extension modules' cases
    report: RunReport | None
    log: RunLog
    run_id: str = field(default_factory=_new_run_id)
    runtime: Runtime | None = None
    summary_lines: list[str] | None = None
    #: (nodeid, case) of every item pytest collected, in order (the scheduler's plan)
    collected: list[tuple[str, Case]] = field(default_factory=list)
    scheduler: Scheduler | None = None
    worker: bool = False  # an xdist worker
    _scheduled: bool = False
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _started: float = field(default_factory=time.time)
    _started_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    _pacer: Any = None  # the run's shared pace under xdist (a _pacer.SharedPacer)

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> ConformanceRun:
        """Read the options and the target configuration (``--conformance-config`` or
        ``[tool.conformance]`` in ``pyproject.toml``); a wrong one is a usage error with
        one precise line."""
        # lazy: the plugin loads in every pytest run; the run's modules only when asked
        from . import _xdist_share
        from ._config import load_run_config
        from ._exceptions import ConformanceError
        from ._runlog import RunLog
        from ._runtime import policy_for
        from .catalog import load_cases

        options = RunOptions.from_pytest(config)
        try:
            loaded = load_run_config(
                Path(options.config) if options.config else None,
                cwd=Path.cwd(),
                profile=options.profile,
            )
            policy = policy_for(loaded, strict=options.strict, waivers=options.waivers)
            catalog = load_cases(options.cases)
            if loaded is not None and loaded.template is not None:
                from ._contract import with_contract  # lazy: only a declarative profile

                catalog = with_contract(catalog, loaded.template)
        except ConformanceError as exc:
            raise pytest.UsageError(str(exc)) from None
        if loaded is not None and options.flaws:
            raise pytest.UsageError(
                f"{OPT_FLAW} applies to the embedded emulator only; drop it or the config"
            )
        if loaded is not None and options.variants:
            raise pytest.UsageError(
                f"{OPT_VARIANT} applies to the embedded emulator only; drop it or the config"
            )
        if loaded is not None and options.embedded_algs:
            raise pytest.UsageError(
                f"{OPT_EMBEDDED_ALG} applies to the embedded emulator only; drop it or the config"
            )
        clock = _xdist_share.run_clock(config)  # the controller's start, under xdist
        return cls(
            options=options,
            config=loaded,
            policy=policy,
            catalog=catalog,
            report=_cli_report(config),
            log=RunLog(),
            _started=clock.started,
            _started_at=clock.started_at,
            _pacer=_xdist_share.shared_pacer(config),
        )

    @property
    def profile(self) -> str:
        return self.config.profile if self.config is not None else "dynamic"

    def selected(self) -> list[Case]:
        from ._selection import select_cases  # lazy: see from_pytest

        o = self.options
        return select_cases(
            self.catalog, profile=self.profile, categories=o.categories, ids=o.ids, level=o.level
        )

    def _chosen(self) -> list[str]:
        """The ids this run selected: those pytest collected (after its own -k/-m), else,
        when no collection was reported (every worker crashed), those the options chose."""
        return list(self.log.selected) or [c.id for c in self.selected()]

    def selection(self) -> dict[str, Any]:
        """``run.selection`` of results.json: what the run asked for."""
        o = self.options
        by_options = len(self.selected())
        return {
            "profile": self.profile,
            "categories": list(o.categories),
            "ids": list(o.ids),
            "level": o.level,
            "cases": list(o.cases),
            "deselected": max(0, by_options - len(self.log.selected)) if self.log.selected else 0,
        }

    def scope(self) -> Scope:
        """What the run set out to do: the profile's catalog, the selection, and why it
        stopped early (the coverage of results.json is counted against it)."""
        from ._schema import Scope  # lazy: see from_pytest

        profile = self.profile
        return Scope(
            catalog=tuple(
                (c.id, c.category, c.severity.value) for c in self.catalog if profile in c.profiles
            ),
            selected=frozenset(self._chosen()),
            stopped="; ".join(self.log.stopped),
        )

    def refuse_empty_selection(self) -> None:
        """A selection that matches no case is a mistake, not a green run: exit 2."""
        if self.selected():
            return
        o = self.options
        asked = [f"{OPT_CATEGORY} {c}" for c in o.categories]
        asked += [f"{OPT_ID} '{i}'" for i in o.ids]
        asked += [f"{OPT_LEVEL} {o.level}"] if o.level else []
        self._abort(
            f"conformance: error: no case of the {self.profile} profile matched the selection "
            f"({' '.join(asked) or 'no options'}); see 'conformance cases'"
        )

    def _abort(self, message: str) -> None:
        """Stop before any case (exit 2) with ONE line: whatever the target put in it
        (line feeds, escapes, tokens, megabytes) is escaped, cut and bounded;
        ``conformance run`` prints ``message`` last."""
        from ._verdict import one_line  # lazy: see from_pytest

        message = one_line(message, limit=1000)
        self._stack.close()
        if self.report is None:
            self.log.stopped.append(message)  # an xdist worker: the controller says it
            pytest.exit(message, returncode=2)
        # `conformance run` prints the line and exits 2 whatever pytest's code: any code
        # but INTERRUPTED keeps pytest from printing it at the session's end as well (and
        # pytest_unconfigure below drops the copy it would print as `_pytest.outcomes.Exit`)
        self.report.error = message
        pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)

    def start(self) -> None:
        from ._exceptions import ConformanceError  # lazy: see from_pytest
        from ._redact import scrub
        from ._runtime import build_runtime, check_baseline
        from ._settings import PropertySettings

        o = self.options
        try:
            properties = PropertySettings(examples=o.examples, seed=o.seed, slow_tier=o.slow_tier)
            self.runtime = self._stack.enter_context(
                build_runtime(
                    self.config,
                    flaws=o.flaws,
                    variants=o.variants,
                    policy=self.policy,
                    properties=properties,
                    algs=o.embedded_algs or None,
                    pacer=self._pacer,
                    xdist_worker=self.worker,
                )
            )
            if self.worker:  # the hygiene cases see this worker's refusals only
                self.runtime.refusals.partial = "one pytest-xdist worker"
            check_baseline(self.runtime)
        except ConformanceError as exc:
            self._abort(f"conformance: error: {exc}")
        except Exception as exc:  # a hostile answer during sign-in or the baseline
            self._abort(
                "conformance: error: the target's answer during sign-in or the baseline could "
                f"not be handled ({type(exc).__name__}: {exc})"
            )
        assert self.runtime is not None
        # what results.json shows of the target: a secret a URL template rendered is cut
        # (the description itself keeps the URL the cases use, e.g. as the audience)
        target = {
            k: scrub(v, limit=2000) if isinstance(v, str) else v
            for k, v in self.runtime.target.description.items()
        }
        target["flaws"] = list(o.flaws)
        if o.variants:
            target["variants"] = list(o.variants)
        target["embedded"] = self.config is None
        if self.config is not None:
            target["config"] = self.config.source  # anchors the SARIF results
        if o.embedded_algs:
            target["embedded_algs"] = list(o.embedded_algs)
        self.log.target = target
        deadline = self.deadline
        transport = self._transport()
        if deadline is not None and transport is not None:
            # a case still running at the deadline sends nothing more
            transport.halt_at = time.monotonic() + deadline - (time.time() - self._started)

    @property
    def deadline(self) -> float | None:
        """``--conformance-deadline``, else ``transport.run_deadline_s``, else none."""
        if self.options.deadline is not None:
            return self.options.deadline
        return self.config.transport.run_deadline_s if self.config is not None else None

    def _transport(self) -> Transport | None:
        from ._transport import Transport  # lazy: see from_pytest

        transport = getattr(self.runtime.target, "transport", None) if self.runtime else None
        return transport if isinstance(transport, Transport) else None

    def _why_halt(self) -> str | None:
        transport = self._transport()
        why = transport.unavailable if transport is not None else None
        deadline = self.deadline
        if why is None and deadline is not None and time.time() - self._started >= deadline:
            why = f"{DEADLINE} {deadline:g} s passed; the remaining cases were not run"
        return why

    def halt(self) -> str | None:
        """Why no further case may run (the target is unavailable, the run's deadline
        passed), recorded once as why the run stopped; ``None`` to go on."""
        why = self._why_halt()
        if why is not None and why not in self.log.stopped:
            self.log.stopped.append(why)
        return why

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
            self.scheduler.join(timeout=10)
            self.scheduler = None
        if self.runtime is not None:
            self.log.facts.update(self.runtime.facts)
            self.log.retries += self.runtime.target.retries
            self.runtime = None
        self._stack.close()

    def run(self, case: Case, nodeid: str) -> None:
        """Run one case, record it, and turn its verdict into a pytest outcome."""
        from ._engine import failure_message, run_case  # lazy: see from_pytest
        from ._exceptions import CaseFailure, TargetMisbehaved
        from ._results import case_record

        assert self.runtime is not None, "the conformance_run fixture starts the runtime"
        scheduler = self._schedule(nodeid)
        result = scheduler.result(case.id) if scheduler is not None else None
        if result is None:  # not scheduled here (another share, a halt): run it now
            result = run_case(self.runtime, case)
        rerun = self.options.rerun_line(case.id, cli=self.report is not None)
        failure = failure_message(result, rerun=rerun) if result.judged in {"fail", "error"} else ""
        self.log.records.append(case_record(result, nodeid=nodeid, failure=failure, rerun=rerun))
        if result.verdict == "skip":
            pytest.skip(result.message)
        if result.verdict == "fail":
            raise CaseFailure(
                failure, case_id=case.id, severity=case.severity.value, level=case.level.value
            )
        if result.verdict == "error":
            raise TargetMisbehaved(failure)

    def _schedule(self, nodeid: str) -> Scheduler | None:
        """Start the scheduler at the first case, over the cases this process will run:
        every collected one, or under xdist the group of ``nodeid`` (``--dist loadgroup``
        hands each worker one whole group; without it a worker cannot know its cases in
        advance and runs each at its item)."""
        if self._scheduled:
            return self.scheduler
        self._scheduled = True
        from ._schedule import Scheduler  # lazy: see from_pytest

        suffix = _group_suffix(nodeid)
        if self.worker and not suffix:
            return None
        cases = [c for n, c in self.collected if n.endswith(suffix)] if suffix else None
        plan = cases if cases is not None else [c for _, c in self.collected]
        assert self.runtime is not None
        self.scheduler = Scheduler(
            self.runtime, plan, halted=lambda: self._why_halt() is not None
        ).start()
        return self.scheduler

    def finish(self, kernel: Any = None) -> Outputs:
        """Write the outputs (the controller, or a run without xdist); the report renders
        in ``kernel`` when one was started while the cases ran."""
        from ._outputs import write_outputs  # lazy: see from_pytest

        o = self.options
        if o.report_dir:
            out = Path(o.report_dir)
        else:
            root = self.config.report_dir if self.config is not None else None
            out = Path(root or "reports") / self.run_id
        run: dict[str, Any] = {
            "id": self.run_id,
            "started_at": self._started_at,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - self._started, 3),
            "seed": o.seed,
            "strict": o.strict,
            # The report names options as this person types them (--strict or
            # --conformance-strict): conformance run hands us a RunReport, pytest does not.
            "runner": "cli" if self.report is not None else "pytest",
            "target": self.log.target,
            "selection": self.selection(),
        }
        waivers = self.policy.waivers
        if len(waivers):
            # unused: matching no case of the catalog (a typo, a renamed case); a waiver
            # for a case this selection left out is not one
            known = [r["id"] for r in self.log.records] + [c.id for c in self.catalog]
            run["unused_waivers"] = [w.id for w in waivers.unused(known)]
        outputs = write_outputs(
            self.log, run=run, out=out, render=o.render, scope=self.scope(), kernel=kernel
        )
        if self.report is not None:
            self.report.outputs = outputs
        self.summary_lines = _summary_lines(
            outputs, paths=self.report is None, unused_waivers=run.get("unused_waivers", ())
        )
        self.summary_lines += listener_lines(self.log.facts)
        return outputs


def _summary_lines(
    outputs: Outputs, *, paths: bool, unused_waivers: Iterable[str] = ()
) -> list[str]:
    """The terminal summary; the paths are left to ``conformance run`` when it runs us."""
    summary = outputs.summary
    counts = summary.counts
    order = ("pass", "fail", "warn", "error", "skip", "waived")
    lines = [f"verdict: {summary.verdict} — " + ", ".join(f"{counts.get(k)} {k}" for k in order)]
    lines += coverage_lines(summary)
    if paths:
        lines += [f"results: {outputs.results}", f"junit:   {outputs.junit}"]
    for verdict in ("warn", "waived"):
        ids = [c.id for c in outputs.cases if c.verdict == verdict]
        if ids:
            more = f" (+{len(ids) - 8} more)" if len(ids) > 8 else ""
            lines.append(f"{verdict}: {', '.join(ids[:8])}{more}")
    lines += waiver_lines(outputs.cases, unused_waivers)
    if outputs.report_note:
        lines.append(f"report:  {outputs.report_note}")
    elif paths and outputs.html is not None:
        lines.append(f"report:  {outputs.html}")
    return lines


def waiver_lines(cases: Iterable[CaseRecord], unused: Iterable[str]) -> list[str]:
    """The waivers that need their owner: expired (the case fails because of it), stale
    (the case passes now), unused (it matches no case)."""
    import msgspec  # lazy: see from_pytest

    from ._waivers import waiver_notes

    recorded = (
        (c.id, msgspec.structs.asdict(c.waiver) if c.waiver is not None else None) for c in cases
    )
    return [f"waiver:  {note.line()}" for note in waiver_notes(recorded, unused)]


def coverage_lines(summary: Summary) -> list[str]:
    """What the verdict covers, in a few lines: selected of the catalog, skipped by
    severity and category, why the run stopped early, and the gaps."""
    cov = summary.coverage
    if cov is None:
        return []
    lines = [
        f"coverage: {cov.ran} ran, {cov.skipped} skipped, {cov.not_run} not run "
        f"of {cov.selected} selected ({cov.catalog} in the catalog of this profile)"
    ]
    if cov.skipped:
        severity = ", ".join(f"{n} {s}" for s, n in cov.skipped_by_severity.items() if n)
        category = ", ".join(f"{c} {n}" for c, n in cov.skipped_by_category.items())
        lines.append(f"skipped: {severity} (by category: {category})")
    if cov.stopped:
        lines.append(f"INCOMPLETE: {cov.stopped}; the verdicts above prove nothing about the rest")
    lines += [f"gap:     {gap}" for gap in cov.gaps]
    return lines


def _warm_kernel(config: pytest.Config) -> None:
    """Start the report kernel now, on a background thread, so that the render after the
    cases does not wait for it: once per run, in the process that renders (not an xdist
    worker), unless the run renders no report."""
    if (
        _KERNEL in config.stash
        or config.getoption(OPT_NO_RENDER)
        or getattr(config, "workerinput", None) is not None
    ):
        return
    # lazy: the report stack is an optional extra, loaded only by a rendering run
    from .report.render import WarmKernel

    config.stash[_KERNEL] = WarmKernel().start()


def _take_kernel(config: pytest.Config) -> Any:
    kernel = config.stash.get(_KERNEL, None)
    if kernel is not None:
        del config.stash[_KERNEL]
    return kernel


def pytest_sessionstart(session: pytest.Session) -> None:
    """``conformance run`` (it hands us a RunReport) starts the report kernel at once."""
    if _cli_report(session.config) is not None:
        _warm_kernel(session.config)


def _run(config: pytest.Config) -> ConformanceRun:
    run = config.stash.get(_RUN, None)
    if run is None:
        run = ConformanceRun.from_pytest(config)
        config.stash[_RUN] = run
    return run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_case" not in metafunc.fixturenames:
        return
    workers = _worker_count(metafunc.config)
    params = [
        pytest.param(
            case,
            id=case.id,
            marks=[getattr(pytest.mark, case.category), getattr(pytest.mark, case.level.value)]
            # --dist loadgroup: worker k runs every workers-th case, as one whole group
            + ([pytest.mark.xdist_group(f"conformance-{i % workers}")] if workers else []),
        )
        for i, case in enumerate(_run(metafunc.config).selected())
    ]
    metafunc.parametrize("conformance_case", params)


def _worker_count(config: pytest.Config) -> int:
    """The number of xdist workers when this process is one of them, else 0."""
    workerinput = getattr(config, "workerinput", None)
    return int(workerinput.get("workercount", 0)) if workerinput else 0


@pytest.hookimpl(trylast=True)  # after xdist's own hook, which may have grouped them
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Refuse a selection that matched nothing (exit 2, one line) before anything runs;
    an xdist worker under ``--dist loadgroup`` names each case's group in its nodeid."""
    run = config.stash.get(_RUN, None)
    if run is not None:
        run.refuse_empty_selection()
    if getattr(config.option, "loadgroup", False) and _worker_count(config):
        _name_groups(items)


def _group_suffix(nodeid: str) -> str:
    """The ``@<group>`` that ``--dist loadgroup`` appends to a nodeid (after its
    parameters, as xdist reads it), or ``""``."""
    tail = nodeid.rpartition("]")[2]
    return tail[tail.rfind("@") :] if "@" in tail else ""


def _name_groups(items: list[pytest.Item]) -> None:
    """Append ``@<group>`` to the nodeid of each case with an ``xdist_group`` mark: the
    controller deals whole groups by that suffix, and a worker's scheduler reads its share
    from it (``_schedule``). pytest-xdist 3.8 appends it by writing ``Node._nodeid``, which
    pytest 9.2 no longer reads (its nodeid is a structured ``Node._id``; pytest-xdist issue
    1386): without this the groups were lost without a word and each worker ran its cases
    one at a time, the waits no longer overlapped. Where xdist did append it, nothing
    changes; where neither attribute exists, the cases still run, one per item."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        mark = item.get_closest_marker("xdist_group")
        if callspec is None or "conformance_case" not in callspec.params or mark is None:
            continue
        if _group_suffix(item.nodeid):
            continue  # xdist did it
        grouped = f"{item.nodeid}@{mark.args[0]}"
        # private attributes of pytest's, which differ between its versions: set by name
        structured = getattr(item, "_id", None)
        if structured is not None and hasattr(structured, "parse"):  # pytest >= 9.2
            setattr(item, "_id", type(structured).parse(grouped))  # noqa: B010
        elif hasattr(item, "_nodeid"):  # pytest < 9.2
            setattr(item, "_nodeid", grouped)  # noqa: B010


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record which cases pytest will run (its -k/-m/--deselect applied): what a complete
    run gives a verdict to."""
    run = session.config.stash.get(_RUN, None)
    if run is None:
        return
    chosen: list[str] = []
    collected: list[tuple[str, Case]] = []
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("conformance_case") if callspec is not None else None
        case_id = getattr(case, "id", None)  # an empty parameter set holds NOTSET
        if isinstance(case_id, str):
            chosen.append(case_id)
            collected.append((item.nodeid, case))  # type: ignore[arg-type]  # a Case: it has an id
    run.log.selected = chosen
    run.collected = collected
    if collected:
        _warm_kernel(session.config)
    run.worker = _worker_count(session.config) > 0


@pytest.fixture(scope="session")
def conformance_run(request: pytest.FixtureRequest) -> Iterator[ConformanceRun]:
    """The run: starts the target (embedded emulator by default) once per process."""
    run = _run(request.config)
    run.start()
    yield run
    run.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A case's failure is its one-screen message, not a traceback through our engine:
    the report is made here, so pytest never formats (and parses the source of) a
    traceback while the scheduler's threads run cases (see ``_ast_lock``)."""
    if call.when != "call" or call.excinfo is None:
        return None
    from ._exceptions import CaseFailure, TargetMisbehaved  # lazy: see from_pytest

    if not isinstance(call.excinfo.value, CaseFailure | TargetMisbehaved):
        return None
    from ._redact import scrub  # lazy: see from_pytest

    sections = [
        (f"Captured {when} {key}", content)
        for when, key, content in getattr(item, "_report_sections", ())
    ]
    return pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        scrub(str(call.excinfo.value), limit=8100),
        "call",
        sections,
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After each case: stop the session when the target is unavailable (the circuit
    breaker of the transport tripped) or the run's deadline passed."""
    result = yield
    run = item.config.stash.get(_RUN, None)
    if run is not None and run.runtime is not None:
        why = run.halt()
        if why is not None:
            item.session.shouldstop = why
    return result


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: xdist may not be installed
def pytest_configure_node(node: Any) -> None:
    """xdist controller: share the run's clock and pace (one rate limit) with a worker."""
    from . import _xdist_share  # lazy: see from_pytest

    _xdist_share.share_with(node)


@pytest.hookimpl(tryfirst=True)  # before the terminal reporter's (see _quiet_abort)
def pytest_unconfigure(config: pytest.Config) -> None:
    from . import _xdist_share  # lazy: see from_pytest

    _quiet_abort(config)
    _xdist_share.cleanup(config)
    kernel = _take_kernel(config)  # a run that rendered nothing leaves no kernel behind
    if kernel is not None:
        kernel.close()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: xdist may not be installed
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect a worker's log."""
    run = _run(node.config)
    payload = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if payload:
        run.log.merge(payload)
    if error is not None:
        name = getattr(getattr(node, "gateway", None), "id", "a worker")
        run.log.stopped.append(f"xdist worker {name} crashed ({str(error)[:120]})")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = session.config.stash.get(_RUN, None)
    if run is None:
        return
    run.stop()  # idempotent: the fixture may not have been torn down on an abort
    why = _stopped_early(session, exitstatus)
    # a halt of ours (breaker, deadline) is why pytest (or xdist) was interrupted
    ours = any(w.startswith((UNAVAILABLE, DEADLINE)) for w in run.log.stopped)
    if ours:  # the interrupts it sent the other xdist workers are not news
        run.log.stopped[:] = [w for w in run.log.stopped if not _interrupted_by_us(w)]
    elif why and why not in run.log.stopped:
        run.log.stopped.append(why)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller writes the outputs
        if run.log.records or run.log.stopped:
            workeroutput[_WORKER_KEY] = run.log.payload()
        return
    aborted = next((w for w in run.log.stopped if w.startswith(ABORTED)), None)
    if aborted is not None and run.report is not None and run.report.error is None:
        run.report.error = aborted  # a worker could not start: `conformance run` says why
    if not run.log.records:
        return
    outputs = run.finish(kernel=_take_kernel(session.config))
    unavailable = next((w for w in run.log.stopped if w.startswith(UNAVAILABLE)), None)
    if unavailable is not None:
        # like an unreachable target: exit 2 with one line, the outputs still written
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        if run.report is not None:
            run.report.error = f"conformance: error: {unavailable}"
    if outputs.summary.verdict == "incomplete" and session.exitstatus == pytest.ExitCode.OK:
        # an incomplete run is never a green one, whatever pytest counted
        session.exitstatus = pytest.ExitCode.INTERRUPTED


def _quiet_abort(config: pytest.Config) -> None:
    """Under ``conformance run``, a run that could not start is said once, by the CLI:
    drop the copy pytest's terminal reporter keeps to print at exit (a private attribute,
    so only when it is there; tests/test_user_errors.py notices if pytest renames it)."""
    run = config.stash.get(_RUN, None)
    if run is None or run.report is None or run.report.error is None:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and getattr(reporter, "_keyboardinterrupt_memo", None) is not None:
        reporter._keyboardinterrupt_memo = None


def _interrupted_by_us(why: str) -> bool:
    return "KeyboardInterrupt" in why or "keyboard-interrupt" in why


def _stopped_early(session: pytest.Session, exitstatus: int) -> str:
    """Why pytest stopped before every collected item ran; ``""`` when it did not."""
    if session.shouldfail:
        return f"pytest stopped early ({session.shouldfail}: -x or --maxfail)"
    if session.shouldstop:
        return f"pytest stopped early ({session.shouldstop})"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted (KeyboardInterrupt): the run was stopped before every case ran"
    return ""


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(_RUN, None)
    if run is None or run.summary_lines is None:
        return
    from ._redact import one_line, scrub  # lazy: see from_pytest

    terminalreporter.section("exchange-conformance")
    for line in run.summary_lines:
        # a reason for stopping or a gap may quote the target: one inert line each
        terminalreporter.write_line(one_line(scrub(line, limit=2000)))
