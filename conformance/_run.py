"""The state of one conformance run inside pytest: selection, target, records, outputs."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fnmatch
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._exceptions import CaseFailure, ConformanceError, TargetMisbehaved
from .catalog._model import Case, Level

#: The outputs of the last run in this process (``conformance run`` prints them last).
LAST_OUTPUTS: dict[str, str] = {}
#: Set by ``conformance run``, which prints the output paths itself, last.
CLI: dict[str, bool] = {"prints_outputs": False}


def _abort(message: str, *, returncode: int) -> None:
    """Stop the run before any case (exit 2); ``conformance run`` prints ``message`` last."""
    LAST_OUTPUTS["error"] = message
    pytest.exit(message, returncode=returncode)


def _seed(config: pytest.Config) -> int:
    """The seed of the property cases: ``--hypothesis-seed`` when given, else a fresh one
    (recorded in the results, so that any run can be reproduced)."""
    given = (
        config.getoption("hypothesis_seed", None)
        if config.pluginmanager.hasplugin("hypothesispytest")
        else None
    )
    return int(given) if given is not None else secrets.randbits(32)


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class RunState:
    options: Mapping[str, Any]
    run_id: str = field(default_factory=new_run_id)
    records: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    summary_lines: list[str] | None = None
    runtime: Any = None
    config: Any = None  # conformance._config.RunConfig, or None for the embedded target
    waivers: Any = None  # conformance._waivers.Waivers
    target_info: dict[str, Any] = field(default_factory=dict)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _started_wall: float = field(default_factory=time.time)
    _started_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunState:
        from . import plugin as p

        options = {
            "config": config.getoption(p.OPT_CONFIG),
            "categories": tuple(config.getoption(p.OPT_CATEGORY) or ()),
            "ids": tuple(config.getoption(p.OPT_ID) or ()),
            "level": config.getoption(p.OPT_LEVEL),
            "strict": bool(config.getoption(p.OPT_STRICT)),
            "report_dir": config.getoption(p.OPT_REPORT_DIR),
            "no_render": bool(config.getoption(p.OPT_NO_RENDER)),
            "flaws": tuple(config.getoption(p.OPT_FLAW) or ()),
            "examples": int(config.getoption(p.OPT_EXAMPLES)),
            "waivers": config.getoption(p.OPT_WAIVERS),
            "seed": _seed(config),
        }
        state = cls(options=options)
        state.load_config()
        return state

    def load_config(self) -> None:
        """Read the target configuration (``--conformance-config`` or ``[tool.conformance]``
        in ``pyproject.toml``); a wrong one is a usage error with one precise line."""
        from ._config import load_run_config
        from ._waivers import load_waivers

        path = self.options["config"]
        try:
            self.config = load_run_config(Path(path) if path else None, cwd=Path.cwd())
            waivers = self.options["waivers"] or (self.config.waivers if self.config else None)
            self.waivers = load_waivers(Path(waivers) if waivers else None)
        except ConformanceError as exc:
            raise pytest.UsageError(str(exc)) from None
        if self.config is not None and self.options["flaws"]:
            raise pytest.UsageError(
                "--conformance-flaw applies to the embedded emulator only; drop it or the config"
            )

    # -- selection ---------------------------------------------------------------------
    def profile(self) -> str:
        return str(self.config.profile) if self.config is not None else "dynamic"

    def selected_cases(self) -> list[Case]:
        from .catalog import CASES

        chosen = []
        for case in CASES:
            if self.profile() not in case.profiles:
                continue
            if self.options["categories"] and case.category not in self.options["categories"]:
                continue
            if self.options["level"] and case.level.value != self.options["level"]:
                continue
            if self.options["ids"] and not any(
                fnmatch.fnmatchcase(case.id, g) for g in self.options["ids"]
            ):
                continue
            chosen.append(case)
        return chosen

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        from .catalog import properties

        properties.EXAMPLES["value"] = self.options["examples"]
        properties.EXAMPLES["seed"] = self.options["seed"]
        try:
            self.runtime = self._stack.enter_context(_open_runtime(self.options, self.config))
        except ConformanceError as exc:
            self._stack.close()
            _abort(f"conformance: error: {exc}", returncode=2)
        self.target_info = dict(self.runtime.target.description)
        self.target_info["flaws"] = list(self.options["flaws"])
        self.target_info["embedded"] = self.config is None
        self._baseline()

    def _baseline(self) -> None:
        """A valid assertion must be accepted before any negative can mean anything."""
        from ._engine import Context, Skip, describe
        from .catalog._model import Expect, case

        probe = case(
            "baseline",
            "baseline",
            category="envelope",
            run=lambda c: None,
            rationale="",
            expect=Expect.ACCEPT,
        )
        ctx = Context(self.runtime, probe)
        try:
            exchange = ctx.valid(label="baseline")
        except Skip as exc:
            self.stop()
            _abort(f"conformance: error: cannot run the baseline: {exc}", returncode=2)
        if exchange.error is not None:
            self.stop()
            _abort(
                f"conformance: error: the target is unreachable ({exchange.error}); "
                "check base_url/token_url and the network",
                returncode=2,
            )
        if not exchange.accepted:
            self.stop()
            _abort(
                "conformance: error: the target refused a valid assertion "
                f"({describe(exchange)}); check the issuer, keys, subjects and session settings",
                returncode=2,
            )

    def stop(self) -> None:
        self._stack.close()

    # -- cases -------------------------------------------------------------------------
    def run(self, case: Case, nodeid: str) -> None:
        """Run one case, record it, and turn its verdict into a pytest outcome."""
        from ._engine import failure_message, run_case
        from ._results import case_record

        result = run_case(self.runtime, case)
        verdict = result.verdict
        if verdict == "fail" and case.level is Level.SHOULD and not self.options["strict"]:
            verdict = "warn"
        waiver = None
        if self.waivers is not None:
            verdict, waiver = self.waivers.apply(case.id, verdict, today=dt.date.today())
        result = dataclasses.replace(result, verdict=verdict, judged=result.verdict, waiver=waiver)
        message = (
            failure_message(result, rerun=self.rerun_line(case.id))
            if result.judged in {"fail", "error"}
            else ""
        )
        self.records.append(
            case_record(result, nodeid=nodeid, failure=message, rerun=self.rerun_line(case.id))
        )
        if verdict == "skip":
            pytest.skip(result.message)
        if verdict == "fail":
            raise CaseFailure(
                message, case_id=case.id, severity=case.severity.value, level=case.level.value
            )
        if verdict == "error":
            raise TargetMisbehaved(message)

    def rerun_line(self, case_id: str) -> str:
        """The command that runs this one case again against the same target."""
        parts = ["pytest --pyargs conformance.suite", f"--conformance-id '{case_id}'"]
        if self.options["config"]:
            parts.append(f"--conformance-config '{self.options['config']}'")
        parts += [f"--conformance-flaw {flaw}" for flaw in self.options["flaws"]]
        if self.options["strict"]:
            parts.append("--conformance-strict")
        if case_id.split(".")[1:2] == ["property"] and self.options["seed"] is not None:
            parts.append(f"--hypothesis-seed={self.options['seed']}")
        return " ".join(parts)

    def has_records(self) -> bool:
        return bool(self.records)

    # -- xdist -------------------------------------------------------------------------
    def worker_payload(self) -> dict[str, Any]:
        facts = self.runtime.facts if self.runtime is not None else {}
        target = self.target_info
        return {
            "records": self.records,
            "facts": facts,
            "retries": self._retries(),
            "target": target,
        }

    def merge_worker(self, payload: Mapping[str, Any]) -> None:
        self.records.extend(payload.get("records", ()))
        self.facts.update(payload.get("facts", {}))
        self.retries += int(payload.get("retries", 0))
        if payload.get("target"):
            self.target_info = dict(payload["target"])

    def _retries(self) -> int:
        transport = getattr(getattr(self.runtime, "target", None), "transport", None)
        return int(getattr(transport, "retry_count", 0))

    # -- outputs -----------------------------------------------------------------------
    def report_dir(self) -> Path:
        base = self.options["report_dir"]
        if base:
            return Path(base)
        root = (
            self.config.report_dir if self.config is not None and self.config.report_dir else None
        )
        return Path(root or "reports") / self.run_id

    def write_outputs(self) -> None:
        from ._junit import write_junit
        from ._results import build_results, write_json

        if self.runtime is not None:
            self.facts.update(self.runtime.facts)
            self.retries += self._retries()
        out = self.report_dir()
        finished = time.time()
        run = {
            "id": self.run_id,
            "started_at": self._started_at,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "duration_s": round(finished - self._started_wall, 3),
            "seed": self.options["seed"],
            "strict": self.options["strict"],
            "target": self.target_info,
        }
        if self.waivers is not None:
            run["unused_waivers"] = [w.id for w in self.waivers.unused()]
        results = build_results(self.records, run=run, facts=self.facts, retries=self.retries)
        results_path = write_json(out / "results.json", results)
        write_junit(out / "junit.xml", results)
        summary = results.summary
        lines = [
            f"verdict: {summary.verdict} — "
            + ", ".join(
                f"{summary.counts.get(k)} {k}"
                for k in ("pass", "fail", "warn", "error", "skip", "waived")
            ),
        ]
        if not CLI["prints_outputs"]:
            lines += [f"results: {results_path}", f"junit:   {out / 'junit.xml'}"]
        for verdict in ("warn", "waived"):
            ids = [c.id for c in results.cases if c.verdict == verdict]
            if ids:
                more = f" (+{len(ids) - 8} more)" if len(ids) > 8 else ""
                lines.append(f"{verdict}: {', '.join(ids[:8])}{more}")
        LAST_OUTPUTS.clear()
        LAST_OUTPUTS.update(results=str(results_path), junit=str(out / "junit.xml"))
        if not self.options["no_render"]:
            rendered = self._render(results_path)
            if not CLI["prints_outputs"] or "html" not in LAST_OUTPUTS:
                lines.append(rendered)
        self.summary_lines = lines

    def _render(self, results_path: Path) -> str:
        try:
            from .report import render_report
        except ImportError as exc:
            hint = "pip install 'exchange-conformance[report]'"
            return f"report:  not rendered ({exc.name} missing: {hint})"
        try:
            paths = render_report(results_path)
        except Exception as exc:  # the results are written; a render failure must not hide them
            return f"report:  rendering failed: {type(exc).__name__}: {exc}"
        LAST_OUTPUTS["html"] = str(paths.html)
        return f"report:  {paths.html}"


@contextlib.contextmanager
def _open_runtime(options: Mapping[str, Any], config: Any = None) -> Any:
    """The runtime for the configured target (the embedded emulator by default)."""
    if config is not None:
        from ._configured import open_configured

        with open_configured(config) as runtime:
            yield runtime
        return
    with open_embedded(flaws=options.get("flaws", ())) as runtime:
        yield runtime


@contextlib.contextmanager
def open_runtime(config: str | Path | None = None, *, flaws: Any = ()) -> Iterator[Any]:
    """A :class:`~conformance._engine.Runtime` for notebooks and scripts: the target of
    ``config`` (a TOML file), or the embedded emulator (with ``flaws``) when it is None.

    Raises :class:`~conformance.ConfigError` for a wrong configuration and
    :class:`~conformance.TargetUnreachable` when the target does not answer.
    """
    from ._config import load_run_config

    loaded = load_run_config(Path(config), cwd=Path.cwd()) if config is not None else None
    with _open_runtime({"flaws": tuple(flaws)}, loaded) as runtime:
        yield runtime


@contextlib.contextmanager
def open_embedded(*, flaws: Any = ()) -> Any:
    """A runtime against the embedded emulator (our JWKS host + the emulator, loopback)."""
    from . import _http
    from ._embedded import OPERATION_PATH, start_embedded
    from ._engine import Runtime
    from ._keyring import ALGS, Keyring
    from ._transport import Transport, TransportPolicy
    from .targets.dynamic import DynamicTarget, key_signer

    keyring = Keyring()
    # Make every key the plan will use now, once, rather than inside the first case
    # that needs it (RSA generation is ~30 ms a key and would land on a case's latency).
    for alg in ALGS:
        keyring.trusted(alg)
        keyring.other_environment(alg)
        keyring.attacker(alg)
    with start_embedded(keyring, flaws=tuple(flaws)) as embedded:
        transport = Transport(_http.client(timeout_s=10.0), TransportPolicy(retries=0))
        alg = embedded.settings.default_alg
        target = DynamicTarget(
            embedded.settings,
            transport,
            sign_in_signer=key_signer(keyring.trusted(alg)),
            operation_path=OPERATION_PATH,
        )
        other = DynamicTarget(
            embedded.other_settings,
            transport,
            sign_in_signer=key_signer(keyring.other_environment(alg)),
            operation_path=OPERATION_PATH,
        )
        runtime = Runtime(
            settings=embedded.settings,
            keyring=keyring,
            target=target,
            jwks_host=embedded.jwks_host,
            other_settings=embedded.other_settings,
            other_target=other,
        )
        try:
            yield runtime
        finally:
            transport.client.close()
