"""Replay equivalence (issue 14, class 4): the same assertion in another form, over
another path, or at another time is still a replay.

``replay.py`` sends the same token twice and the same ``jti`` re-signed. A replay guard
keyed on something other than the ``jti`` (the token's text, its signature bytes, a
connection), or a store that forgets (a bounded cache, a plain JavaScript object that
"already has" ``__proto__``), lets a captured assertion through a second time. Here:

* the accepted token with its signature re-encoded: non-canonical base64url trailing bits,
  an ECDSA signature in DER instead of raw ``r || s`` (``replay.same_jti.*``: a lenient
  verifier accepts them as new tokens, a strict one refuses them; either way no second
  token may be issued);
* the same token over a new connection, after many other assertions (cache pressure,
  bounded; loopback or ``transport.allow_bursts`` only), and spaced in time within its
  lifetime (the opt-in slow tier: ``conformance run --slow-tier``, pytest
  ``--conformance-slow-tier``, or ``CONFORMANCE_SLOW_TIER=1``);
* ``jti`` values that collide in naive stores: names every JavaScript object already has,
  Unicode normalisation, truncation to a common prefix.

Levels follow ``replay.py``: ``must`` where Dynamic documents ``jti`` as the replay guard,
``should`` under RFC 7523 (a MAY; ``catalog/profiles.py`` applies it by the
``replay.same_*`` globs); first uses that a naive store refuses are interop.
"""

from __future__ import annotations

