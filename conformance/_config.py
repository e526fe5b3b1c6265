"""The run configuration: a TOML file (``--config``) or ``[tool.conformance]`` in
``pyproject.toml``, validated into one :class:`RunConfig`.

Every mistake raises :class:`ConfigError` with one line that names the key and what was
expected; secrets are only ever given by reference (``env:NAME`` or a file path) and no
message echoes one. The schema is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._exceptions import ConfigError
from ._keyring import load_signing_key
from ._oob import (
    DEFAULT_REFETCH_S,
    MAX_CACHE_S,
    MAX_REFETCH_S,
    JwksHostConfig,
    ListenerConfig,
    parse_bind,
)
from ._profile import COMMON_TARGET_KEYS as _COMMON_TARGET_KEYS
from ._profile import Profile, load_profile
from ._profile import shipped as shipped_profile
from ._profile_settings import TEMPLATE_KEYS as _TEMPLATE_KEYS
from ._profile_settings import template_settings
from ._settings import KNOWN_SCOPES, TargetSettings
from ._toml_reader import Reader, kind, read_toml
from ._transport import TransportPolicy
from .catalog._model import CAPABILITIES
from .catalog.profiles import POLICY, POLICY_VALUES
from .targets.rfc7523 import AUDIENCE_KINDS, MODES, Rfc7523Options, rfc7523_settings

if TYPE_CHECKING:
    from ._jose import SigningKey

PROFILES = ("dynamic", "rfc7523")
DYNAMIC_BASE_URL = "https://app.dynamicauth.com/api/v0"
#: Transport defaults for a real target: gentle on a shared staging service.
DEFAULT_RATE_LIMIT_PER_S = 5.0

_PROFILE_KEYS: Mapping[str, tuple[str, ...]] = {
    "dynamic": ("base_url", "environment_id", "issuer", "session_tokens", "operation_path"),
    "rfc7523": ("token_url", "client_id", "mode", "audience_kind", "scope", "issuer"),
}
_SECTIONS = ("target", "transport", "report", "listener", "jwks_host")
_LISTENER_KEYS = ("bind", "public_url", "enabled")
_JWKS_HOST_KEYS = ("bind", "public_url", "refetch_s", "cache_s")
_TRANSPORT_KEYS = (
    "timeout_s",
    "retries",
    "rate_limit_per_s",
    "max_retry_after_s",
    "retry_budget_s",
    "max_unavailable",
    "run_deadline_s",
    "allow_bursts",
    "ca_bundle",
)
_REPORT_KEYS = ("dir", "waivers")
_KEY_KEYS = ("kid", "alg", "private_key")
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """A validated configuration. ``session_tokens`` hold resolved secrets (never shown)."""

    source: str  # "path/to/file.toml" or "pyproject.toml [tool.conformance]"
    settings: TargetSettings
    keys: tuple[SigningKey, ...] = field(repr=False)
    session_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    transport: TransportPolicy = field(default_factory=TransportPolicy)
    allow_bursts: bool = False
    ca_bundle: Path | None = None
    waivers: Path | None = None
    report_dir: Path | None = None
    operation_path: str | None = None
    rfc7523: Rfc7523Options | None = None
    #: ``[target.policy]``: key -> "required" | "recommended" (``catalog/profiles.POLICY``)
    policy: Mapping[str, str] = field(default_factory=dict)
    #: ``[listener]``: the callback server for planted URLs (started by default)
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    #: ``[jwks_host]``: serve the configured keys' JWKS (``None``: the target reads its own)
    jwks_host: JwksHostConfig | None = None
    #: a declarative profile (``--profile NAME`` or ``[target] profile_file``): the
    #: template target speaks it (``docs/profiles.md``); ``None``: the built-in adapter
    template: Profile | None = None
    #: the values its templates use: its ``[params]``, ``client_id``, ``issuer``, ``audience``
    template_values: Mapping[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return self.settings.profile

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs assertions (the first of ``target.keys``)."""
        return self.keys[0]


