"""Typed reading of TOML tables: one-line errors that name ``<source>: <dotted key>``.

Shared by the run configuration (:mod:`conformance._config`) and the profile files
(:mod:`conformance._profile`); every mistake raises :class:`ConfigError` with what was
expected, never echoing a secret.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._exceptions import ConfigError


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """The TOML document at ``path``; ``what`` names it in errors ("profile file")."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path} ({exc.strerror})") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names a position, never the file's content.
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(
            f"{what} {path} nests arrays or inline tables too deeply to read"
        ) from None


class Reader:
    """Typed access to one table; every error names ``<source>: <dotted key>``."""

    def __init__(self, table: Mapping[str, Any], prefix: str, source: str) -> None:
        self.table = table
        self.prefix = prefix
        self.source = source

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.name(key)} {message}")

    def only(self, allowed: tuple[str, ...]) -> None:
        for key in self.table:
            if key not in allowed:
                raise ConfigError(
                    f"{self.source}: unknown key {self.name(key)} "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None, *, required: str = "") -> str | None:
        if key not in self.table:
            if required:
                raise ConfigError(f"{self.source}: missing {self.name(key)} ({required})")
            return default
        value = self.table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, not {kind(value)}")
        return value

    def need(self, key: str, what: str) -> str:
        """A required non-empty string; ``what`` says what belongs there."""
        value = self.string(key, required=what)
        assert value is not None  # string() raised otherwise
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.string(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0, maximum: int = 10**9) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {kind(value)}")
        if not minimum <= value <= maximum:
            raise self.error(key, f"must be between {minimum} and {maximum}, not {value}")
        return value

    def declared(self, key: str, *, minimum: int = 0, maximum: int = 10**9) -> int | None:
        """An optional integer: ``None`` when the key is absent (not declared)."""
        if key not in self.table:
            return None
        return self.integer(key, 0, minimum=minimum, maximum=maximum)

    def number(self, key: str, default: float | None, *, positive: bool = True) -> float | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, not {kind(value)}")
        if positive and not value > 0:
            raise self.error(key, f"must be greater than 0, not {value}")
        if not value >= 0:  # negative, or nan (TOML has it)
            raise self.error(key, f"must be 0 or more, not {value}")
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {kind(value)}")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.table:
            return default
        value = self.table[key]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.error(key, "must be a non-empty array of non-empty strings")
        return tuple(value)

    def url(self, key: str, default: str | None = None, *, required: str = "") -> str | None:
        value = self.string(key, default, required=required)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            # every report, HAR, SARIF and curl line shows the URL (never the value here)
            raise self.error(
                key,
                "must not carry credentials (user:password@): they would be written whole "
                "into every report; remove them from the URL",
            )
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            # the value is not repeated: a credential pasted in the wrong key would be shown
            what = f"its scheme is {parts.scheme[:20]!r}" if parts.scheme else "it has no scheme"
            if parts.scheme in {"https", "http"}:
                what = "it has no host"
            raise self.error(key, f"must be an http(s) URL like https://host/path ({what})")
        if parts.scheme == "http" and not loopback_host(parts.hostname):
            # Assertions and tokens would cross the network in clear text.
            raise self.error(key, "must use https (plain http only for a loopback host)")
        return value

    def table_at(self, key: str) -> Mapping[str, Any]:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, not {kind(value)}")
        return value

    def path(self, key: str, base: Path, *, must_exist: bool) -> Path | None:
        value = self.string(key)
        if value is None:
            return None
        path = (base / Path(value).expanduser()).resolve()
        if must_exist and not path.is_file():
            raise self.error(key, f"names {value}, which is not a readable file")
        return path


def kind(value: Any) -> str:
    if value == "":
        return "an empty string"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return names.get(type(value), type(value).__name__)


def loopback_host(host: str) -> bool:
    host = host.lower()
    return host in {"localhost", "::1"} or host.startswith("127.")
