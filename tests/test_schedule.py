"""The scheduler against the in-memory FakeTarget: waits overlap, isolation holds, and
rejections share their positive controls. Orders of requests are asserted, never times."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from conformance import _schedule as schedule
from conformance import forge
from conformance._engine import Runtime
from conformance._keyring import Keyring
from conformance._schedule import ALONE_IDS, HELD_MAX, Scheduler, depends_on_jwks, lane
from conformance._settings import TargetSettings
from conformance.catalog import BY_ID
from conformance.catalog._model import CAPABILITIES, Case, CaseContext, Expect, case
from conformance.targets.base import Exchange, ExchangeRequest
from conformance.targets.fake import FakeTarget, Handler, Reply

TOKEN = Reply(200, body='{"elevatedAccessToken": "[issued]"}', issued="issued-token")
REFUSED = Reply(401, body='{"error": "invalid assertion"}')
_KEYRING = Keyring(published_algs=("ES256",))


def runtime(handler: Handler) -> Runtime:
    settings = TargetSettings(
        profile="dynamic",
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        capabilities=CAPABILITIES,
    )
    return Runtime(settings=settings, keyring=_KEYRING, target=FakeTarget(handler))


def controls_accepted(request: ExchangeRequest) -> Reply:
    return TOKEN if request.label == "control" else REFUSED


def waits(
    name: str, *, seconds: float = 0.4, needs: Sequence[str] = (), expect: Expect = Expect.REJECT
) -> Case:
    """A case that sends ``<name>-before``, waits with ``ctx.sleep``, sends ``<name>-after``."""

    def run(ctx: CaseContext) -> Exchange:
        ctx.send(ctx.sign(ctx.assertion()), label=f"{name}-before")
        ctx.sleep(seconds)
        return ctx.send(ctx.sign(ctx.assertion()), label=f"{name}-after")

    return case(
        f"test.schedule.{name}", name, category="claims", run=run, rationale="a test",
        needs=needs, expect=expect,
    )  # fmt: skip


def quick(name: str, *, needs: Sequence[str] = ()) -> Case:
    def run(ctx: CaseContext) -> Exchange:
        return ctx.send(ctx.sign(ctx.assertion()), label=name)

    return case(
        f"test.schedule.{name}", name, category="claims", run=run, rationale="a test",
        needs=needs,
    )  # fmt: skip


def run_all(rt: Runtime, cases: list[Case]) -> tuple[list[str], dict[str, str]]:
    scheduler = Scheduler(rt, cases).start()
    verdicts: dict[str, str] = {}
    for c in cases:
        result = scheduler.result(c.id)
        assert result is not None
        verdicts[c.id] = result.verdict
    scheduler.join()
    return [r.label for r in rt.target.requests], verdicts  # type: ignore[attr-defined]


def test_a_waiting_case_lets_the_next_ones_run_meanwhile() -> None:
    rt = runtime(controls_accepted)
    sent, verdicts = run_all(rt, [waits("slow"), quick("one"), quick("two")])
    assert sent.index("one") < sent.index("slow-after")
    assert sent.index("two") < sent.index("slow-after")
    assert set(verdicts.values()) == {"pass"}
    assert sent.count("control") == 1  # three rejections, one positive control after all


def test_cases_using_the_jwks_host_never_overlap_each_other() -> None:
    rt = runtime(controls_accepted)
    jwks = ("jwks_host",)
    cases = [waits("a", needs=jwks), waits("b", needs=jwks)]
    assert {lane(c) for c in cases} == {"jwks"}
    sent, _ = run_all(rt, cases)
    assert [s for s in sent if s != "control"] == ["a-before", "a-after", "b-before", "b-after"]


def test_a_bursting_case_runs_with_nothing_else_in_flight() -> None:
    rt = runtime(controls_accepted)
    burst = quick("burst", needs=("bursts",))
    assert lane(burst) == "alone"
    sent, _ = run_all(rt, [burst, waits("slow"), waits("keys", needs=("jwks_host",))])
    before = sent[: sent.index("burst")]
    assert {"slow-after", "keys-after"} <= set(before)  # both finished before it started


@pytest.mark.parametrize(
    ("group_max_s", "expected"),
    [
        # 3 s an answer: the group closes once its first rejection is 5 s old
        (5.0, ["a", "b", "c", "control", "d", "e", "control"]),
        (math.inf, ["a", "b", "c", "d", "e", "control"]),  # bounded by count only
    ],
)
def test_a_group_of_rejections_closes_by_time_against_a_slow_target(
    group_max_s: float, expected: list[str]
) -> None:
    """A control long after a rejection proves less of it: the group closes after
    ``group_max_s`` of the scheduler's clock (a fake one: no time is measured here)."""
    now = [0.0]

    def slow(request: ExchangeRequest) -> Reply:
        now[0] += 3.0
        return controls_accepted(request)

    rt = runtime(slow)
    cases = [quick(name) for name in "abcde"]
    scheduler = Scheduler(rt, cases, group_max_s=group_max_s)
    scheduler.clock = lambda: now[0]
    scheduler.start()
    verdicts = {c.id: getattr(scheduler.result(c.id), "verdict", None) for c in cases}
    scheduler.join()
    assert set(verdicts.values()) == {"pass"}
    assert [r.label for r in rt.target.requests] == expected  # type: ignore[attr-defined]


