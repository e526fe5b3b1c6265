"""A runtime for a configured (real) target: a Dynamic sandbox or an RFC 7523 server.

:func:`open_configured` builds the transport (TLS verification always on, optional CA
bundle), the target adapter, a keyring whose trusted keys are the user's own, the
capabilities the target can honour, and the :class:`~conformance._engine.Runtime`; it
probes the endpoint once so that an unreachable target stops the run before any case.
:func:`start_servers` starts the out-of-band servers first: the JWKS host
(``[jwks_host]``, serving the user's public keys) and the listener planted URLs point at
(``[listener]``, or by itself beside a loopback target; see ``_oob.py``).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import _http
from ._config import RunConfig
from ._contract import unjudged
from ._engine import Runtime, Skip
from ._exceptions import ConfigError, TargetUnreachable
from ._jose import SigningKey
from ._keyring import Keyring
from ._oob import (
    LISTENER_FACT,
    UNREACHABLE,
    check_jwks_host_reachable,
    fixed_port_server,
    listener_plan,
)
from ._pacer import Pacer
from ._settings import PropertySettings
from ._transport import Transport
from ._verdict import Policy
from .catalog.profiles import promoted
from .targets._evidence import is_loopback
from .targets.base import Target
from .targets.dynamic import DynamicTarget, key_signer
from .targets.rfc7523 import Rfc7523Target
from .targets.template import TemplateTarget, render_url


class ConfiguredKeyring(Keyring):
    """A keyring whose trusted keys are the user's (registered at the target).

    ``trusted(alg)`` returns the user's key for ``alg`` and makes a case skip (the
    engine's ``Skip``) when none was configured: a generated key would be unknown to the
    target, and its refusal would prove nothing. Attacker, rotation, other-environment,
    weak and HMAC keys are generated as usual — the target never trusts them.
    Raises ``ValueError`` when ``keys`` is empty or holds an HMAC secret.
    """

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        super().__init__(published_algs=())
        if not keys:
            raise ValueError("a configured keyring needs at least one user key")
        self._user: dict[str, SigningKey] = {}
        for key in keys:
            self.publish(key)  # refuses HMAC secrets
            self._user.setdefault(key.alg, key)  # the first key of an alg signs

    @property
    def trusted_algs(self) -> tuple[str, ...]:
        return tuple(self._user)

    def missing(self, wanted: str | Sequence[str]) -> str:
        return f"{super().missing(wanted)} (add one under [[target.keys]] to run this case)"

    def trusted(self, alg: str = "ES256") -> SigningKey:
        key = self._user.get(alg)
        if key is None:
            raise Skip(self.missing(alg))
        return key


def _verify(ca_bundle: Path | None) -> Any:
    """TLS verification is always on; a CA bundle only adds trust anchors."""
    if ca_bundle is None:
        return True

    # httpx 0.28 deprecates verify=<path>: give it a context built from the bundle.
    return ssl.create_default_context(cafile=str(ca_bundle))


def build_target(config: RunConfig, transport: Transport) -> Target:
    """The adapter for ``config``'s profile, speaking through ``transport`` (the
    template target for a declarative profile)."""
    if config.template is not None:
        return TemplateTarget(
            config.template,
            config.settings,
            transport,
            config.template_values,
            sign_in_signer=key_signer(config.signing_key),
            session_tokens=config.session_tokens,
            unjudged=unjudged(config.template),
        )
    if config.rfc7523 is not None:
        return Rfc7523Target(config.settings, transport, config.rfc7523)
    return DynamicTarget(
        config.settings,
        transport,
        sign_in_signer=key_signer(config.signing_key),
        session_tokens=config.session_tokens,
        operation_path=config.operation_path,
    )


def probe_url(config: RunConfig) -> str:
    """The URL :func:`probe` reaches: the token endpoint or the verify endpoint."""
    if config.template is not None:
        url = render_url(config.template, config.template.request.url, config.template_values)
        return url or config.settings.base_url
    if config.rfc7523 is not None:
        return config.rfc7523.token_url
    settings = config.settings
    return f"{settings.base_url.rstrip('/')}/sdk/{settings.environment_id}/externalAuth/verify"


def probe(config: RunConfig, transport: Transport) -> None:
    """Raise :class:`TargetUnreachable` (one line) unless the endpoint answers at all.

    A ``GET`` is enough: any HTTP status (405, 404, even 5xx) proves the host answers;
    only a transport fault (refused, reset, DNS, TLS, timeout) means unreachable. It sends
    no assertion, so nothing is consumed at the target.
    """
    url = probe_url(config)
    raw = transport.request("GET", url, headers={"accept": "application/json"}, content=None)
    if raw.error is not None:
        raise TargetUnreachable(
            f"target {url} is unreachable ({raw.error}); check the URL, the network "
            "and transport.ca_bundle"
        )


@contextlib.contextmanager
def open_configured(
    config: RunConfig,
    *,
    check_reachable: bool = True,
    policy: Policy | None = None,
    properties: PropertySettings | None = None,
    pacer: Pacer | None = None,
    xdist_worker: bool = False,
) -> Iterator[Runtime]:
    """The :class:`Runtime` for ``config``; the HTTP client closes when the block exits.
    ``pacer``: the rate limit, retry budget and breaker to share (default: the
    transport's own). ``xdist_worker``: this run is one pytest-xdist worker of several
    (see :func:`start_servers`).

    ``bursts`` is a capability only for a loopback target or with
    ``transport.allow_bursts = true``; ``jwks_host`` only with ``[jwks_host]`` (the suite
    then serves the configured keys' JWKS), ``attacker_host`` when a listener the target
    can reach runs (:func:`~conformance._oob.listener_plan`). Raises
    :class:`TargetUnreachable` when ``check_reachable`` and the endpoint does not answer,
    ``ConfigError`` when a server cannot bind its address.
    """
    settings = config.settings
    base = config.rfc7523.token_url if config.rfc7523 is not None else settings.base_url
    if config.template is not None:
        base = probe_url(config)
    if is_loopback(base) or config.allow_bursts:
        settings = replace(settings, capabilities=settings.capabilities | {"bursts"})
    config = replace(config, settings=settings)
    keyring = ConfiguredKeyring(config.keys)
    with contextlib.ExitStack() as stack:
        servers = stack.enter_context(
            start_servers(config, keyring, base, xdist_worker=xdist_worker)
        )
        with _open(config, servers, keyring, check_reachable, policy, properties, pacer) as runtime:
            yield runtime


@dataclass(frozen=True, slots=True)
class Servers:
    """The out-of-band servers of a configured run, what they make possible, and the
    facts that say so."""

    jwks_host: Any = None  # JwksHost serving the configured keys, with [jwks_host]
    listener: Any = None  # JwksHost that planted URLs point at, when the target reaches it
    capabilities: frozenset[str] = frozenset()
    unavailable: Mapping[str, str] = field(default_factory=dict)
    facts: Mapping[str, tuple[Any, str]] = field(default_factory=dict)


@contextlib.contextmanager
def start_servers(
    config: RunConfig, keyring: Keyring, target_url: str, *, xdist_worker: bool = False
) -> Iterator[Servers]:
    """Start the JWKS host (``[jwks_host]``) and the listener (``[listener]``) the
    configuration asks for; stop them when the block exits. Raises ``ConfigError`` when
    an address cannot be bound, or when a fixed port is asked of one ``xdist_worker`` of
    several (the run says so; an environment variable would also be inherited by every
    run a worker's test starts)."""
    from ._jwks_host import JwksHost  # lazy: starlette/uvicorn only when serving

    fixed = fixed_port_server(config)
    if fixed and xdist_worker:
        raise ConfigError(
            f"{fixed} serves from one process on a fixed port: run it without pytest-xdist workers"
        )
    facts: dict[str, tuple[Any, str]] = {}
    with contextlib.ExitStack() as stack:
        host = None
        wanted = config.jwks_host
        if wanted is not None:
            check_jwks_host_reachable(wanted, target_url)
            host = JwksHost(
                keyring,
                host=wanted.bind.host,
                port=wanted.bind.port,
                public_url=wanted.public_url,
                cache_max_age_s=int(wanted.served_cache_s),
                option=f"jwks_host.bind in {config.source}",
            )
            stack.enter_context(host)
            facts["jwks_host"] = (
                host.jwks_url,
                f"the suite serves the configured keys' JWKS, bound to {wanted.bind}; the "
                f"target reads it (documented refetch {wanted.refetch_s:g} s, cache "
                + (
                    f"{wanted.cache_s:g} s)"
                    if wanted.cache_s is not None
                    else f"not documented; served max-age {wanted.served_cache_s:g} s)"
                ),
            )
        plan = listener_plan(config.listener, target_url)
        listener, unavailable = None, {}
        if plan.start:
            listener = JwksHost(
                keyring,
                host=config.listener.bind.host,
                port=config.listener.bind.port,
                public_url=config.listener.public_url,
                option=f"listener.bind in {config.source}",
            )
            stack.enter_context(listener)
            facts[LISTENER_FACT] = (listener.base_url, f"listening {plan.reason}")
        elif host is not None and config.listener.enabled:
            listener = host
            facts[LISTENER_FACT] = (host.base_url, "on the JWKS host, which the target reads")
        else:
            facts[LISTENER_FACT] = (UNREACHABLE, plan.reason)
            unavailable["attacker_host"] = plan.reason
        if host is None:
            unavailable["jwks_host"] = (
                "the suite serves the JWKS the target reads only with [jwks_host] in the "
                "configuration, the target reading its /jwks.json (docs/configuration.md)"
            )
        caps = {"jwks_host"} if host is not None else set()
        caps |= {"attacker_host"} if listener is not None else set()
        yield Servers(host, listener, frozenset(caps), unavailable, facts)


@contextlib.contextmanager
def _open(
    config: RunConfig,
    servers: Servers,
    keyring: Keyring,
    check_reachable: bool,
    policy: Policy | None,
    properties: PropertySettings | None,
    pacer: Pacer | None,
) -> Iterator[Runtime]:
    settings = replace(
        config.settings, capabilities=config.settings.capabilities | servers.capabilities
    )
    if config.jwks_host is not None:
        settings = replace(
            settings,
            jwks_refetch_s=config.jwks_host.refetch_s,
            jwks_cache_s=config.jwks_host.cache_s,
        )
    config = replace(config, settings=settings)
    verify = _verify(config.ca_bundle)
    client = _http.client(timeout_s=config.transport.timeout_s, verify=verify)
    try:
        transport = Transport(
            client,
            config.transport,
            # the copies of a race trust what the run trusts (a CA bundle too)
            connect=lambda: _http.client(
                timeout_s=config.transport.timeout_s, verify=verify, max_connections=1
            ),
            pacer=pacer,
        )
        if check_reachable:
            probe(config, transport)
        target = build_target(config, transport)
        runtime = Runtime(
            settings=settings,
            keyring=keyring,
            target=target,
            policy=_with_target_policy(policy or Policy(), config),
            properties=properties or PropertySettings(),
            jwks_host=servers.jwks_host,
            listener=servers.listener,
            unavailable=servers.unavailable,
        )
        for name, (value, detail) in servers.facts.items():
            runtime.fact(name, value, detail)
        yield runtime
    finally:
        client.close()


def _with_target_policy(policy: Policy, config: RunConfig) -> Policy:
    """``policy`` with the cases the target's ``[target.policy]`` promotes to ``must``."""
    extra = promoted(config.policy)
    return replace(policy, promoted=policy.promoted | extra) if extra else policy
