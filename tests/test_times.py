"""The time cases measure policy numbers instead of assuming them: against an in-memory
target of known tolerance and lifetime (FakeTarget, no servers), the brackets they record,
the bounds they judge and the cases that skip without a declared value."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest

from conformance._engine import CaseResult, Runtime, run_case
from conformance._keyring import Keyring
from conformance._settings import TargetSettings
from conformance.catalog import BY_ID
from conformance.catalog._model import CAPABILITIES
from conformance.forge import split
from conformance.targets.base import ExchangeRequest
from conformance.targets.fake import FakeTarget, Reply

TOKEN = Reply(200, body='{"elevatedAccessToken": "[issued]"}', issued="issued-token")
REFUSED = Reply(401, body='{"error": "invalid assertion"}')
_KEYRING = Keyring(published_algs=("ES256",))


def server(tolerance: float, max_lifetime: float = 600) -> Callable[[ExchangeRequest], Reply]:
    """A target with this clock tolerance and maximum assertion lifetime (plus tolerance)."""

    def handle(request: ExchangeRequest) -> Reply:
        _, claims, _ = split(request.assertion)
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", now)
        iat = claims.get("iat", now)
        ok = (
            isinstance(exp, int | float)
            and exp > now - tolerance
            and nbf <= now + tolerance
            and ("nbf" not in claims or nbf < exp)
            and iat <= now + tolerance
            and exp - now <= max_lifetime + tolerance
        )
        return TOKEN if ok else REFUSED

    return handle


def run(
    case_id: str,
    handler: Callable[[ExchangeRequest], Reply],
    *,
    leeway_s: int | None = None,
    max_assertion_lifetime_s: int | None = None,
) -> tuple[CaseResult, Runtime]:
    settings = TargetSettings(
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        capabilities=CAPABILITIES,
        leeway_s=leeway_s,
        max_assertion_lifetime_s=max_assertion_lifetime_s,
    )
    runtime = Runtime(settings=settings, keyring=_KEYRING, target=FakeTarget(handler))
    return run_case(runtime, BY_ID[case_id]), runtime


def fact(runtime: Runtime, name: str) -> object:
    return runtime.facts[name]["value"]


@pytest.mark.parametrize(
    ("tolerance", "bracket"),
    [(0, "< 10"), (5, "< 10"), (12, "10–20"), (30, "20–45"), (120, "90–180"), (900, ">= 305")],
)
def test_the_clock_tolerance_is_bracketed(tolerance: int, bracket: str) -> None:
    result, rt = run("time.exp.tolerance_measured", server(tolerance))
    assert result.verdict == "pass"
    assert fact(rt, "clock_tolerance_s") == bracket
    result, rt = run("time.nbf.tolerance_measured", server(tolerance))
    assert (result.verdict, fact(rt, "nbf_tolerance_s")) == ("pass", bracket)


@pytest.mark.parametrize(
    ("max_lifetime", "bracket"),
    [(120, "< 300"), (600, "300–800"), (3600, "3000–4500"), (10**9, ">= 86400")],
)
def test_the_maximum_lifetime_is_bracketed(max_lifetime: int, bracket: str) -> None:
    result, rt = run("time.lifetime.measured", server(5, max_lifetime))
    assert (result.verdict, fact(rt, "max_assertion_lifetime_s")) == ("pass", bracket)


@pytest.mark.parametrize("tolerance", [0, 5, 15, 120])
def test_a_strict_or_moderate_tolerance_never_fails_without_a_declared_leeway(
    tolerance: int,
) -> None:
    ids = [i for i in BY_ID if i.startswith("time.") and ".value_" not in i]
    verdicts = {i: run(i, server(tolerance))[0].verdict for i in ids}
    assert not {i: v for i, v in verdicts.items() if v in {"fail", "error"}}


def test_beyond_the_hard_bound_fails_and_beyond_the_recommendation_warns() -> None:
    loose = server(4000)
    assert run("time.exp.past_5min", loose)[0].verdict == "fail"
    # iat age is hardening (docs/levels.md): a future iat alone only warns
    assert run("time.iat.future_1hour", loose)[0].verdict == "warn"
    assert run("time.exp.past_beyond_recommended", server(120))[0].verdict == "warn"
    assert run("time.exp.past_beyond_recommended", server(30))[0].verdict == "pass"
    assert run("time.exp.future_2hours", server(5, 86400))[0].verdict == "warn"
    assert run("time.exp.future_2hours", server(5, 3600))[0].verdict == "pass"


@pytest.mark.parametrize(
    "case_id",
    [
        "time.exp.past_inside_leeway",
        "time.exp.past_beyond_leeway",
        "time.nbf.future_inside_leeway",
        "time.iat.future_beyond_leeway",
        "time.skew.all_plus_62s",
        "time.replay.after_exp",
        "time.lifetime.under_max",
        "time.lifetime.over_max",
    ],
)
def test_two_sided_cases_skip_without_a_declared_value(case_id: str) -> None:
    result, _ = run(case_id, server(30))
    assert result.verdict == "skip"
    assert "is declared for this target" in result.message
    assert "measured by time." in result.message


def test_a_declared_leeway_is_an_expectation_and_strictness_only_warns() -> None:
    # declared 30 s: a target tolerating 120 s fails the must case beyond it
    assert run("time.exp.past_beyond_leeway", server(120), leeway_s=30)[0].verdict == "fail"
    # a target stricter than declared refuses the just-inside one: interop, a warning
    assert run("time.exp.past_inside_leeway", server(5), leeway_s=30)[0].verdict == "warn"
    assert run("time.exp.past_inside_leeway", server(30), leeway_s=30)[0].verdict == "pass"
    declared = {"leeway_s": 30, "max_assertion_lifetime_s": 600}
    assert run("time.lifetime.over_max", server(30, 600), **declared)[0].verdict == "pass"
    assert run("time.lifetime.over_max", server(30, 3600), **declared)[0].verdict == "warn"


def test_settings_default_to_not_declared() -> None:
    s = TargetSettings()
    assert (s.leeway_s, s.max_assertion_lifetime_s, s.max_token_lifetime_s) == (None,) * 3
    assert dataclasses.replace(s, leeway_s=30).leeway_s == 30
