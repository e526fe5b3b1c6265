"""The engine and the verdict function against the in-memory FakeTarget: no servers.

Each test scripts the target's answers and checks the verdict ``run_case`` settles on,
so that what decides a verdict is pinned without the emulator in the loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance._assertion import Assertion
from conformance._engine import (
    CaseResult,
    Context,
    Fail,
    Runtime,
    Skip,
    confirm_group,
    failure_message,
    run_case,
)
from conformance._keyring import Keyring
from conformance._settings import TargetSettings
from conformance._verdict import Policy
from conformance._waivers import load_waivers
from conformance.catalog._model import (
    CAPABILITIES,
    Case,
    CaseContext,
    Expect,
    Kind,
    Level,
    case,
)
from conformance.targets.base import Exchange, ExchangeRequest, Target
from conformance.targets.fake import FakeTarget, Reply, accept_all, reject_all

TOKEN = Reply(200, body='{"elevatedAccessToken": "[issued]"}', issued="issued-token")
REFUSED = Reply(401, body='{"error": "invalid assertion"}')

_KEYRING = Keyring(published_algs=("ES256",))


def runtime(
    handler: Callable[[ExchangeRequest], Reply],
    *,
    policy: Policy | None = None,
    capabilities: frozenset[str] = CAPABILITIES,
    target_capabilities: tuple[str, ...] | None = None,
    profile: str = "dynamic",
) -> Runtime:
    settings = TargetSettings(
        profile=profile,
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        capabilities=capabilities,
    )
    target = (
        FakeTarget(handler, profile=profile)
        if target_capabilities is None
        else FakeTarget(handler, profile=profile, capabilities=target_capabilities)
    )
    return Runtime(settings=settings, keyring=_KEYRING, target=target, policy=policy or Policy())


def controls_accepted(request: ExchangeRequest) -> Reply:
    """A correct target for the cases below: the control gets a token, the rest a 401."""
    return TOKEN if request.label in {"control", "baseline"} else REFUSED


def sends(
    label: str = "attempt",
    *,
    expect: Expect = Expect.REJECT,
    level: Level = Level.MUST,
    category: str = "claims",
    control: bool = True,
    needs: tuple[str, ...] = (),
) -> Case:
    """A case that sends one valid assertion labelled ``label`` and returns the answer."""

    def run(ctx: CaseContext) -> Exchange:
        return ctx.send(ctx.sign(ctx.assertion()), label=label)

    return case(
        f"test.engine.{label}",
        "one exchange",
        category=category,
        run=run,
        rationale="a test",
        expect=expect,
        level=level,
        control=control,
        needs=needs,
    )


def labels(result: CaseResult) -> list[str]:
    return [e.label for e in result.exchanges]


# -- judging one returned exchange ----------------------------------------------------------


def test_a_refusal_confirmed_by_its_positive_control_passes() -> None:
    result = run_case(runtime(controls_accepted), sends())
    assert (result.verdict, result.judged, result.outcome) == ("pass", "pass", "rejected")
    assert labels(result) == ["attempt", "control"]


def test_a_case_that_fails_by_its_own_check_after_sending_is_judged_not_none() -> None:
    """A recipe that sends, then raises Fail (a listener saw a fetch) or Skip mid-case:
    its outcome is "judged" (schema: "none" means nothing was sent), as the report shows."""

    def run(ctx: CaseContext) -> Exchange:
        ctx.send(ctx.sign(ctx.assertion()), label="attempt")
        raise Fail("the target fetched the URL planted in the token")

    failing = case("test.engine.oob", "t", category="header", run=run, rationale="r")
    result = run_case(runtime(controls_accepted), failing)
    assert (result.verdict, result.outcome) == ("fail", "judged")
    skipped = run_case(
        runtime(accept_all, capabilities=frozenset()), sends(needs=("attacker_host",))
    )
    assert (skipped.verdict, skipped.outcome, skipped.exchanges) == ("skip", "none", ())


def test_a_refusal_whose_positive_control_is_refused_is_an_error() -> None:
    # A target that refuses everything would otherwise pass every negative case.
    result = run_case(runtime(reject_all), sends())
    assert result.verdict == "error"
    assert "positive control" in result.message and "proves nothing" in result.message
    assert labels(result) == ["attempt", "control"]


def test_a_case_without_control_does_not_send_one() -> None:
    result = run_case(runtime(reject_all), sends(control=False))
    assert result.verdict == "pass"
    assert labels(result) == ["attempt"]


def test_a_token_for_a_negative_is_a_fail_and_sends_no_control() -> None:
    result = run_case(runtime(accept_all), sends())
    assert (result.verdict, result.outcome) == ("fail", "accepted")
    assert result.message.startswith("accepted it: HTTP 200, issued a token")
    assert labels(result) == ["attempt"]


def test_a_refusal_of_what_must_be_accepted_is_a_fail() -> None:
    result = run_case(runtime(reject_all), sends(expect=Expect.ACCEPT))
    assert result.judged == "fail"  # settled as warn: see the interop test below
    assert result.message.startswith("refused it: HTTP 401")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply(500, body="boom"), "HTTP 500"),
        (Reply(429, body="slow down"), "HTTP 429"),
        (Reply(None, error="timeout after 10 s"), "no answer (timeout after 10 s)"),
        (Reply(200, body="{}"), "HTTP 200, issued no token"),
        (Reply(302, body=""), "HTTP 302"),
    ],
)
def test_an_answer_that_proves_nothing_is_an_error(reply: Reply, why: str) -> None:
    for expect in Expect:
        result = run_case(runtime(lambda r, reply=reply: reply), sends(expect=expect))
        assert result.verdict == "error", expect
        assert why in result.message


def test_either_passes_both_ways_but_not_a_5xx() -> None:
    either = sends(expect=Expect.EITHER)
    assert run_case(runtime(accept_all), either).verdict == "pass"
    assert run_case(runtime(controls_accepted), either).verdict == "pass"
    assert run_case(runtime(lambda r: Reply(503)), either).verdict == "error"


def test_a_clock_case_answered_after_retries_is_an_error() -> None:
    delayed = Reply(401, body="{}", retries=2)

    def handler(request: ExchangeRequest) -> Reply:
        return TOKEN if request.label == "control" else delayed

    result = run_case(runtime(handler), sends(category="time"))
    assert result.verdict == "error"
    assert "2 rate-limit retries" in result.message
    # outside the clock cases the same answer is a verdict like any other
    assert run_case(runtime(handler), sends()).verdict == "pass"


# -- self-judged recipes, skips and broken recipes ------------------------------------------


def self_judged(check: Callable[[CaseContext, Exchange], None]) -> Case:
    def run(ctx: CaseContext) -> None:
        check(ctx, ctx.send(ctx.sign(ctx.assertion()), label="first"))

    return case("test.engine.self", "self-judged", category="replay", run=run, rationale="t")


def test_a_self_judged_case_ending_on_a_refusal_is_confirmed() -> None:
    result = run_case(runtime(reject_all), self_judged(lambda ctx, e: None))
    assert result.outcome == "judged"
    assert result.verdict == "error" and "positive control" in result.message


def test_a_recipe_decides_fail_skip_and_error_itself() -> None:
    rt = runtime(accept_all)
    fail = run_case(rt, self_judged(lambda ctx, e: ctx.check(False, "kept the jti")))
    skip = run_case(rt, self_judged(lambda ctx, e: ctx.skip("no second user")))
    error = run_case(rt, self_judged(lambda ctx, e: ctx.error("502 from the proxy")))
    assert [(r.verdict, r.message) for r in (fail, skip, error)] == [
        ("fail", "kept the jti"),
        ("skip", "no second user"),
        ("error", "502 from the proxy"),
    ]


def test_a_broken_recipe_is_an_error_with_its_reason() -> None:
    def run(ctx: CaseContext) -> Exchange:
        raise KeyError("missing")

    broken = case("test.engine.broken", "broken", category="claims", run=run, rationale="t")
    result = run_case(runtime(accept_all), broken)
    assert result.verdict == "error"
    assert result.message == "the case could not run: KeyError: 'missing'"


def test_a_missing_capability_skips_before_anything_is_sent() -> None:
    rt = runtime(accept_all, capabilities=CAPABILITIES - {"jwks_host"})
    result = run_case(rt, sends(needs=("jwks_host",)))
    assert result.verdict == "skip" and "jwks_host" in result.message
    assert rt.target.requests == []  # type: ignore[attr-defined]


def test_target_calls_count_only_when_the_target_offers_them() -> None:
    # settings may list every capability; of the target's optional calls, only those
    # the target advertises are usable
    rt = runtime(accept_all, target_capabilities=("races",))
    assert "races" in rt.capabilities
    assert {"sessions", "logout", "token_jwks", "sign_in"}.isdisjoint(rt.capabilities)
    assert "jwks_host" in rt.capabilities
    ctx = Context(rt, sends())
    for call in (
        lambda: ctx.token_jwks(),
        lambda: ctx.sign_in_exchange("a.b.c"),
        lambda: ctx.session(0),
    ):
        with pytest.raises(Skip, match="needs capability"):
            call()


def test_a_race_goes_through_the_target_and_is_recorded() -> None:
    rt = runtime(controls_accepted)
    ctx = Context(rt, sends())
    results = ctx.race("a.b.c", 3)
    assert [e.label for e in ctx.exchanges] == ["race-0", "race-1", "race-2"]
    assert list(results) == ctx.exchanges  # what is returned is what is recorded
    requests = rt.target.requests  # type: ignore[attr-defined]
    assert [r.assertion for r in requests] == ["a.b.c"] * 3
    assert all(r.session is not None for r in requests)  # sent as signed-in user A


def test_a_supplied_session_is_never_logged_out() -> None:
    settings = TargetSettings(issuer="i", capabilities=CAPABILITIES)
    target = FakeTarget(accept_all, supplied_subjects=settings.subjects[:1])
    rt = Runtime(settings=settings, keyring=_KEYRING, target=target)
    ctx = Context(rt, sends())
    with pytest.raises(Skip, match="never logged out"):
        ctx.logout(ctx.session(0))
    with pytest.raises(Skip, match="supplied, not signed in"):
        ctx.fresh_session(0)


def test_send_builds_one_request_with_user_a_session_unless_anonymous() -> None:
    rt = runtime(accept_all)
    ctx = Context(rt, sends())
    ctx.send("t1", headers={"x-a": "1"}, fields={"jwt": None, "other": "v"}, label="one")
    ctx.send("t2", anonymous=True, raw_body=b"{}", content_type="text/plain")
    first, second = rt.target.requests  # type: ignore[attr-defined]
    assert first.session is not None and first.session.subject == rt.settings.subjects[0]
    assert (first.label, dict(first.headers), dict(first.fields)) == (
        "one",
        {"x-a": "1"},
        {"jwt": None, "other": "v"},
    )
    assert second.session is None
    assert (second.raw_body, second.content_type) == (b"{}", "text/plain")


# -- settling: strict, waivers ----------------------------------------------------------------


def test_a_should_failure_is_a_warning_unless_strict() -> None:
    should = sends(level=Level.SHOULD)
    lenient = run_case(runtime(accept_all), should)
    strict = run_case(runtime(accept_all, policy=Policy(strict=True)), should)
    assert (lenient.verdict, lenient.judged) == ("warn", "fail")
    assert (strict.verdict, strict.judged) == ("fail", "fail")
    # a must failure is a failure either way
    assert run_case(runtime(accept_all), sends()).verdict == "fail"


def test_an_interop_failure_is_a_warning_unless_strict() -> None:
    """Refusing what a correct target accepts is stricter than needed, never a security
    failure: a must case of kind interop warns, and fails only a strict run."""
    interop = sends(expect=Expect.ACCEPT)
    assert interop.kind is Kind.INTEROP and interop.level is Level.MUST
    lenient = run_case(runtime(reject_all), interop)
    strict = run_case(runtime(reject_all, policy=Policy(strict=True)), interop)
    assert (lenient.verdict, lenient.judged) == ("warn", "fail")
    assert strict.verdict == "fail"
    assert sends().kind is Kind.SECURITY


def waivers(tmp_path: Path, case_id: str, expires: dt.date) -> Policy:
    path = tmp_path / "waivers.toml"
    path.write_text(
        f'[[waiver]]\nid = "{case_id}"\nreason = "accepted"\nowner = "sec@example.com"\n'
        f"expires = {expires.isoformat()}\n"
    )
    return Policy(waivers=load_waivers(path))


def test_an_active_waiver_waives_and_an_expired_one_fails(tmp_path: Path) -> None:
    today = dt.date.today()
    kase = sends()
    active = run_case(runtime(accept_all, policy=waivers(tmp_path, kase.id, today)), kase)
    expired_policy = waivers(tmp_path, kase.id, today - dt.timedelta(days=1))
    expired = run_case(runtime(accept_all, policy=expired_policy), kase)
    assert (active.verdict, active.judged) == ("waived", "fail")
    assert active.waiver is not None and active.waiver["state"] == "active"
    assert expired.verdict == "fail"
    assert expired.waiver is not None and expired.waiver["state"] == "expired"


def test_a_waiver_never_hides_an_error_and_goes_stale_on_a_pass(tmp_path: Path) -> None:
    kase = sends()
    policy = waivers(tmp_path, "test.engine.*", dt.date.today())
    errored = run_case(runtime(lambda r: Reply(500), policy=policy), kase)
    passed = run_case(runtime(controls_accepted, policy=policy), kase)
    assert errored.verdict == "error" and errored.waiver is not None
    assert errored.waiver["state"] == "not_applied"
    assert passed.verdict == "pass" and passed.waiver is not None
    assert passed.waiver["state"] == "stale"
    assert policy.waivers.unused(["test.engine.attempt"]) == ()
    assert [w.id for w in policy.waivers.unused(["claims.other"])] == ["test.engine.*"]


# -- what a failure says -----------------------------------------------------------------------


def test_the_failure_message_fits_one_screen_and_reproduces() -> None:
    result = run_case(runtime(accept_all), sends())
    text = failure_message(result, rerun="pytest --pyargs conformance.suite --conformance-id x")
    lines = text.splitlines()
    assert lines[0] == "[test.engine.attempt] one exchange (must, high)"
    assert lines[1] == "A correct endpoint: refuses it with a 4xx and issues no token"
    assert lines[2].startswith("This endpoint:      accepted it: HTTP 200")
    assert any(line.startswith("Reproduce:          curl -sS -X POST") for line in lines)
    assert lines[-1].strip().endswith("--conformance-id x")


def test_fake_evidence_is_redacted_like_a_real_targets() -> None:
    """Results trust the evidence is clean: a scripted answer that echoes secrets is cut
    exactly as an HTTP target's is."""
    from conformance._results import case_record

    signed = Context(runtime(accept_all), sends()).sign(Assertion(sub="a", jti="j"))
    signature = signed.rsplit(".", 1)[1]

    def echo(request: ExchangeRequest) -> Reply:
        return Reply(200, body=f'{{"echo": "{request.assertion}"}}', issued="opaque-issued-1")

    rt = runtime(echo)
    result = run_case(rt, sends(expect=Expect.ACCEPT))
    ctx = Context(rt, sends())
    ctx.send(signed, headers={"x-dyn-elevated-access-token": "opaque-issued-1"})
    text = repr(case_record(result, nodeid="n")) + repr([vars_of(e) for e in ctx.exchanges])
    session = rt.session(0).token
    for secret in (signature, session, "opaque-issued-1"):
        assert secret not in text
    request = ExchangeRequest.of(signed, raw_body=signed.encode(), headers={"a": session})
    assert signature not in repr(request) and session not in repr(request)