def test_a_stopped_scheduler_hands_out_nothing_and_the_item_runs_its_case() -> None:
    rt = runtime(controls_accepted)
    scheduler = Scheduler(rt, [quick("never")], halted=lambda: True).start()
    assert scheduler.result("test.schedule.never") is None
    assert rt.target.requests == []  # type: ignore[attr-defined]


def test_a_failed_wait_case_is_not_held_for_a_control() -> None:
    def accepts_slow(request: ExchangeRequest) -> Reply:
        return controls_accepted(request) if "slow" not in request.label else TOKEN

    rt = runtime(accepts_slow)
    _, verdicts = run_all(rt, [waits("slow"), quick("one")])
    assert verdicts == {"test.schedule.slow": "fail", "test.schedule.one": "pass"}


def no_kid(name: str) -> Case:
    """A case whose token carries no kid: the target's choice of key depends on its JWKS."""

    def run(ctx: CaseContext) -> Exchange:
        ctx.send(ctx.sign(ctx.assertion()), label=f"{name}-kid")
        token = ctx.sign(ctx.assertion())
        head = forge.compact(
            {"alg": "ES256", "typ": "JWT"}, {"sub": "x"}, key=ctx.keyring.trusted("ES256")
        ).split(".")[0]
        return ctx.send(".".join([head, *token.split(".")[1:]]), label=f"{name}-nokid")

    return case(
        f"test.schedule.{name}", name, category="claims", run=run, rationale="a test"
    )  # fmt: skip


def test_a_case_that_meets_the_running_jwks_lane_mid_case_runs_again_after_it() -> None:
    rt = runtime(controls_accepted)
    jwks = ("jwks_host",)
    cases = [no_kid("early"), waits("keys", needs=jwks), quick("free")]
    scheduler = Scheduler(rt, cases).start()
    early = scheduler.result("test.schedule.early")
    for case_ in cases[1:]:
        scheduler.result(case_.id)
    sent = [r.label for r in rt.target.requests]  # type: ignore[attr-defined]
    # the JWKS lane starts first; "early" sent its trusted-kid token, then stopped before
    # its token without kid instead of holding it, and ran again, whole, after the lane
    assert sent.index("early-kid") < sent.index("keys-after")
    assert sent.count("early-kid") == 2 and sent.count("early-nokid") == 1
    assert sent.index("keys-after") < sent.index("early-nokid")
    assert sent.index("free") < sent.index("keys-after")  # the next case did not wait
    assert early is not None and early.verdict == "pass"
    assert [e.label for e in early.exchanges][:2] == ["early-kid", "early-nokid"]
    assert math.floor(early.requests) == 3  # its first try's request counts too


def test_every_jwks_case_runs_before_a_send_that_depends_on_the_jwks() -> None:
    rt = runtime(controls_accepted)
    jwks = ("jwks_host",)
    plan = [waits("k1", needs=jwks), no_kid("mid"), waits("k2", needs=jwks), quick("after")]
    sent, _ = run_all(rt, plan)
    assert sent.index("k1-after") < sent.index("k2-before") < sent.index("k2-after")
    assert sent.index("k2-after") < sent.index("mid-nokid")
    assert sent.index("after") < sent.index("k2-after")  # the main lane went on beside


def test_the_execution_order_starts_long_waits_then_the_jwks_lane_and_ends_with_dependents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule, "WAITS_FIRST", ("test.schedule.long",))
    monkeypatch.setattr(schedule, "JWKS_DEPENDENT", ("test.schedule.dep*",))
    jwks = ("jwks_host",)
    plan = [
        quick("a"), no_kid("dep1"), waits("k1", needs=jwks), quick("b"),
        waits("long"), quick("burst", needs=("bursts",)), waits("k2", needs=jwks),
        quick("dep2"), quick("c"),
    ]  # fmt: skip
    order = [c.id.rpartition(".")[2] for c in schedule.execution_order(plan)]
    assert order == ["long", "k1", "k2", "a", "b", "burst", "c", "dep1", "dep2"]