def load_run_config(
    path: Path | None, *, cwd: Path, profile: str | None = None
) -> RunConfig | None:
    """The configuration in ``path``, else ``[tool.conformance]`` of ``cwd/pyproject.toml``
    when that table exists, else ``None`` (the embedded emulator).

    Raises :class:`ConfigError` (one line, the key named, no secret echoed) for an
    unreadable file, invalid TOML, an unknown key, a wrong type or value, a missing
    required key, a secret given literally, a missing environment variable or an
    unreadable key file. Relative paths are resolved against the file's directory.
    ``profile`` names a shipped profile (``--profile``) the target speaks.
    """
    if path is not None:
        data = _read_toml(path)
        return _parse(data, source=str(path), base=path.resolve().parent, shipped=profile)
    if profile is not None:
        raise ConfigError(f"--profile {profile} needs --config FILE (the target's [target] values)")
    pyproject = cwd / "pyproject.toml"
    if not pyproject.is_file():
        return None
    tool = _read_toml(pyproject).get("tool", {})
    table = tool.get("conformance") if isinstance(tool, dict) else None
    if table is None:
        return None
    source = f"{pyproject} [tool.conformance]"
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: must be a table")
    return _parse(table, source=source, base=cwd.resolve(), shipped=profile)


def _read_toml(path: Path) -> dict[str, Any]:
    return read_toml(path)


class _Reader(Reader):
    """:class:`~conformance._toml_reader.Reader` that names the profile a key belongs to."""

    def only(self, allowed: tuple[str, ...], *, profile: str | None = None) -> None:
        for key in self.table:
            if key not in allowed:
                other = [p for p, ks in _PROFILE_KEYS.items() if key in ks and p != profile]
                if profile is not None and other:
                    raise self.error(key, f"is for profile {other[0]} only (profile is {profile})")
        super().only(allowed)


_kind = kind


# -- secrets by reference ----------------------------------------------------------------


def _looks_like_secret(value: str) -> str | None:
    """What literal secret ``value`` looks like, or ``None`` when it may be a reference."""
    text = value.strip()
    if "-----BEGIN" in text:
        return "a PEM key"
    if text.startswith("{"):
        return "a JWK"
    if _JWT_SHAPE.match(text) and text.startswith("ey"):
        return "a JWT"
    if "\n" in text or (len(text) > 120 and "/" not in text and os.sep not in text):
        return "a literal secret"
    return None


def _check_reference(reader: _Reader, key: str, value: str) -> None:
    what = _looks_like_secret(value)
    if what is not None:
        raise reader.error(key, f"holds {what}; give secrets by reference: env:NAME or a file path")
    if value.startswith("env:") and not _ENV_RE.match(value[4:]):
        raise reader.error(key, "names no valid environment variable (use env:NAME)")


def _resolve_secret(reader: _Reader, key: str, value: str, base: Path) -> str:
    """The secret text ``value`` refers to (``env:NAME`` or a file)."""
    _check_reference(reader, key, value)
    if value.startswith("env:"):
        name = value[4:]
        secret = os.environ.get(name, "").strip()
        if not secret:
            raise reader.error(key, f"refers to environment variable {name}, which is not set")
        return secret
    path = (base / Path(value).expanduser()).resolve()
    try:
        secret = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise reader.error(key, f"refers to file {value}, which cannot be read") from None
    if not secret:
        raise reader.error(key, f"refers to file {value}, which is empty")
    return secret