def vars_of(exchange: Exchange) -> dict[str, object]:
    return {
        "request_headers": dict(exchange.request_headers),
        "response_body": exchange.response_body,
        "response_headers": dict(exchange.response_headers),
    }


def test_the_fake_target_satisfies_the_protocol() -> None:
    assert isinstance(FakeTarget(accept_all), Target)
    with pytest.raises(ValueError, match="unknown capabilities"):
        FakeTarget(accept_all, capabilities=("teleport",))


# -- property cases: the shrunk example, and a 5xx is an error ---------------------------


def _property_runtime(handler: Callable[[ExchangeRequest], Reply]) -> Runtime:
    from conformance._settings import PropertySettings

    rt = runtime(handler)
    rt.properties = PropertySettings(examples=30, seed=7)
    return rt


def test_a_property_failure_reports_the_shrunk_example_its_seed_and_blob() -> None:
    from conformance._redact import decode_token
    from conformance.catalog import BY_ID

    result = run_case(_property_runtime(accept_all), BY_ID["claims.property.oracle"])
    assert result.verdict == "fail"
    # the example reported is the one Hypothesis replayed last, after shrinking
    assert result.exchanges[-1].label == "shrunk example"
    shrunk = decode_token(result.exchanges[-1].assertion)
    assert shrunk is not None
    assert f"'jti': {shrunk['claims']['jti']!r}" in result.message
    first_failing = [e for e in result.exchanges if e.label == "example"]
    assert all(
        (d := decode_token(e.assertion)) is None or d["claims"].get("jti") not in result.message
        for e in first_failing
    )
    assert "--hypothesis-seed=7" in result.message
    assert "@reproduce_failure(" in result.message