def test_a_case_that_depends_on_the_jwks_from_its_start_waits_before_it_builds_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule, "JWKS_DEPENDENT", ("test.schedule.dep*",))
    rt = runtime(controls_accepted)
    sent, _ = run_all(rt, [no_kid("dep"), waits("keys", needs=("jwks_host",)), quick("free")])
    assert sent.count("dep-kid") == 1  # never put back: it waited from its start
    assert sent.index("keys-after") < sent.index("dep-kid") < sent.index("dep-nokid")
    assert sent.index("free") < sent.index("keys-after")


def test_only_tokens_naming_a_trusted_key_bypass_the_gate() -> None:
    stable = frozenset({"trusted-es256-1"})
    key = _KEYRING.trusted("ES256")
    claims = {"sub": "x"}
    assert not depends_on_jwks(
        forge.compact({"alg": "ES256", "kid": key.kid}, claims, key=key), stable
    )
    for header in ({"alg": "ES256"}, {"alg": "ES256", "kid": "rotation-es256-2"},
                   {"alg": "ES256", "kid": key.kid, "jku": "https://x"}):  # fmt: skip
        assert depends_on_jwks(forge.compact(header, claims, key=key), stable)
    assert depends_on_jwks("not a token", stable)
    for kid in (["trusted-es256-1"], {"$ne": ""}, 1):  # any JSON, never a crash
        assert depends_on_jwks(forge.compact({"alg": "ES256", "kid": kid}, claims, key=key), stable)


def test_no_more_than_held_max_cases_wait_at_the_gate_while_the_lane_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule, "JWKS_DEPENDENT", ("test.schedule.held*",))
    rt = runtime(controls_accepted)
    held = [no_kid(f"held{i}") for i in range(HELD_MAX + 1)]
    sent, _ = run_all(rt, [waits("keys", needs=("jwks_host",)), *held, quick("heldfree")])
    # HELD_MAX of them wait aside, the next one holds the lane: "heldfree" waits for the gate
    assert sent.index("keys-after") < sent.index("heldfree")
    assert all(sent.index("keys-after") < sent.index(f"held{i}-kid") for i in range(HELD_MAX + 1))


def test_the_cases_that_count_events_in_a_window_run_alone_in_their_place() -> None:
    assert "keys.random_kid_flood" in ALONE_IDS  # it counts JWKS fetches in a window
    assert lane(BY_ID["keys.random_kid_flood"]) == "jwks"
    assert lane(BY_ID["keys.rotation.new_kid"]) == "jwks"
    assert lane(BY_ID["time.replay.after_exp"]) == "main"


def test_a_stopping_run_ends_the_waits_under_way_in_an_error() -> None:
    def accepts_next(request: ExchangeRequest) -> Reply:
        return TOKEN if request.label == "next" else REFUSED  # "next" fails: no control

    rt = runtime(accepts_next)
    slow = waits("slow", seconds=600)
    scheduler = Scheduler(rt, [slow, quick("next")]).start()
    assert scheduler.result("test.schedule.next") is not None  # "slow" is waiting by now
    scheduler.close()
    result = scheduler.result("test.schedule.slow")
    assert result is not None and result.verdict == "error"
    assert "the run stopped during this case's wait" in result.message
    assert "slow-after" not in [r.label for r in rt.target.requests]  # type: ignore[attr-defined]


def test_a_jwks_case_that_counts_events_pauses_the_main_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = runtime(controls_accepted)
    counting = quick("count", needs=("jwks_host",))
    monkeypatch.setattr(schedule, "ALONE_IDS", frozenset({counting.id}))
    monkeypatch.setattr(schedule, "WAITS_FIRST", ("test.schedule.early",))
    plan = [counting, *[quick(f"m{i}") for i in range(5)], waits("early", seconds=0.3)]
    sent, _ = run_all(rt, plan)
    # "early" was waiting when "count" started; nothing after it in the plan ran meanwhile
    assert sent.index("early-before") < sent.index("count")
    assert all(sent.index("count") < sent.index(f"m{i}") for i in range(5))


def test_the_hygiene_cases_judge_every_refusal_of_the_run_after_all_lanes() -> None:
    """They judge the run's log of refusals: a main case still waiting when they come up
    and the alone lane (which runs after the main lane) must both be in it."""

    def leaks(request: ExchangeRequest) -> Reply:
        if request.label == "control":
            return TOKEN
        return Reply(401, body='{"error": "Traceback (most recent call last)"}')

    rt = runtime(leaks)
    hygiene = BY_ID["errors.hygiene.every_refusal_discloses_nothing"]
    assert lane(hygiene) == "last"
    cases = [waits("slow"), quick("burst", needs=("bursts",)), hygiene]
    sent, verdicts = run_all(rt, cases)
    assert sent.index("slow-after") < sent.index("probe: markup in kid")
    assert sent.index("burst") < sent.index("probe: markup in kid")
    assert verdicts[hygiene.id] == "fail"
    assert rt.refusals.checked == 5  # slow-before, slow-after, burst, the two probes
