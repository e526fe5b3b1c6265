"""The one place a verdict is decided.

Every path that runs a case — ``conformance run``, ``pytest --pyargs conformance.suite``,
the exported :func:`~conformance.run_case`, a notebook — ends here, so the same exchange
gets the same verdict everywhere. Two steps:

1. **judge**: what the answers prove for this case —

   * ``pass``  the target did what a correct endpoint does (a rejection also needs
     a positive control accepted right after it, see :func:`confirm`);
   * ``fail``  it did not: accepted what it must refuse, or refused what it must accept;
   * ``error`` it misbehaved so that nothing is proved (no or a partial answer, 3xx,
     5xx, 408/429/431, a 2xx without a usable token, a refusal whose positive control
     was refused too, a clock case delayed by retries, a recipe that broke);
   * ``skip``  the case cannot run here (a capability, key or setting is missing).

2. **settle** (:func:`settle`): the run's policy turns a judgement into the final
   verdict — a ``should`` case's ``fail``, and an ``interop`` case's (a refusal of what
   a correct target accepts: stricter than needed), is ``warn`` unless the run is strict;
   waivers turn ``fail``/``warn`` into ``waived`` while active (an expired waiver
   leaves a ``fail``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._redact import scrub
from ._schema import VERDICTS, Verdict
from ._waivers import Waivers
from .catalog._model import Case, Expect, Kind, Level
from .targets.base import Exchange

#: What the answers prove, before the run's policy (final verdicts: ``_schema.Verdict``).
Judged = Literal["pass", "fail", "error", "skip"]


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the answers prove: a judged verdict and, unless ``pass``, why."""

    verdict: Judged
    message: str = ""


PASS = Judgement("pass")


@dataclass(frozen=True, slots=True)
class Policy:
    """How a run settles judgements: ``strict`` makes ``should`` failures fail;
    ``waivers`` are the run's accepted risks; ``promoted`` are globs of the case ids the
    target's ``[target.policy]`` makes ``must`` for this run (docs/levels.md)."""

    strict: bool = False
    waivers: Waivers = field(default_factory=Waivers)
    promoted: frozenset[str] = frozenset()


def effective(case: Case, profile: str, policy: Policy) -> Case:
    """``case`` as this run judges it: the expectation and level of ``profile`` (a
    profile, or ``profile/mode``: ``catalog/profiles.py``), ``must`` when the run's policy
    promotes it. Results record these, so a report shows what was judged."""
    expect = case.expectation(profile)
    promote = any(fnmatch.fnmatchcase(case.id, glob) for glob in policy.promoted)
    level = Level.MUST if promote else case.level_for(profile)
    if expect is case.expect and level is case.level:
        return case
    return dataclasses.replace(case, expect=expect, level=level)


@dataclass(frozen=True, slots=True)
class Settled:
    verdict: Verdict
    waiver: Mapping[str, Any] | None = None


#: what splits a line somewhere (terminals, CI logs, ``str.splitlines``), and how it is shown
_LINE_BREAKS = {
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\x85": "\\x85",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def one_line(text: str, *, limit: int = 300) -> str:
    """``text`` scrubbed (secrets cut, controls escaped), bounded, with CR, LF and TAB
    escaped: a target's words can never start a line of their own in a log."""
    for char, shown in _LINE_BREAKS.items():
        text = text.replace(char, shown)
    return scrub(text, limit=limit)


def describe(exchange: Exchange) -> str:
    """What the target did, in one line with a bounded body."""
    if exchange.error:
        got = "no answer" if exchange.status is None else f"HTTP {exchange.status}, cut off"
        return f"{got} ({one_line(exchange.error)})"
    if exchange.accepted:
        # the token itself is in the evidence, decoded; the message stays readable
        return f"HTTP {exchange.status}, issued a token"
    body = one_line(exchange.response_body)
    if exchange.issued_token and exchange.status is not None and 200 <= exchange.status < 300:
        length = len(exchange.issued_token)
        return f"HTTP {exchange.status}, issued an unusable token ({length} chars); body: {body}"
    return f"HTTP {exchange.status}, issued no token; body: {body}"


def outcome(exchange: Exchange) -> str:
    """accepted | rejected | error: what one answer was, whatever was expected."""
    if exchange.accepted:
        return "accepted"
    if exchange.rejected:
        return "rejected"
    return "error"


def judge(case: Case, profile: str, exchange: Exchange) -> Judgement:
    """The judgement of the exchange a recipe returned, against the case's expectation."""
    expect = case.expectation(profile)
    if exchange.misbehaved:
        return Judgement("error", f"the target misbehaved: {describe(exchange)}")
    if case.category == "time" and exchange.retries:
        # A Retry-After wait moved the clock under a boundary case: its margins no
        # longer hold, so neither answer proves anything.
        tries = "retry" if exchange.retries == 1 else "retries"
        return Judgement(
            "error",
            f"the answer came after {exchange.retries} rate-limit {tries}, which moved this "
            "clock case past its margins; rerun with a lower transport.rate_limit_per_s",
        )
    if expect is Expect.REJECT and exchange.accepted:
        return Judgement("fail", f"accepted it: {describe(exchange)}")
    if expect is Expect.ACCEPT and exchange.rejected:
        return Judgement("fail", f"refused it: {describe(exchange)}")
    return PASS


def needs_control(case: Case, judgement: Judgement, last: Exchange) -> bool:
    """A passing case whose last answer was a refusal is confirmed by a positive control
    (unless the case opts out): a target that refuses everything passes no negative."""
    return judgement.verdict == "pass" and case.control and last.rejected


def confirm(control: Exchange) -> Judgement:
    """A rejection counts only if a valid assertion sent right after it is accepted."""
    if control.accepted:
        return PASS
    return Judgement(
        "error",
        "the positive control sent right after this rejection was not accepted "
        f"({describe(control)}): the rejection proves nothing",
    )


def settle(case: Case, judged: Judged, policy: Policy, *, today: dt.date) -> Settled:
    """The final verdict of ``judged`` under the run's ``policy`` (see the module doc)."""
    verdict: str = judged
    lenient = case.level is Level.SHOULD or case.kind is Kind.INTEROP
    if judged == "fail" and lenient and not policy.strict:
        verdict = "warn"
    verdict, waiver = policy.waivers.apply(case.id, verdict, today=today)
    return Settled(verdict=_verdict(verdict), waiver=waiver)


def _verdict(value: str) -> Verdict:
    for known in VERDICTS:
        if value == known:
            return known
    raise ValueError(f"not a verdict: {value!r}")
