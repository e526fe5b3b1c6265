"""The embedded default target: our JWKS host and the emulator on loopback ports.

The emulator fetches the trusted keys from the JWKS host over HTTP, as the real service
fetches a customer's JWKS URL. Environment A is the one under test; environment B (its
own issuer and keys) serves the cross-environment cases. Environments C1 and C2
(:data:`JWKS_ENVIRONMENTS`) have A's keys, each published by a JWKS host of its own, for
the JWKS cases only: they rotate, revoke and break those key sets while the other cases
run against A (``Runtime.isolated``, ``_schedule``).

By default the JWKS host publishes a trusted key for every allow-listed algorithm;
``open_embedded(algs=("RS256",))`` publishes only some (environment B gets keys of the
same algorithms), as a target with one registered key would have: a case needing
another algorithm's trusted key then skips with the reason (``PublishedKeyring``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import _http
from ._engine import IsolatedEnvironment, Runtime, Skip
from ._jose import SigningKey
from ._jwks_host import JwksHost
from ._keyring import ALGS, Keyring, check_algs
from ._settings import PropertySettings, TargetSettings
from ._transport import Transport, TransportPolicy
from ._verdict import Policy
from .catalog._model import CAPABILITIES
from .emulator import DEFAULT_ALGS, EmulatorConfig, Environment, run_emulator
from .emulator.variants import with_variants
from .targets.dynamic import DynamicTarget, key_signer

OPERATION_PATH = "/emulator/operations/{scope}"
#: The embedded emulator's JWKS cache time (seconds): short, so that the revocation case
#: (which waits for it) stays short.
EMBEDDED_JWKS_TTL_S = 1.0


class PublishedKeyring(Keyring):
    """A keyring whose trusted keys are only those of ``published_algs``.

    ``trusted(alg)`` for another algorithm makes the case skip (the engine's ``Skip``), as
    :class:`~conformance._configured.ConfiguredKeyring` does for a key the user did not
    register: the embedded target then behaves as a target with only those keys.
    Rotation, attacker, other-environment, weak and HMAC keys are generated as usual.
    """

    def trusted(self, alg: str = "ES256") -> SigningKey:
        if alg not in self.published_algs:
            raise Skip(self.missing(alg))
        return super().trusted(alg)


#: How long the embedded emulator may take to load its keys at start (it retries a fetch
#: that failed: a loaded machine can hold one past the emulator's timeout).
START_S = 10.0
#: Environments for the JWKS cases alone (each a lane of its own: the JWKS cases are the
#: run's longest chain of waits; two halves it, measured in docs/performance.md)
JWKS_ENVIRONMENTS = 2


@dataclass(frozen=True, slots=True)
class Embedded:
    settings: TargetSettings
    other_settings: TargetSettings
    jwks_host: Any
    flaws: tuple[str, ...]
    variants: tuple[str, ...] = ()
    listener: Any = None  # a second JwksHost (another origin) that planted URLs point at
    #: environments C1, C2...: A's keys on a JWKS host of their own, for the JWKS cases
    isolated: tuple[tuple[TargetSettings, JwksHost], ...] = ()


@contextlib.contextmanager
def start_embedded(
    keyring: Keyring,
    *,
    flaws: Sequence[str] = (),
    variants: Sequence[str] = (),
    only_published: bool = False,
) -> Iterator[Embedded]:
    """Start the JWKS host and the emulator; stop both when the block exits.

    With policy ``variants`` the suite is told none of the emulator's policy numbers
    (leeway, lifetimes): it must measure them, as against a server it knows nothing of.
    ``only_published``: the emulator accepts only the keyring's published algorithms (a
    target configured for its one key), else every allow-listed one.
    """
    env_a, env_b = str(uuid.uuid4()), str(uuid.uuid4())
    issuer_a = "https://issuer.conformance.test/a"
    issuer_b = "https://issuer.conformance.test/b"
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(JwksHost(keyring))
        listener = stack.enter_context(JwksHost(keyring))
        own: list[tuple[Environment, JwksHost]] = []
        for n in range(1, JWKS_ENVIRONMENTS + 1):
            served = stack.enter_context(JwksHost(keyring.fork()))
            env_c = str(uuid.uuid4())
            issuer_c = f"https://issuer.conformance.test/c{n}"
            audience_c = f"https://app.conformance.test/{env_c}"
            env = Environment(
                id=env_c, issuer=issuer_c, jwks_url=served.jwks_url, audience=audience_c
            )
            own.append((env, served))
        # at the end, every host is told to stop before the first is waited for (LIFO)
        for each in (host, listener, *(served for _, served in own)):
            stack.callback(each.stop_soon)
        audience = f"https://app.conformance.test/{env_a}"
        config = EmulatorConfig(
            environments=(
                Environment(id=env_a, issuer=issuer_a, jwks_url=host.jwks_url, audience=audience),
                Environment(id=env_b, issuer=issuer_b, jwks_url=host.other_jwks_url),
                *(env for env, _ in own),
            ),
            flaws=frozenset(flaws),
            allowed_algs=keyring.published_algs if only_published else DEFAULT_ALGS,
            # Short, so that the key cases' waits for a refetch stay short; still a limit,
            # so a flood of random kids shows no amplification.
            jwks_min_refetch_s=0.1,
            # The slow-JWKS case waits for this timeout; a correct target gives up quickly.
            jwks_timeout_s=0.5,
            # Short, so that the revocation case waits seconds, not the default 5 minutes.
            jwks_ttl_s=EMBEDDED_JWKS_TTL_S,
        )
        config = with_variants(config, variants)
        declared = not variants
        with run_emulator(config) as handle:
            # The emulator holds its keys before the first request: under load its first
            # fetch can outlast its short timeout, and a cache that never held a copy
            # refuses every kid (the baseline sign-in: the run could not start). Past that,
            # a slow refetch keeps the last good copy (``jwks_stale_s``).
            for env in config.environments:
                handle.emulator.jwks.load(env.jwks_url, within_s=START_S)
            settings = TargetSettings(
                profile="dynamic",
                base_url=handle.base_url,
                environment_id=env_a,
                issuer=issuer_a,
                audience=audience,
                leeway_s=int(config.leeway_s) if declared else None,
                max_assertion_lifetime_s=int(config.max_assertion_lifetime_s) if declared else None,
                max_token_lifetime_s=int(config.elevated_ttl_s) if declared else None,
                jwks_refetch_s=float(config.jwks_min_refetch_s),
                jwks_cache_s=float(config.jwks_ttl_s) if declared else None,
                capabilities=CAPABILITIES - {"hmac_trusted"},
                # A precomposed letter in user A's subject lets the Unicode-normalisation
                # cases (NFD, NFKC) run against the embedded target.
                subjects=("conformance-\u00e4", "conformance-b"),
            )
            if only_published:  # one registered key signs; else ES256 as ever
                settings = replace(settings, default_alg=keyring.published_algs[0])
            other = replace(settings, environment_id=env_b, issuer=issuer_b, audience=None)
            yield Embedded(
                settings=settings,
                other_settings=other,
                jwks_host=host,
                flaws=tuple(flaws),
                variants=tuple(variants),
                listener=listener,
                isolated=tuple(
                    (
                        replace(
                            settings,
                            environment_id=env.id,
                            issuer=env.issuer,
                            audience=env.audience,
                        ),
                        served,
                    )
                    for env, served in own
                ),
            )


@contextlib.contextmanager
def open_embedded(
    *,
    flaws: Sequence[str] = (),
    variants: Sequence[str] = (),
    policy: Policy | None = None,
    properties: PropertySettings | None = None,
    algs: Sequence[str] | None = None,
) -> Iterator[Runtime]:
    """A runtime against the embedded emulator (our JWKS host + the emulator, loopback).

    ``algs`` (default: every allow-listed algorithm) are the algorithms whose trusted key
    the JWKS host publishes and the emulator accepts; the first signs the valid
    assertions (``default_alg``).
    Raises ``ConfigError`` for an algorithm outside the allow-list.
    """
    keyring = Keyring() if algs is None else PublishedKeyring(published_algs=check_algs(algs))
    # Make every key the plan will use now, once, rather than inside the first case
    # that needs it (RSA generation is ~30 ms a key and would land on a case's latency).
    for alg in ALGS:
        if alg in keyring.published_algs:
            keyring.trusted(alg)
        keyring.other_environment(alg)
        keyring.attacker(alg)
    with start_embedded(
        keyring,
        flaws=tuple(flaws),
        variants=tuple(variants),
        only_published=algs is not None,
    ) as embedded:
        transport = Transport(_http.client(timeout_s=10.0), TransportPolicy(retries=0))
        alg = embedded.settings.default_alg
        target = DynamicTarget(
            embedded.settings,
            transport,
            sign_in_signer=key_signer(keyring.trusted(alg)),
            operation_path=OPERATION_PATH,
        )
        other = DynamicTarget(
            embedded.other_settings,
            transport,
            sign_in_signer=key_signer(keyring.other_environment(alg)),
            operation_path=OPERATION_PATH,
        )
        isolated = tuple(
            IsolatedEnvironment(
                settings=own,
                keyring=served.keyring,
                target=DynamicTarget(
                    own,
                    transport,
                    sign_in_signer=key_signer(keyring.trusted(alg)),
                    operation_path=OPERATION_PATH,
                ),
                jwks_host=served,
            )
            for own, served in embedded.isolated
        )
        try:
            yield Runtime(
                settings=embedded.settings,
                keyring=keyring,
                target=target,
                policy=policy or Policy(),
                properties=properties or PropertySettings(),
                jwks_host=embedded.jwks_host,
                listener=embedded.listener,
                other_settings=embedded.other_settings,
                other_target=other,
                embedded=True,
                isolated=isolated,
            )
        finally:
            transport.client.close()
