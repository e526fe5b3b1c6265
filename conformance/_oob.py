"""Out-of-band settings of a configured run: the listener and the JWKS host (pure data).

The *listener* is the server every URL the suite plants in a token points at (``jku``,
``x5u``, a URL in ``kid``, in claims, in embedded keys): a case passes only if nothing
fetched its path. The *JWKS host* serves the customer's JWKS (the public halves of the
configured ``[[target.keys]]``) at a URL the target is configured to read, so that the
key-life-cycle cases can rotate, revoke and break it.

Whether the target can reach the listener is decided here, from the configuration only:
a ``public_url`` says so; without one, a loopback target reaches a loopback listener;
else the out-of-band cases skip, and the run says why (:func:`listener_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._exceptions import ConfigError

#: The ``oob_listener`` fact names the listener's state; cases needing it skip otherwise.
LISTENER_FACT = "oob_listener"
#: The fact's value when no listener the target can reach was started.
UNREACHABLE = "unreachable"
#: Defaults and bounds of the waits the JWKS host's cases make (seconds).
DEFAULT_REFETCH_S = 1.0
MAX_REFETCH_S = 60.0
DEFAULT_CACHE_S = 300.0
MAX_CACHE_S = 3600.0


@dataclass(frozen=True, slots=True)
class Bind:
    """Where a server listens: host and port (0: any free port)."""

    host: str = "127.0.0.1"
    port: int = 0

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """``[listener]``: the callback server for the run's planted URLs."""

    bind: Bind = Bind()
    public_url: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class JwksHostConfig:
    """``[jwks_host]``: serve the configured keys' JWKS for the target to read.

    ``refetch_s`` is the least time the target documents between two JWKS fetches on an
    unknown kid; ``cache_s`` how long it documents keeping a fetched JWKS (the revocation
    case waits that long, no longer), ``None`` when it documents none: the host then
    serves ``max-age`` :data:`DEFAULT_CACHE_S` and the revocation case only measures."""

    bind: Bind
    public_url: str | None = None
    refetch_s: float = DEFAULT_REFETCH_S
    cache_s: float | None = None

    @property
    def served_cache_s(self) -> float:
        """The ``max-age`` the host serves: the documented cache time, else the default."""
        return DEFAULT_CACHE_S if self.cache_s is None else self.cache_s


@dataclass(frozen=True, slots=True)
class ListenerPlan:
    """Whether to start the listener, and the reason the run reports either way."""

    start: bool
    reason: str


def is_loopback_host(host: str) -> bool:
    host = host.lower().strip("[]")
    return host in {"localhost", "::1"} or host.startswith("127.")


def parse_bind(text: str) -> Bind:
    """``"host:port"`` (``"[::1]:8080"`` for IPv6) as a :class:`Bind`; raises
    ``ValueError`` (the message says what is wrong) otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"must be 'host:port' (port 0-65535), not {text[:80]!r}")
    return Bind(host=host.strip("[]"), port=int(port))


def listener_plan(config: ListenerConfig, target_url: str) -> ListenerPlan:
    """Start the listener when the target can reach it: a public URL was given, or the
    target is on loopback and the listener binds there too."""
    if not config.enabled:
        return ListenerPlan(False, "turned off in [listener] (enabled = false)")
    if config.public_url:
        return ListenerPlan(True, f"at {config.public_url} (listener.public_url)")
    target_host = urlsplit(target_url).hostname or ""
    if is_loopback_host(target_host) and is_loopback_host(config.bind.host):
        return ListenerPlan(True, "on loopback, beside the loopback target")
    if not is_loopback_host(config.bind.host):
        return ListenerPlan(
            True, f"bound to {config.bind} (listener.bind, reachable by the target's network)"
        )
    return ListenerPlan(
        False,
        f"the target {target_host} is not on loopback and no [listener] public_url is set: "
        "nothing the target could reach was started, so the out-of-band cases (jku, x5u, "
        "URLs in kid and claims) did not run",
    )


def check_jwks_host_reachable(config: JwksHostConfig, target_url: str) -> None:
    """Raise ``ConfigError`` when a remote target could not fetch the JWKS host: it binds
    loopback and has no ``public_url``."""
    target_host = urlsplit(target_url).hostname or ""
    if config.public_url or not is_loopback_host(config.bind.host):
        return
    if not is_loopback_host(target_host):
        raise ConfigError(
            f"jwks_host.bind is {config.bind} (loopback) but the target {target_host} is "
            "not: it cannot fetch the JWKS there; set jwks_host.public_url (a tunnel to "
            "bind) or bind an address the target reaches"
        )


def fixed_port_server(config: Any) -> str:
    """``"[jwks_host]"`` or ``"[listener]"`` when ``config`` (a ``RunConfig``) binds one
    to a fixed port — one process only, so no xdist workers — else ``""``."""
    if config.jwks_host is not None:
        return "[jwks_host]"
    if config.listener.enabled and config.listener.bind.port != 0:
        return "[listener]"
    return ""


def listener_lines(facts: Mapping[str, Any]) -> list[str]:
    """The terminal's warning when the out-of-band cases could not run (else nothing)."""
    fact = facts.get(LISTENER_FACT)
    if not isinstance(fact, Mapping) or fact.get("value") != UNREACHABLE:
        return []
    return [f"OUT-OF-BAND CHECKS DID NOT RUN: {fact.get('detail', '')}"]