def _load_keys(target: _Reader, base: Path) -> tuple[SigningKey, ...]:
    raw = target.table.get("keys")
    if raw is None:
        raise ConfigError(
            f"{target.source}: missing target.keys (at least one [[target.keys]] with "
            'private_key = "env:NAME" or a file path)'
        )
    if not isinstance(raw, list) or not raw:
        raise target.error("keys", "must be an array of tables ([[target.keys]])")
    keys: list[SigningKey] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise target.error(f"keys[{i}]", f"must be a table, not {_kind(entry)}")
        reader = _Reader(entry, f"target.keys[{i}]", target.source)
        reader.only(_KEY_KEYS)
        source = reader.need("private_key", '"env:NAME" or the path of the private key file')
        _check_reference(reader, "private_key", source)
        if not source.startswith("env:"):
            source = str((base / Path(source).expanduser()).resolve())
        try:
            key = load_signing_key(source, kid=reader.string("kid"), alg=reader.string("alg"))
        except ConfigError as exc:
            raise ConfigError(f"{target.source}: {reader.name('private_key')}: {exc}") from None
        if any(k.kid == key.kid for k in keys):
            raise reader.error("kid", f"repeats kid {key.kid!r}; every key needs its own kid")
        keys.append(key)
    return tuple(keys)


# -- the schema --------------------------------------------------------------------------


def _parse(
    data: Mapping[str, Any], *, source: str, base: Path, shipped: str | None = None
) -> RunConfig:
    root = _Reader(data, "", source)
    root.only(_SECTIONS)
    if "target" not in data:
        raise ConfigError(f"{source}: missing [target] table (profile, keys, ...)")
    target = _Reader(root.table_at("target"), "target", source)
    template = _template_profile(target, base, shipped)
    if template is None:
        profile = target.choice("profile", PROFILES, "dynamic")
        target.only(_COMMON_TARGET_KEYS + _PROFILE_KEYS[profile], profile=profile)
    else:
        profile = template.base
        target.only(_COMMON_TARGET_KEYS + _TEMPLATE_KEYS + tuple(template.params))

    transport = _Reader(root.table_at("transport"), "transport", source)
    transport.only(_TRANSPORT_KEYS)
    report = _Reader(root.table_at("report"), "report", source)
    report.only(_REPORT_KEYS)

    policy = TransportPolicy(
        timeout_s=transport.number("timeout_s", 10.0) or 10.0,
        retries=transport.integer("retries", 2, maximum=10),
        rate_limit_per_s=transport.number("rate_limit_per_s", DEFAULT_RATE_LIMIT_PER_S),
        max_retry_after_s=transport.number("max_retry_after_s", 10.0, positive=False) or 0.0,
        retry_budget_s=transport.number("retry_budget_s", 180.0, positive=False) or 0.0,
        max_unavailable=transport.integer("max_unavailable", 10, maximum=10_000),
        run_deadline_s=transport.number("run_deadline_s", None),
    )

    common: dict[str, Any] = {
        "scopes": target.strings("scopes", ("wallet:export",)),
        "known_scopes": target.strings("known_scopes", KNOWN_SCOPES),
        # Policy numbers: None (not declared) means measured by the time cases, not assumed.
        "leeway_s": target.declared("leeway_s", maximum=86_400),
        "max_token_lifetime_s": target.declared("max_token_lifetime_s", minimum=1),
        "max_assertion_lifetime_s": target.declared("max_assertion_lifetime_s", minimum=1),
    }
    audience = target.string("audience")
    target_policy = _target_policy(_Reader(target.table_at("policy"), "target.policy", source))
    keys = _load_keys(target, base)
    common["default_alg"] = keys[0].alg

    capabilities = set(CAPABILITIES) - {
        "jwks_host",  # we do not serve a real target's keys
        "attacker_host",
        "second_environment",
        "hmac_trusted",
        "bursts",  # decided in _configured: loopback or allow_bursts
    }
    session_tokens: dict[str, str] = {}
    operation_path: str | None = None
    rfc7523: Rfc7523Options | None = None
    values: dict[str, str] = {}
    if template is not None:
        settings, values = template_settings(
            target, template, audience=audience, capabilities=capabilities, common=common
        )
        session_tokens = _session_tokens(target, settings.subjects, base)
        _check_key_algs(target, template, keys)
    elif profile == "dynamic":
        base_url = target.url("base_url", DYNAMIC_BASE_URL)
        environment_id = target.need("environment_id", "the environment's UUID")
        assert base_url is not None  # it has a default
        if not _UUID_RE.match(environment_id):
            raise target.error("environment_id", "must be a 36-character UUID")
        issuer = target.need("issuer", "the iss your Dynamic environment expects")
        subjects = target.strings("subjects", ("conformance-a", "conformance-b"))
        operation_path = target.string("operation_path")
        if operation_path is not None and not operation_path.startswith("/"):
            raise target.error("operation_path", "must start with / (a path under /sdk/{env})")
        if operation_path is not None and _placeholders(operation_path) - {"scope"}:
            raise target.error(
                "operation_path", "may hold only the placeholder {scope} (write {{ for a brace)"
            )
        session_tokens = _session_tokens(target, subjects, base)
        if operation_path is None:
            capabilities.discard("sensitive_operation")
        if len(subjects) < 2:
            capabilities.discard("second_user")
        if audience is None:
            capabilities.discard("audience")
        settings = TargetSettings(
            profile="dynamic",
            base_url=base_url.rstrip("/"),
            environment_id=environment_id,
            issuer=issuer,
            audience=audience,
            subjects=subjects,
            capabilities=frozenset(capabilities),
            **common,
        )
    else:
        token_url = target.url("token_url", required="the token endpoint URL")
        assert token_url is not None  # url() raised otherwise
        client_id = target.need("client_id", "the client id registered at the server")
        mode = target.choice("mode", MODES, "client_assertion")
        audience_kind = target.choice("audience_kind", AUDIENCE_KINDS, "token_url")
        if audience_kind == "issuer" and audience is None:
            raise ConfigError(
                f'{source}: missing target.audience (audience_kind = "issuer" needs the '
                "authorization server's issuer identifier)"
            )
        if audience_kind == "token_url" and audience is not None:
            raise target.error(
                "audience", 'is used only with audience_kind = "issuer" (else aud is token_url)'
            )
        assertion_issuer = target.string("issuer")
        subjects = target.strings("subjects", (client_id,))
        if mode == "client_assertion":
            # RFC 7523 §3: a client assertion's iss and sub are both the client id.
            if assertion_issuer not in (None, client_id):
                raise target.error("issuer", "must equal client_id in mode client_assertion")
            if subjects[0] != client_id:
                raise target.error("subjects", "must start with client_id in mode client_assertion")
        scope = target.string("scope")
        rfc7523 = Rfc7523Options(
            token_url=token_url,
            client_id=client_id,
            mode=mode,
            audience_kind=audience_kind,
            scope=scope,
        )
        for missing in ("sessions", "second_user", "sensitive_operation"):
            capabilities.discard(missing)
        settings = rfc7523_settings(
            rfc7523,
            audience=audience,
            issuer=assertion_issuer,
            subjects=subjects,
            capabilities=frozenset(capabilities),
            **common,
        )

    return RunConfig(
        source=source,
        settings=settings,
        keys=keys,
        session_tokens=session_tokens,
        transport=policy,
        allow_bursts=transport.boolean("allow_bursts", False),
        ca_bundle=transport.path("ca_bundle", base, must_exist=True),
        waivers=report.path("waivers", base, must_exist=True),
        report_dir=report.path("dir", base, must_exist=False),
        operation_path=operation_path,
        rfc7523=rfc7523,
        template=template,
        template_values=values,
        policy=target_policy,
        listener=_listener(_Reader(root.table_at("listener"), "listener", source)),
        jwks_host=_jwks_host(root, source),
    )


