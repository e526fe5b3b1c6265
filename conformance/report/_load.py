"""Reading results.json (and a baseline) for the report and the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError

SCHEMA = "exchange-conformance/results"
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a results file.

    Raises :class:`~conformance.ConfigError` (one line: which file, what is wrong) when the
    file is missing, is not JSON, is not an exchange-conformance results file, has a schema
    version this renderer does not know, or lacks ``run``/``summary``/``cases``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such results file; pass the path of a results.json written by a run"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; pass the results.json inside it") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        # 'replace' because a results file is ours, but a damaged one must still be reported
        # on (as a clear error), never crash the decoder.
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); is it a results.json?") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(
            f"{path}: not an exchange-conformance results file (no schema {SCHEMA!r})"
        )
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ConfigError(
            f"{path}: results schema_version {version!r} is not supported by this version "
            f"(supported: {sorted(SUPPORTED_SCHEMA_VERSIONS)}); upgrade exchange-conformance"
        )
    for key, kind in (("run", dict), ("summary", dict), ("cases", list)):
        if not isinstance(data.get(key), kind):
            raise ConfigError(f"{path}: results file has no valid {key!r} ({kind.__name__})")
    for index, case in enumerate(data["cases"]):
        if not isinstance(case, dict) or not isinstance(case.get("id"), str):
            raise ConfigError(f"{path}: cases[{index}] has no string 'id'")
    return data
