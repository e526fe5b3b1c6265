"""Exceptions raised by exchange-conformance.

    ConformanceError
    ├── ConfigError          a wrong option, config key, key file or secret reference (exit 2)
    │   └── MissingExtra     an optional extra (the report stack, pytest-xdist) is not installed
    ├── TargetUnreachable    the target could not be reached at all (exit 2)
    └── BaselineRefused      the target refused a valid assertion: nothing can be judged (exit 2)
    CaseFailure              (an AssertionError) a case's verdict is "fail"
    TargetMisbehaved         a case's verdict is "error" (5xx, timeout, unparsable answer)

Every ``ConformanceError`` carries a one-line message that says what is wrong and how to
fix it; the CLI prints that line alone and exits with ``exit_code``.
"""

from __future__ import annotations

import sys
from pathlib import Path


class ConformanceError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 2


class ConfigError(ConformanceError):
    """The user's configuration, options, keys or secret references are wrong."""


class MissingExtra(ConfigError):
    """A command needs a package of an optional extra that is not installed; the message
    says which command installs it (into the environment this Python runs in)."""

    def __init__(self, module: str, *, extra: str = "report", needed_by: str = "the report"):
        self.module = module
        root = Path(__file__).resolve().parents[1]
        source = f"{root}[{extra}]" if (root / "pyproject.toml").is_file() else f".[{extra}]"
        super().__init__(
            f"{needed_by} needs {module} (the [{extra}] extra), which is not installed; "
            f"install it with: {sys.executable} -m pip install -e '{source}'"
        )


class TargetUnreachable(ConformanceError):
    """The exchange endpoint (or a service it needs) does not answer."""


class BaselineRefused(ConformanceError):
    """A valid assertion was not accepted before any case: every negative would pass for
    the wrong reason, so the run stops."""


class CaseFailure(AssertionError):
    """A catalogued case failed: the target did not do what a correct endpoint does.

    ``str()`` is the one-screen failure message (case, expectation, observation,
    rationale, reproduction).
    """

    def __init__(self, message: str, *, case_id: str, severity: str, level: str) -> None:
        super().__init__(message)
        self.case_id = case_id
        self.severity = severity
        self.level = level


class TargetMisbehaved(Exception):
    """A case's verdict is ``error``: the target erred (5xx, timeout, unparsable answer)."""