def test_a_5xx_in_a_drawn_example_is_an_error_not_a_failure() -> None:
    from conformance.catalog import BY_ID

    def crashes(request: ExchangeRequest) -> Reply:
        return Reply(500, body="boom") if request.label != "control" else TOKEN

    result = run_case(_property_runtime(crashes), BY_ID["header.property.oracle"])
    assert result.verdict == "error" and result.judged == "error"
    assert result.message.startswith("the target misbehaved (HTTP 500) on header=")
    assert "the shrunk example" in result.message


# -- one positive control for a group of rejections -----------------------------------------


def _deferred(rt: Runtime, cases: list[Case]) -> list[CaseResult]:
    results = [run_case(rt, c, defer_control=True) for c in cases]
    assert all(r.unconfirmed and r.verdict == "pass" for r in results)
    return results


def test_a_group_of_rejections_shares_one_positive_control() -> None:
    rt = runtime(controls_accepted)
    group = _deferred(rt, [sends(f"attempt-{i}") for i in range(3)])
    confirmed = confirm_group(rt, group)
    assert [r.verdict for r in confirmed] == ["pass"] * 3
    assert not any(r.unconfirmed for r in confirmed)
    sent = [r.label for r in rt.target.requests]  # type: ignore[attr-defined]
    assert sent == ["attempt-0", "attempt-1", "attempt-2", "control"]
    assert all(labels(r)[-1] == "control" for r in confirmed)  # the proof is in each one's evidence
    assert sum(r.requests for r in confirmed) == pytest.approx(len(sent))


