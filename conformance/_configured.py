"""A runtime for a configured (real) target: a Dynamic sandbox or an RFC 7523 server.

:func:`open_configured` builds the transport (TLS verification always on, optional CA
bundle), the target adapter, a keyring whose trusted keys are the user's own, the
capabilities the target can honour, and the :class:`~conformance._engine.Runtime`; it
probes the endpoint once so that an unreachable target stops the run before any case.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import _http
from ._config import RunConfig
from ._engine import Runtime, Skip
from ._exceptions import TargetUnreachable
from ._jose import SigningKey
from ._keyring import Keyring
from ._pacer import Pacer
from ._settings import PropertySettings
from ._transport import Transport
from ._verdict import Policy
from .catalog.profiles import promoted
from .targets._evidence import is_loopback
from .targets.base import Target
from .targets.dynamic import DynamicTarget, key_signer
from .targets.rfc7523 import Rfc7523Target


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
    """The adapter for ``config``'s profile, speaking through ``transport``."""
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
) -> Iterator[Runtime]:
    """The :class:`Runtime` for ``config``; the HTTP client closes when the block exits.
    ``pacer``: the rate limit, retry budget and breaker to share (default: the
    transport's own).

    ``bursts`` is a capability only for a loopback target or with
    ``transport.allow_bursts = true``; ``jwks_host`` never is (we do not serve a real
    target's keys). Raises :class:`TargetUnreachable` when ``check_reachable`` and the
    endpoint does not answer.
    """
    settings = config.settings
    base = config.rfc7523.token_url if config.rfc7523 is not None else settings.base_url
    if is_loopback(base) or config.allow_bursts:
        settings = replace(settings, capabilities=settings.capabilities | {"bursts"})
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
        yield Runtime(
            settings=settings,
            keyring=ConfiguredKeyring(config.keys),
            target=target,
            policy=_with_target_policy(policy or Policy(), config),
            properties=properties or PropertySettings(),
            jwks_host=None,
        )
    finally:
        client.close()


def _with_target_policy(policy: Policy, config: RunConfig) -> Policy:
    """``policy`` with the cases the target's ``[target.policy]`` promotes to ``must``."""
    extra = promoted(config.policy)
    return replace(policy, promoted=policy.promoted | extra) if extra else policy
