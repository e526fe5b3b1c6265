"""Reading results.json (and a baseline) for the report and the diff.

The file is validated by the models of :mod:`conformance._schema` (the writer's own);
the report then works on the validated document as JSON builtins (dicts and lists, every
field present: defaults filled in for older files).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from .._exceptions import ConfigError
from .._schema import SCHEMA, SUPPORTED_SCHEMA_VERSIONS, Results

__all__ = ["SCHEMA", "SUPPORTED_SCHEMA_VERSIONS", "load_results"]

# msgspec says "... - at `$.cases[3].verdict`"; we say "cases[3].verdict: ...".
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _decode(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        # msgspec refuses what Python's decoder takes (a lone surrogate escape, invalid
        # UTF-8 replaced): a damaged file is still reported on precisely, never crashes.
        return json.loads(raw.decode("utf-8", errors="replace"))


def _where(error: msgspec.ValidationError) -> str:
    match = _AT.match(str(error).splitlines()[0] if str(error) else "")
    if match is None or not match["path"]:
        return str(error)
    what = match["what"]
    return f"{match['path'].lstrip('.')}: {what[:1].lower()}{what[1:]}"


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results file; the document as JSON builtins.

    Raises :class:`~conformance.ConfigError` (one line: which file, what is wrong, and the
    path of the bad field) when the file is missing, is not JSON, is not an
    exchange-conformance results file, has a schema version this reader does not know, or
    does not match the schema (``cases[3].verdict: expected one of …``).
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
        data = _decode(raw)
    except (ValueError, RecursionError) as exc:
        what = str(exc).splitlines()[0][:200]
        raise ConfigError(f"{path}: not valid JSON ({what}); is it a results.json?") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ConfigError(
            f"{path}: not an exchange-conformance results file (no schema {SCHEMA!r})"
        )
    version = data.get("schema_version")
    if type(version) is not int or version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ConfigError(
            f"{path}: results schema_version {version!r} is not supported by this version "
            f"(supported: {sorted(SUPPORTED_SCHEMA_VERSIONS)}); upgrade exchange-conformance"
        )
    try:
        results = msgspec.convert(data, Results)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: not a valid results file: {_where(exc)}") from None
    document: dict[str, Any] = msgspec.to_builtins(results)
    return document
