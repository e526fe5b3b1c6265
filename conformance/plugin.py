"""pytest plugin (``pytest11`` entry point ``conformance``).

Cheap and inert until asked for: importing it imports nothing heavy, and it only starts
servers when a test uses the ``conformance_run`` fixture (the packaged suite,
``pytest --pyargs conformance.suite``). Options live in one group with one prefix; state
lives in ``config.stash``; under pytest-xdist each worker runs its own embedded target
and sends its case records to the controller through ``workeroutput``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._run import RunState

OPT_CONFIG = "--conformance-config"
OPT_CATEGORY = "--conformance-category"
OPT_ID = "--conformance-id"
OPT_LEVEL = "--conformance-level"
OPT_STRICT = "--conformance-strict"
OPT_REPORT_DIR = "--conformance-report-dir"
OPT_NO_RENDER = "--conformance-no-render"
OPT_FLAW = "--conformance-flaw"
OPT_EXAMPLES = "--conformance-examples"
OPT_WAIVERS = "--conformance-waivers"

_STATE = pytest.StashKey["RunState"]()
_WORKER_KEY = "conformance_records"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "exchange-conformance suite")
    group.addoption(
        OPT_CONFIG,
        metavar="FILE",
        help="target configuration (TOML); default: the embedded emulator",
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
        OPT_EXAMPLES,
        type=int,
        default=40,
        metavar="N",
        help="Hypothesis examples per property test (default 40)",
    )
    group.addoption(
        OPT_WAIVERS,
        metavar="FILE",
        help="a TOML file of accepted risks (case id, reason, owner, expires)",
    )


def pytest_configure(config: pytest.Config) -> None:
    from .catalog._model import CATEGORIES  # data only: cheap

    for category in CATEGORIES:
        config.addinivalue_line("markers", f"{category}: conformance cases of category {category}")
    config.addinivalue_line("markers", "must: conformance cases of level must (contract, RFC MUST)")
    config.addinivalue_line("markers", "should: conformance cases of level should (hardening)")
    unknown = [c for c in config.getoption(OPT_CATEGORY) or () if c not in CATEGORIES]
    if unknown:
        raise pytest.UsageError(
            f"unknown category {unknown[0]!r} for {OPT_CATEGORY}; "
            f"choose from {', '.join(CATEGORIES)}"
        )


def _state(config: pytest.Config) -> RunState:
    state = config.stash.get(_STATE, None)
    if state is None:
        from ._run import RunState

        state = RunState.from_config(config)
        config.stash[_STATE] = state
    return state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_case" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    params = [
        pytest.param(
            case,
            id=case.id,
            marks=[getattr(pytest.mark, case.category), getattr(pytest.mark, case.level.value)],
        )
        for case in state.selected_cases()
    ]
    metafunc.parametrize("conformance_case", params)


@pytest.fixture(scope="session")
def conformance_run(request: pytest.FixtureRequest) -> Iterator[RunState]:
    """The run: starts the target (embedded emulator by default) once per process."""
    state = _state(request.config)
    state.start()
    yield state
    state.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A case's failure is its one-screen message, not a traceback through our engine."""
    report = yield
    if call.when == "call" and call.excinfo is not None:
        from ._exceptions import CaseFailure, TargetMisbehaved

        if isinstance(call.excinfo.value, CaseFailure | TargetMisbehaved):
            report.longrepr = str(call.excinfo.value)
    return report


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: xdist may not be installed
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect a worker's case records."""
    records = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if records:
        payload = json.loads(records)
        _state(node.config).merge_worker(payload)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or not state.has_records():
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller writes the outputs
        workeroutput[_WORKER_KEY] = json.dumps(state.worker_payload())
        return
    state.write_outputs()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or state.summary_lines is None:
        return
    terminalreporter.section("exchange-conformance")
    for line in state.summary_lines:
        terminalreporter.write_line(line)