# -- the out-of-band servers (docs/configuration.md#listener) ----------------------------


def _bind(reader: _Reader, default: str | None) -> Any:
    text = reader.string("bind", default, required="" if default else "the 'host:port' to serve on")
    assert text is not None  # required or defaulted
    try:
        bind = parse_bind(text)
    except ValueError as exc:
        raise reader.error("bind", str(exc)) from None
    if bind.host in {"0.0.0.0", "::"} and not reader.has("public_url"):  # noqa: S104
        raise reader.error(
            "bind", f"is {text!r}: all interfaces has no URL of its own; set public_url too"
        )
    return bind


def _public_url(reader: _Reader) -> str | None:
    """A URL the target fetches from: no secret crosses it, so plain http is allowed."""
    value = reader.string("public_url")
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        # planted in tokens (jku, x5u): the reports show them decoded
        raise reader.error("public_url", "must not carry credentials (user:password@)")
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise reader.error("public_url", f"must be an http(s) URL, not {value[:80]!r}")
    if parts.query or parts.fragment:
        raise reader.error("public_url", "must be a base URL without query or fragment")
    return value.rstrip("/")


def _listener(reader: _Reader) -> ListenerConfig:
    reader.only(_LISTENER_KEYS)
    return ListenerConfig(
        bind=_bind(reader, "127.0.0.1:0"),
        public_url=_public_url(reader),
        enabled=reader.boolean("enabled", True),
    )


