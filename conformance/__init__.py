"""exchange-conformance: a conformance suite for assertion-JWT token exchange endpoints.

The public API is re-exported here lazily (PEP 562), so that importing the package — as
the pytest plugin does in every pytest run — costs nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import CATALOG_VERSION, __version__

if TYPE_CHECKING:
    from ._assertion import OMIT, Assertion
    from ._engine import CaseResult, Runtime, run_case
    from ._exceptions import CaseFailure, ConfigError, ConformanceError, TargetUnreachable
    from ._jose import SigningKey
    from ._jwks_host import JwksHost
    from ._keyring import Keyring, load_signing_key
    from ._redact import scrub
    from ._runtime import open_runtime
    from ._settings import TargetSettings
    from .catalog import BY_ID, CASES, Case, Expect, Level, Severity
    from .targets.base import Exchange, ExchangeRequest, Session, Target

_LAZY = {
    "Assertion": "._assertion",
    "OMIT": "._assertion",
    "CaseResult": "._engine",
    "Runtime": "._engine",
    "run_case": "._engine",
    "CaseFailure": "._exceptions",
    "ConfigError": "._exceptions",
    "ConformanceError": "._exceptions",
    "TargetUnreachable": "._exceptions",
    "JwksHost": "._jwks_host",
    "Keyring": "._keyring",
    "SigningKey": "._jose",
    "load_signing_key": "._keyring",
    "scrub": "._redact",
    "TargetSettings": "._settings",
    "open_runtime": "._runtime",
    "BY_ID": ".catalog",
    "CASES": ".catalog",
    "Case": ".catalog",
    "Expect": ".catalog",
    "Level": ".catalog",
    "Severity": ".catalog",
    "Exchange": ".targets.base",
    "ExchangeRequest": ".targets.base",
    "Session": ".targets.base",
    "Target": ".targets.base",
}

__all__ = [
    "BY_ID",
    "CASES",
    "CATALOG_VERSION",
    "OMIT",
    "Assertion",
    "Case",
    "CaseFailure",
    "CaseResult",
    "ConfigError",
    "ConformanceError",
    "Exchange",
    "ExchangeRequest",
    "Expect",
    "JwksHost",
    "Keyring",
    "Level",
    "Runtime",
    "Session",
    "Severity",
    "SigningKey",
    "Target",
    "TargetSettings",
    "TargetUnreachable",
    "__version__",
    "load_signing_key",
    "open_runtime",
    "run_case",
    "scrub",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