import os
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..forge import ecdsa_der, noncanonical
from .authoring import (
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    case,
    trusted_of_family,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = [
    "CASES",
    "NOT_APPLICABLE",
    "PRESSURE_ASSERTIONS",
    "PROTOTYPE_JTIS",
    "SLOW_TIER_ENV",
    "SPACED_S",
    "slow_tier",
]

CATEGORY = "replay"
#: The environment variable that opts in to the slow tier (replays spaced in time).
SLOW_TIER_ENV = "CONFORMANCE_SLOW_TIER"
#: The waits of the slow tier, each within the assertion's 120 s lifetime.
SPACED_S = (30, 90)
#: Distinct valid assertions sent between a first use and its replay (cache pressure):
#: more than a small LRU keeps, bounded so a real target sees a short burst only.
PRESSURE_ASSERTIONS = 100
#: Member names a plain JavaScript object (or a Python ``dict`` subclass with attribute
#: fallbacks) "already has": a store written as ``if (seen[jti]) ...; seen[jti] = 1``
#: either refuses them on first use or never records them.
PROTOTYPE_JTIS = ("__proto__", "constructor", "toString", "hasOwnProperty")

_WHY = (
    "A replay guard must key on the jti, not on the token's bytes, the connection or a "
    "bounded cache: a captured assertion that comes back in another form, on another "
    "connection or after enough traffic is still a replay and must not buy a second token."
)
_REFS = (
    "Dynamic docs: jti prevents replay",
    "RFC7523 §3(7)",
    "RFC7519 §4.1.7",
    "CWE-294",
)
_COMMON: dict[str, Any] = {
    "category": CATEGORY,
    "rationale": _WHY,
    "severity": Severity.HIGH,
    "correct": "accepts the first use, refuses every later one, whatever its form",
    "references": _REFS,
}


def _first(ctx: CaseContext, token: str, **send: Any) -> Exchange:
    """Send ``token`` once and require acceptance (else a replay proves nothing)."""
    exchange = ctx.send(token, label="first use", **send)
    ctx.check(ctx.accepted(exchange), "the first use of a valid assertion was not accepted")
    return exchange


def _reencoded(change: Callable[[CaseContext, str], str], *, ec: bool = False) -> Any:
    def run(ctx: CaseContext) -> Exchange:
        key = trusted_of_family(ctx, "EC", prefer=("ES256",)) if ec else ctx.key
        token = ctx.sign(ctx.assertion(), key=key)
        try:
            again = change(ctx, token)
        except ValueError as exc:
            ctx.skip(f"this key's signatures have no such second spelling: {exc}")
            raise
        _first(ctx, token)
        return ctx.send(again, label="re-encoded replay")

    return run


def _new_connection(ctx: CaseContext) -> Exchange:
    """The first use closes its connection (``Connection: close``): the replay arrives on
    a new one, as a replay from another client would."""
    token = ctx.sign(ctx.assertion())
    _first(ctx, token, headers={"connection": "close"})
    return ctx.send(token, label="replay, new connection")


def _after_pressure(ctx: CaseContext) -> Exchange:
    """First use, then :data:`PRESSURE_ASSERTIONS` other valid assertions, then the replay."""
    ctx.require("bursts")  # a short burst: loopback, or transport.allow_bursts = true
    token = ctx.sign(ctx.assertion())
    _first(ctx, token)
    for i in range(PRESSURE_ASSERTIONS):
        filler = ctx.send(ctx.sign(ctx.assertion()), label=f"filler-{i}")
        ctx.check(ctx.accepted(filler), f"filler assertion {i} was not accepted")
    return ctx.send(token, label=f"replay after {PRESSURE_ASSERTIONS} assertions")


def slow_tier(ctx: CaseContext) -> bool:
    """Whether the run opted in to the slow tier: ``--slow-tier`` (the run's properties)
    or :data:`SLOW_TIER_ENV` (kept: CI set-ups use it)."""
    opted = bool(getattr(ctx.properties, "slow_tier", False))
    return opted or os.environ.get(SLOW_TIER_ENV, "") in {"1", "true", "yes"}


def _spaced(seconds: int) -> Callable[[CaseContext], Exchange]:
    def run(ctx: CaseContext) -> Exchange:
        if not slow_tier(ctx):
            ctx.skip(
                "the slow tier is opt-in: conformance run --slow-tier (pytest "
                f"--conformance-slow-tier, or {SLOW_TIER_ENV}=1); it waits {seconds} s"
            )
        token = ctx.sign(ctx.assertion())  # exp = now + 120: the wait stays within it
        _first(ctx, token)
        ctx.sleep(seconds)
        return ctx.send(token, label=f"replay after {seconds} s")

    return run


def _prototype_name(name: str) -> Callable[[CaseContext], Exchange]:
    def run(ctx: CaseContext) -> Exchange:
        token = ctx.sign(ctx.assertion().with_claims(jti=name))
        first = ctx.send(token, label="first use")
        if not ctx.accepted(first):
            ctx.skip(
                f"the first use of jti {name!r} was refused (a store that already 'has' the "
                "name, or a use of it by a run in the last minutes): no replay to judge"
            )
        return ctx.send(token, label="replay")

    return run


def _similar_first_use(derive: Callable[[str], tuple[str, str]]) -> Any:
    def run(ctx: CaseContext) -> Exchange:
        used, other = derive(secrets.token_hex(6))
        _first(ctx, ctx.sign(ctx.assertion().with_claims(jti=used)))
        return ctx.send(ctx.sign(ctx.assertion().with_claims(jti=other)), label="other jti")

    return run


def _nfc_nfd(suffix: str) -> tuple[str, str]:
    composed = unicodedata.normalize("NFC", f"conformance-\u00e9-{suffix}")
    return composed, unicodedata.normalize("NFD", composed)


def _long_prefix(suffix: str) -> tuple[str, str]:
    prefix = f"conformance-{suffix}-" + "p" * 130
    return prefix + "-first", prefix + "-other"


def _cases() -> list[Case]:
    cases = [
        case(
            "replay.same_jti.noncanonical_signature",
            "The accepted token with its signature re-encoded (non-canonical base64url bits)",
            run=_reencoded(lambda ctx, token: noncanonical(token, 2)),
            anchors=("H02", "H03"),
            **_COMMON,
        ),
        case(
            "replay.same_jti.der_signature",
            "The accepted ECDSA token with its signature in DER instead of raw r || s",
            run=_reencoded(lambda ctx, token: ecdsa_der(token), ec=True),
            anchors=("H03",),
            **_COMMON,
        ),
        case(
            "replay.same_token.new_connection",
            "The same assertion replayed over a new connection",
            run=_new_connection,
            anchors=("H01",),
            **_COMMON,
        ),
        case(
            "replay.same_token.after_pressure",
            f"The same assertion replayed after {PRESSURE_ASSERTIONS} other assertions",
            run=_after_pressure,
            anchors=("H01",),
            needs=("bursts",),
            **_COMMON,
        ),
    ]
    cases += [
        case(
            f"replay.same_token.spaced_{seconds}s",
            f"The same assertion replayed {seconds} s later, within its lifetime (slow tier)",
            run=_spaced(seconds),
            anchors=("H01",),
            **_COMMON,
        )
        for seconds in SPACED_S
    ]
    cases += [
        case(
            f"replay.same_token.jti_{name.strip('_').lower()}",
            f"An assertion whose jti is {name!r}, replayed",
            run=_prototype_name(name),
            anchors=("H01",),
            **{
                **_COMMON,
                "rationale": "A replay store written as a plain object (seen[jti]) already "
                f"'has' {name!r}: it refuses the first use or never records it, and the "
                "second use passes. Any string is a valid jti (RFC 7519 §4.1.7).",
                "references": (*_REFS, "CWE-1321"),
            },
        )
        for name in PROTOTYPE_JTIS
    ]
    first_use: dict[str, Any] = {
        "category": CATEGORY,
        "level": Level.SHOULD,
        "severity": Severity.LOW,
        "references": ("RFC7519 §4.1.7 (jti is a case-sensitive string, compared exactly)",),
    }
    cases += [
        case(
            "replay.first_use.jti_normalisation_variant",
            "jti in NFC used, then the same text in NFD (another jti)",
            run=_similar_first_use(_nfc_nfd),
            expect=Expect.EITHER,
            anchors=("H08",),
            rationale="jti values are compared exactly: a store that normalises Unicode "
            "refuses genuine assertions (interop) and shows two spellings meet in one key.",
            correct="accepts it (another jti); a normalising store refuses it: both are safe",
            **first_use,
        ),
        case(
            "replay.first_use.jti_long_common_prefix",
            "Two 150-character jtis differing only after a common prefix",
            run=_similar_first_use(_long_prefix),
            expect=Expect.ACCEPT,
            anchors=("H11",),
            rationale="A store that truncates jti values (a fixed-width column, a hash of a "
            "prefix) refuses the second as a replay: genuine step-ups break.",
            **first_use,
        ),
    ]
    return cases


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