def _jwks_host(root: _Reader, source: str) -> JwksHostConfig | None:
    if not root.has("jwks_host"):
        return None
    reader = _Reader(root.table_at("jwks_host"), "jwks_host", source)
    reader.only(_JWKS_HOST_KEYS)
    bind = _bind(reader, None)
    if bind.port == 0:
        raise reader.error("bind", "needs a fixed port: the target's JWKS URL names it")
    refetch = reader.number("refetch_s", DEFAULT_REFETCH_S) or DEFAULT_REFETCH_S
    cache = reader.number("cache_s", None)  # None: the target documents no cache time
    if refetch > MAX_REFETCH_S:
        raise reader.error("refetch_s", f"must be at most {MAX_REFETCH_S:g}, not {refetch:g}")
    if cache is not None and cache > MAX_CACHE_S:
        raise reader.error("cache_s", f"must be at most {MAX_CACHE_S:g}, not {cache:g}")
    return JwksHostConfig(
        bind=bind, public_url=_public_url(reader), refetch_s=refetch, cache_s=cache
    )


def _target_policy(policy: _Reader) -> dict[str, str]:
    """``[target.policy]``: what the target's own contract requires beyond its profile's
    documentation; "required" promotes the named ``should`` cases to ``must``."""
    policy.only(tuple(POLICY))
    return {key: policy.choice(key, POLICY_VALUES, "recommended") for key in policy.table}


# -- declarative profiles (docs/profiles.md) ---------------------------------------------


def _session_tokens(target: _Reader, subjects: tuple[str, ...], base: Path) -> dict[str, str]:
    """``[target.session_tokens]``: subject -> the bearer it refers to (resolved)."""
    tokens = _Reader(target.table_at("session_tokens"), "target.session_tokens", target.source)
    out: dict[str, str] = {}
    for subject, reference in tokens.table.items():
        if subject not in subjects:
            raise tokens.error(subject, f"is not one of target.subjects ({', '.join(subjects)})")
        if not isinstance(reference, str) or not reference.strip():
            raise tokens.error(subject, "must be a string: env:NAME or a file path")
        out[subject] = _resolve_secret(tokens, subject, reference, base)
    return out


def _template_profile(target: _Reader, base: Path, shipped: str | None) -> Profile | None:
    """The profile ``--profile`` names or ``[target] profile_file`` points to, if any."""
    path = target.path("profile_file", base, must_exist=False)
    if path is not None and shipped is not None:
        raise target.error("profile_file", f"and --profile {shipped} both name a profile; give one")
    if (path is not None or shipped is not None) and target.has("profile"):
        raise target.error(
            "profile", "is for the built-in adapters; drop it with profile_file or --profile"
        )
    if shipped is not None:
        return shipped_profile(shipped)
    return load_profile(path) if path is not None else None


def _check_key_algs(target: _Reader, profile: Profile, keys: tuple[SigningKey, ...]) -> None:
    for i, key in enumerate(keys):
        if key.alg not in profile.keys.algs:
            raise target.error(
                f"keys[{i}].alg",
                f"is {key.alg}, which the {profile.name} profile does not allow "
                f"({', '.join(profile.keys.algs)})",
            )


def _placeholders(template: str) -> set[str]:
    """The ``str.format`` field names in ``template`` (a broken brace counts as one)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return {"<unbalanced brace>"}