def test_a_target_that_refuses_everything_mid_group_gets_every_rejection_re_checked() -> None:
    # A correct target for the first two cases, then one that refuses everything, the
    # positive controls included: the group's control is refused, so each case is run
    # again on its own with its own control, and none of them passes on a refusal that
    # proves nothing.
    answered = 0

    def breaks_after_two(request: ExchangeRequest) -> Reply:
        nonlocal answered
        answered += 1
        if answered > 2:
            return REFUSED
        return controls_accepted(request)

    rt = runtime(breaks_after_two)
    cases = [sends(f"attempt-{i}") for i in range(4)]
    confirmed = confirm_group(rt, _deferred(rt, cases))
    assert [r.case.id for r in confirmed] == [c.id for c in cases]
    assert [r.verdict for r in confirmed] == ["error"] * 4
    assert all("re-checked on its own" in r.message for r in confirmed)
    sent = [r.label for r in rt.target.requests]  # type: ignore[attr-defined]
    # the four rejections, the shared control, then each case again with its own control
    assert sent[:5] == ["attempt-0", "attempt-1", "attempt-2", "attempt-3", "control"]
    assert sent[5:] == [x for i in range(4) for x in (f"attempt-{i}", "control")]
    assert sum(r.requests for r in confirmed) == pytest.approx(len(sent))


