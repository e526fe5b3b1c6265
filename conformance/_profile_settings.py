"""The ``[target]`` of a run configuration that uses a declarative profile.

:func:`template_settings` validates the profile's ``[params]`` and the common keys
against what the profile declares (``docs/profiles.md#the-run-configuration-with-a-profile``)
and returns the :class:`TargetSettings` cases read plus the values its templates use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ._exceptions import ConfigError
from ._profile import Profile, placeholders
from ._settings import TargetSettings
from ._toml_reader import Reader, loopback_host
from .targets.template import render_url

#: ``[target]`` keys of a configuration with a profile, besides the common ones and
#: the profile's ``[params]``.
TEMPLATE_KEYS = ("profile_file", "client_id", "issuer", "session_tokens")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DEFAULT_SUBJECTS = ("conformance-a", "conformance-b")


def _in_headers(profile: Profile) -> set[str]:
    """The placeholders the header templates of ``profile``'s calls name."""
    calls = [profile.request, *profile.operations.values()]
    if profile.session.request is not None:
        calls.append(profile.session.request)
    return {n for call in calls for t in call.headers.values() for n in placeholders(t)}


def _param_values(target: Reader, profile: Profile) -> dict[str, str]:
    values: dict[str, str] = {}
    in_headers = _in_headers(profile)
    for name, param in profile.params.items():
        what = param.description or f"a value for the {profile.name} profile's {{{name}}}"
        required = what if param.required and param.default is None else ""
        if param.kind == "url":
            value = target.url(name, param.default, required=required)
        else:
            value = target.string(name, param.default, required=required)
        if value is None:
            continue
        if name in in_headers and not (value.isascii() and value.isprintable()):
            raise target.error(name, "is sent in a header: use printable ASCII only")
        if param.kind == "uuid" and not _UUID_RE.match(value):
            raise target.error(name, "must be a 36-character UUID")
        if param.kind == "path":
            if not value.startswith("/"):
                raise target.error(name, "must start with / (a path)")
            try:
                inner = set(placeholders(value))
            except ValueError:
                inner = {"?"}
            if inner - {"scope"}:
                raise target.error(name, "may hold only the placeholder {scope}")
        values[name] = value
    return values


def _check_rendered(target: Reader, profile: Profile, key: str, url: str) -> None:
    """The URL ``key`` of ``profile`` rendered with the configuration's values: http(s)
    with a host, https unless loopback, no credentials (a ``string`` param can fill a URL
    template: the checks of a ``url`` param apply to the result). The URL is not
    repeated: a param may be secret."""
    parts = urlsplit(url)
    why = None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        why = "is not an http(s) URL with a host"
    elif parts.username is not None or parts.password is not None:
        why = "carries credentials (user:password@)"
    elif parts.scheme == "http" and not loopback_host(parts.hostname):
        why = "uses plain http (https unless the host is loopback)"
    if why is not None:
        raise ConfigError(
            f"{target.source}: the {profile.name} profile's {key}, rendered with [target]'s "
            f"values, {why}: check the params it names (a URL param is best declared "
            'kind = "url")'
        )


def _needed(profile: Profile) -> set[str]:
    """The placeholders of the exchange request (what a run cannot do without)."""
    names = set(profile.request.placeholders)
    if profile.session.request is not None:
        names |= profile.session.request.placeholders
    return names


def template_settings(
    target: Reader,
    profile: Profile,
    *,
    audience: str | None,
    capabilities: set[str],
    common: Mapping[str, Any],
) -> tuple[TargetSettings, dict[str, str]]:
    """The settings and template values of ``[target]`` under ``profile``; raises
    :class:`ConfigError` (one line, the key named) for a missing or wrong value."""
    values = _param_values(target, profile)
    rfc = profile.base == "rfc7523"
    client_id = target.string("client_id")
    if client_id is None and "client_id" in values:
        client_id = values["client_id"]
    needed = _needed(profile)
    if client_id is None and ("client_id" in needed or rfc):
        raise ConfigError(
            f"{target.source}: missing target.client_id (the {profile.name} profile sends it)"
        )
    if client_id is not None:
        values["client_id"] = client_id
    issuer = target.string("issuer") or (client_id if rfc else None)
    if issuer is None:
        raise ConfigError(f"{target.source}: missing target.issuer (the iss the target expects)")
    subjects = target.strings("subjects", (client_id,) if rfc and client_id else _DEFAULT_SUBJECTS)
    if profile.mode == "client_assertion":
        # RFC 7523 §3: a client assertion's iss and sub are both the client id.
        if issuer != client_id:
            raise target.error("issuer", "must equal client_id under rfc7523/client_assertion")
        if subjects[0] != client_id:
            raise target.error(
                "subjects", "must start with client_id under rfc7523/client_assertion"
            )

    request_url = render_url(profile, profile.request.url, values)
    if request_url is None:
        raise ConfigError(
            f"{target.source}: the {profile.name} profile's request.url needs a value"
        )
    _check_rendered(target, profile, "request.url", request_url)
    if profile.session.request is not None:
        signin_url = render_url(profile, profile.session.request.url, values)
        if signin_url is not None:
            _check_rendered(target, profile, "session.request.url", signin_url)
    rule = profile.claims.aud
    if rule in ("required", "issuer") and audience is None:
        raise ConfigError(
            f"{target.source}: missing target.audience (the {profile.name} profile has "
            f'aud = "{rule}")'
        )
    if rule in ("token_url", "absent") and audience is not None:
        raise target.error(
            "audience", f'is not used: the {profile.name} profile has aud = "{rule}"'
        )
    aud = request_url if rule == "token_url" else audience
    if aud is not None:
        values["audience"] = aud
    values["issuer"] = issuer

    caps = set(capabilities)
    if profile.session.kind == "none":
        caps -= {"sessions", "second_user", "sensitive_operation"}
    if len(subjects) < 2:
        caps.discard("second_user")
    sensitive = profile.operations.get("sensitive")
    per_call = {"scope": "x", "elevated_token": "x", "session_token": "x"}
    if sensitive is None or render_url(profile, sensitive.url, {**values, **per_call}) is None:
        caps.discard("sensitive_operation")
    if aud is None:
        caps.discard("audience")

    settings = TargetSettings(
        profile=profile.base,
        base_url=(values.get("base_url") or request_url).rstrip("/"),
        environment_id=values.get("environment_id", ""),
        issuer=issuer,
        audience=aud,
        subjects=subjects,
        capabilities=frozenset(caps),
        scope_claim=profile.claims.scope,
        **common,
    )
    documented = {
        "leeway_s": profile.claims.leeway_s,
        "max_assertion_lifetime_s": profile.claims.max_lifetime_s,
        "max_token_lifetime_s": profile.issued.max_lifetime_s,
    }
    for name, value in documented.items():
        if value is not None and getattr(settings, name) is None:
            settings = replace(settings, **{name: value})  # type: ignore[arg-type]
    return settings, values
