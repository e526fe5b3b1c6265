"""The emulator's configuration: its environments and every number of the reference policy.

Defaults are those of ``docs/reference-policy.md``. A config is loadable from a TOML (or
JSON) file::

    leeway_s = 30
    flaws = ["exp_not_checked"]
    state = "/var/tmp/emulator"        # a directory: SQLite state shared by workers

    [[environments]]
    id = "0a1b2c3d-0000-4000-8000-000000000001"
    issuer = "https://issuer-a.example"
    jwks_url = "http://127.0.0.1:8001/jwks.json"
    audience = "https://app.example"   # optional
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError
from .._settings import ALLOWED_ALGS, KNOWN_SCOPES
from .flaws import check_flaws

#: The asymmetric algorithms a clean emulator accepts (exact case).
DEFAULT_ALGS: tuple[str, ...] = ALLOWED_ALGS

#: ``state`` value for a private in-memory store (one process, lost on exit).
MEMORY = ":memory:"


@dataclass(frozen=True, slots=True)
class Environment:
    """One Dynamic environment: what the customer configures in the dashboard."""

    id: str
    issuer: str
    jwks_url: str
    audience: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or "/" in self.id:
            raise ConfigError("environment id must be a non-empty string without '/'")
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ConfigError(f"environment {self.id!r}: issuer must be a non-empty string")
        if not isinstance(self.jwks_url, str) or not self.jwks_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"environment {self.id!r}: jwks_url must be an http(s) URL")
        if self.audience is not None and (not isinstance(self.audience, str) or not self.audience):
            raise ConfigError(f"environment {self.id!r}: audience must be a non-empty string")


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything the emulator needs. Misuse (bad values, unknown flaws) raises ConfigError.

    ``state`` is ``":memory:"`` (one process) or a directory that holds the SQLite store
    and the emulator's signing key, shared by several worker processes.
    ``demo_key`` is the path of a PEM private key whose public JWK the emulator itself
    publishes at ``/api/v0/emulator/demo/jwks.json`` (the CLI's quick start).
    """

    environments: tuple[Environment, ...]
    known_scopes: tuple[str, ...] = KNOWN_SCOPES
    leeway_s: float = 30
    max_assertion_lifetime_s: float = 600
    elevated_ttl_s: float = 300
    session_ttl_s: float = 3600
    allowed_algs: tuple[str, ...] = DEFAULT_ALGS
    jwks_ttl_s: float = 300
    jwks_min_refetch_s: float = 1.0
    jwks_timeout_s: float = 2.0
    #: how long past ``jwks_ttl_s`` the last good JWKS still verifies the kids it holds
    #: while refetching it fails (outage tolerance; 0: refuse as soon as a refetch fails)
    jwks_stale_s: float = 3600
    jwks_max_bytes: int = 65536
    max_body_bytes: int = 65536
    max_token_bytes: int = 16384
    state: str = MEMORY
    flaws: frozenset[str] = field(default_factory=frozenset)
    demo_key: str | None = None
    # -- legitimate policy differences (``variants.py`` names combinations of these) --
    #: refuse an assertion without ``iss`` (else ``iss`` is checked only when present)
    require_iss: bool = True
    #: refuse a ``typ`` other than JWT / application/jwt (else ``typ`` is ignored)
    check_typ: bool = True
    #: parse header and payload with Python's ``json.loads`` defaults (NaN, Infinity,
    #: UTF-16/32 detection, duplicate members last-wins) instead of strict JSON
    lenient_json: bool = False
    #: duplicate member names: "reject" the token, or keep the "last" one
    duplicate_members: str = "reject"
    #: header members outside RFC 7515's registered names: "ignore" or "refuse"
    unknown_header: str = "ignore"
    #: verify-call assertion claims outside RFC 7519's registered names and scope:
    #: "ignore" or "refuse"
    unknown_claims: str = "ignore"
    #: accept base64url segments with '=' padding or whitespace (alphabet, canonical form kept)
    lenient_base64url: bool = False
    #: a kid the JWKS does not name is ignored when exactly one published key fits the alg
    kid_ignored_single_key: bool = False
    #: one HTTP status for every refused assertion (400, 401 or 403); None: per reason
    refusal_status: int | None = None

    def __post_init__(self) -> None:
        if not self.environments:
            raise ConfigError("the emulator needs at least one environment")
        ids = [env.id for env in self.environments]
        if len(set(ids)) != len(ids):
            raise ConfigError("environment ids must be unique")
        for name in (
            "leeway_s",
            "max_assertion_lifetime_s",
            "elevated_ttl_s",
            "session_ttl_s",
            "jwks_ttl_s",
            "jwks_min_refetch_s",
            "jwks_timeout_s",
            "jwks_stale_s",
            "jwks_max_bytes",
            "max_body_bytes",
            "max_token_bytes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0")
        if not self.known_scopes or not all(isinstance(s, str) for s in self.known_scopes):
            raise ConfigError("known_scopes must be a non-empty list of strings")
        object.__setattr__(self, "flaws", check_flaws(self.flaws))
        for name in (
            "require_iss",
            "check_typ",
            "lenient_json",
            "lenient_base64url",
            "kid_ignored_single_key",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false")
        for name, allowed in (
            ("duplicate_members", ("reject", "last")),
            ("unknown_header", ("ignore", "refuse")),
            ("unknown_claims", ("ignore", "refuse")),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}")
        if self.refusal_status not in (None, 400, 401, 403):
            raise ConfigError("refusal_status must be 400, 401 or 403 (or absent)")

    def environment(self, env_id: str) -> Environment | None:
        """The environment with this id, or ``None``."""
        for env in self.environments:
            if env.id == env_id:
                return env
        return None

    def has(self, flaw: str) -> bool:
        """Whether the named flaw is switched on."""
        return flaw in self.flaws

    # -- (de)serialisation -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that :meth:`from_dict` reads back."""
        data = asdict(self)
        data["environments"] = [asdict(env) for env in self.environments]
        data["known_scopes"] = list(self.known_scopes)
        data["allowed_algs"] = list(self.allowed_algs)
        data["flaws"] = sorted(self.flaws)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> EmulatorConfig:
        """Build from a mapping; unknown or mistyped keys raise ConfigError naming them."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a table of settings")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown key {key!r}; known keys: {', '.join(sorted(known))}"
                )
        values: dict[str, Any] = dict(data)
        raw_envs = values.pop("environments", None)
        if not isinstance(raw_envs, list) or not raw_envs:
            raise ConfigError(f"{source}: 'environments' must be a non-empty array of tables")
        env_keys = {f.name for f in fields(Environment)}
        envs = []
        for raw in raw_envs:
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{source}: each [[environments]] entry must be a table")
            for key in raw:
                if key not in env_keys:
                    raise ConfigError(
                        f"{source}: unknown key {key!r} in [[environments]]; known keys: "
                        f"{', '.join(sorted(env_keys))}"
                    )
            try:
                envs.append(Environment(**raw))
            except TypeError as exc:
                raise ConfigError(f"{source}: [[environments]]: {exc}") from None
        for key in ("known_scopes", "allowed_algs"):
            if key in values:
                if not isinstance(values[key], list):
                    raise ConfigError(f"{source}: {key!r} must be an array of strings")
                values[key] = tuple(values[key])
        if "flaws" in values:
            if not isinstance(values["flaws"], list):
                raise ConfigError(f"{source}: 'flaws' must be an array of flaw names")
            values["flaws"] = frozenset(values["flaws"])
        for key in ("state", "demo_key"):
            if key in values and values[key] is not None and not isinstance(values[key], str):
                raise ConfigError(f"{source}: {key!r} must be a string")
        return cls(environments=tuple(envs), **values)

    @classmethod
    def from_toml(cls, path: str | Path) -> EmulatorConfig:
        """Read a TOML file (or JSON, by its ``.json`` suffix); ConfigError when wrong."""
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read emulator config {path}: {exc.strerror}") from None
        try:
            if path.suffix == ".json":
                data = json.loads(text)
            else:
                data = tomllib.loads(text.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"emulator config {path} is not valid: {exc}") from None
        return cls.from_dict(data, source=str(path))