def test_a_group_control_refused_by_a_target_that_recovered_re_checks_to_a_pass() -> None:
    refused_once = False

    def refuses_one_control(request: ExchangeRequest) -> Reply:
        nonlocal refused_once
        if request.label == "control" and not refused_once:
            refused_once = True
            return REFUSED
        return controls_accepted(request)

    rt = runtime(refuses_one_control)
    confirmed = confirm_group(rt, _deferred(rt, [sends("a"), sends("b")]))
    assert [r.verdict for r in confirmed] == ["pass", "pass"]
    again = [["a", "control", "a", "control"], ["b", "control", "b", "control"]]
    assert [labels(r) for r in confirmed] == again


# -- a case's own acceptance after its rejection is its positive control ---------------------


def then_restores(restore: str) -> Case:
    """Refused attempt, then the case's own second assertion (labelled ``restore``)."""

    def run(ctx: CaseContext) -> Exchange:
        attempt = ctx.send(ctx.sign(ctx.assertion()), label="attempt")
        ctx.send(ctx.sign(ctx.assertion()), label=restore)
        return attempt

    return case("test.engine.restores", "restores", category="keys", run=run, rationale="t")


def test_an_acceptance_after_the_rejection_in_the_case_is_its_control() -> None:
    def handler(request: ExchangeRequest) -> Reply:
        return TOKEN if request.label in {"restored", "control", "baseline"} else REFUSED

    result = run_case(runtime(handler), then_restores("restored"))
    assert result.verdict == "pass"
    assert labels(result) == ["attempt", "restored"]


