from __future__ import annotations

__version__ = "0.1.0"
#: Bumped whenever a case is added, removed or its expectation changes.
CATALOG_VERSION = "2026.11.1"
#: Version of the results.json schema (see README, "results.json").
RESULTS_SCHEMA_VERSION = 2
