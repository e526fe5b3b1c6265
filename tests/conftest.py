"""Shared set-up for the project's own tests.

pytester's in-process runs restore ``sys.modules`` afterwards, so a module first imported
inside an inner run is imported again by the next one; cryptography's Rust bindings do
not survive that ("curve must be an EllipticCurve instance"). Importing them here keeps
them in the snapshot.
"""

from __future__ import annotations

import os
from typing import Any

import cryptography.hazmat.primitives.asymmetric.ec
import cryptography.hazmat.primitives.asymmetric.ed25519
import cryptography.hazmat.primitives.asymmetric.padding
import cryptography.hazmat.primitives.asymmetric.rsa
import cryptography.hazmat.primitives.serialization
import cryptography.x509  # noqa: F401
import jwt
import jwt.algorithms  # noqa: F401
import plan_runs
import pytest
from hypothesis import settings

from conformance.strategies import CI_PROFILE, register_profiles

# Our CI profile (derandomised, no deadline, no database, the reproduction blob printed)
# whenever CI is set, as Hypothesis' own pytest plugin would do with its built-in one.
register_profiles()
if os.environ.get("CI"):
    settings.load_profile(CI_PROFILE)


@pytest.fixture(scope="session")
def clean_cli_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default plan through ``conformance run`` against the clean embedded emulator,
    once per session (``tests/plan_runs.py``): its results.json and ``exit_code``."""
    return plan_runs.clean_cli_run(tmp_path_factory.mktemp("clean-cli-run"))


@pytest.fixture(scope="session")
def anchored_runs() -> plan_runs.AnchoredRuns:
    """Each flaw's anchored cases, run once per seed in the session (``plan_runs``)."""
    return plan_runs.AnchoredRuns()


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``pytest -n`` this process is an xdist worker and its environment says so
    (``PYTEST_XDIST_*``); a pytest session a test starts (pytester, in this process or as
    a child) is not one, and with them its terminal output is not pytest's usual one.
    A test that wants the variables sets them itself."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