def test_an_acceptance_long_after_the_rejection_is_no_control() -> None:
    """A restoration accepted a minute after the refusal (a slow key cache) proves less
    of it than a control right after: the engine sends its own."""
    import dataclasses

    def run(ctx: CaseContext) -> Exchange:
        attempt = ctx.send(ctx.sign(ctx.assertion()), label="attempt")
        late = ctx.send(ctx.sign(ctx.assertion()), label="restored")
        assert attempt.sent_at is not None
        exchanges = ctx.exchanges  # type: ignore[attr-defined]
        exchanges[-1] = dataclasses.replace(late, sent_at=attempt.sent_at + 60)
        return attempt

    slow = case("test.engine.slow_restore", "restores", category="keys", run=run, rationale="t")

    def handler(request: ExchangeRequest) -> Reply:
        return TOKEN if request.label in {"restored", "control", "baseline"} else REFUSED

    result = run_case(runtime(handler), slow)
    assert result.verdict == "pass"
    assert labels(result) == ["attempt", "restored", "control"]


def test_a_refusal_after_the_rejection_in_the_case_still_needs_a_control() -> None:
    result = run_case(runtime(controls_accepted), then_restores("refused again"))
    assert result.verdict == "pass"
    assert labels(result) == ["attempt", "refused again", "control"]
    refuse_all = run_case(runtime(reject_all), then_restores("refused again"))
    assert refuse_all.verdict == "error" and "positive control" in refuse_all.message


def test_a_property_case_does_not_fail_a_target_stricter_than_its_oracle() -> None:
    """Refusing every drawn example (valid ones included) gains an attacker nothing: the
    case passes and the refusals of valid examples are a fact."""
    from conformance.catalog import BY_ID

    def strict(request: ExchangeRequest) -> Reply:
        return TOKEN if request.label == "control" else REFUSED

    rt = _property_runtime(strict)
    result = run_case(rt, BY_ID["claims.property.oracle"])
    assert result.verdict == "pass", result.message
    fact = rt.facts["claims_property_valid_examples_refused"]
    assert fact["value"] >= 1 and "stricter than needed" in fact["detail"]
