"""Building the runtime of a run: the embedded emulator or a configured target, the
run's verdict policy, and the baseline check that must pass before any case.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from ._config import RunConfig, load_run_config
from ._configured import open_configured
from ._embedded import open_embedded
from ._engine import Context, Runtime, Skip
from ._exceptions import BaselineRefused, TargetUnreachable
from ._pacer import Pacer
from ._settings import PropertySettings
from ._verdict import Policy, describe
from ._waivers import load_waivers
from .catalog._model import Expect, case


def policy_for(
    config: RunConfig | None, *, strict: bool = False, waivers: str | Path | None = None
) -> Policy:
    """The verdict policy of a run: ``waivers`` (a file), else the configuration's own."""
    source = waivers or (config.waivers if config is not None else None)
    return Policy(strict=strict, waivers=load_waivers(Path(source) if source else None))


@contextlib.contextmanager
def build_runtime(
    config: RunConfig | None,
    *,
    flaws: Sequence[str] = (),
    variants: Sequence[str] = (),
    policy: Policy | None = None,
    properties: PropertySettings | None = None,
    algs: Sequence[str] | None = None,
    pacer: Pacer | None = None,
    xdist_worker: bool = False,
) -> Iterator[Runtime]:
    """The runtime for ``config`` (the embedded emulator with ``flaws``, policy
    ``variants`` and, when given, only the keys of ``algs`` when ``None``). ``pacer``:
    the run's shared pace for a configured target (xdist workers share one rate limit);
    each worker's embedded emulator is its own target and keeps its own.
    ``xdist_worker``: this process is one pytest-xdist worker of the run."""
    if config is not None:
        with open_configured(
            config, policy=policy, properties=properties, pacer=pacer, xdist_worker=xdist_worker
        ) as runtime:
            yield runtime
        return
    with open_embedded(
        flaws=flaws, variants=variants, policy=policy, properties=properties, algs=algs
    ) as runtime:
        yield runtime


@contextlib.contextmanager
def open_runtime(
    config: str | Path | None = None,
    *,
    flaws: Sequence[str] = (),
    variants: Sequence[str] = (),
    strict: bool = False,
    waivers: str | Path | None = None,
) -> Iterator[Runtime]:
    """A :class:`~conformance.Runtime` for notebooks and scripts: the target of ``config``
    (a TOML file), or the embedded emulator (with ``flaws`` and policy ``variants``) when
    it is ``None``.
    ``strict`` and ``waivers`` make :func:`~conformance.run_case` settle verdicts exactly
    as ``conformance run`` does with the same options.

    Raises :class:`~conformance.ConfigError` for a wrong configuration and
    :class:`~conformance.TargetUnreachable` when the target does not answer.
    """
    loaded = load_run_config(Path(config), cwd=Path.cwd()) if config is not None else None
    policy = policy_for(loaded, strict=strict, waivers=waivers)
    with build_runtime(loaded, flaws=flaws, variants=variants, policy=policy) as runtime:
        yield runtime


_BASELINE = case(
    "baseline",
    "a valid assertion is accepted",
    category="envelope",
    run=lambda ctx: None,
    rationale="",
    expect=Expect.ACCEPT,
)


def check_baseline(runtime: Runtime) -> None:
    """A valid assertion must be accepted before any negative can mean anything.

    Raises :class:`~conformance.TargetUnreachable` when there is no answer and
    :class:`~conformance._exceptions.BaselineRefused` when the assertion is refused or a
    session cannot be had (one line each, with what to check).
    """
    try:
        exchange = Context(runtime, _BASELINE).valid(label="baseline")
    except Skip as exc:
        raise BaselineRefused(f"cannot run the baseline: {exc}") from None
    if exchange.error is not None:
        raise TargetUnreachable(
            f"the target is unreachable ({exchange.error}); check base_url/token_url and "
            "the network"
        )
    if not exchange.accepted:
        raise BaselineRefused(
            f"the target refused a valid assertion ({describe(exchange)}); check the issuer, "
            "keys, subjects and session settings"
        )
