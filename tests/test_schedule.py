"""The scheduler against the in-memory FakeTarget: waits overlap, isolation holds, and
rejections share their positive controls. Orders of requests are asserted, never times."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import pytest

from conformance import _schedule as schedule
from conformance import forge
from conformance._engine import CaseResult, IsolatedEnvironment, Runtime, run_case
from conformance._keyring import Keyring
from conformance._schedule import Scheduler, lane
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


def test_no_main_lane_request_is_sent_while_the_jwks_lane_runs() -> None:
    """A JWKS case may leave a correct target without its key set for a while (an empty
    JWKS, a key set it refused whole): a valid assertion sent meanwhile would be refused."""
    rt = runtime(controls_accepted)
    jwks = ("jwks_host",)
    plan = [quick("m1"), waits("k1", needs=jwks), no_kid("m2"), waits("k2", needs=jwks)]
    sent, verdicts = run_all(rt, plan)
    lane_ = ["k1-before", "k1-after", "k2-before", "k2-after"]
    assert [s for s in sent if s in lane_] == lane_
    for label in ("m1", "m2-kid", "m2-nokid"):
        assert sent.index("k2-after") < sent.index(label)  # the lane first, whole
    assert set(verdicts.values()) == {"pass"}


def test_the_execution_order_starts_long_waits_then_the_jwks_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule, "WAITS_FIRST", ("test.schedule.long",))
    jwks = ("jwks_host",)
    plan = [
        quick("a"), no_kid("b"), waits("k1", needs=jwks), waits("long"),
        quick("burst", needs=("bursts",)), waits("k2", needs=jwks), quick("c"),
    ]  # fmt: skip
    order = [c.id.rpartition(".")[2] for c in schedule.execution_order(plan)]
    assert order == ["long", "k1", "k2", "a", "b", "burst", "c"]


def _early_wait_beside_the_lane(
    monkeypatch: pytest.MonkeyPatch, *, lane_s: float
) -> tuple[list[str], CaseResult | None]:
    """A JWKS case waiting ``lane_s`` and a long-wait case ("early", 0.1 s) started before
    it: the requests sent, in order, and the long-wait case's result."""
    monkeypatch.setattr(schedule, "WAITS_FIRST", ("test.schedule.early",))
    rt = runtime(controls_accepted)
    plan = [waits("keys", seconds=lane_s, needs=("jwks_host",)), waits("early", seconds=0.1)]
    scheduler = Scheduler(rt, plan).start()
    early = scheduler.result("test.schedule.early")
    scheduler.result("test.schedule.keys")
    return [r.label for r in rt.target.requests], early  # type: ignore[attr-defined]


def test_a_long_wait_overlaps_the_jwks_lane_and_holds_its_request_until_the_lane_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent, early = _early_wait_beside_the_lane(monkeypatch, lane_s=0.4)
    # "early" waited beside the lane; its wait ended first, its request waited for the lane
    assert sent.index("early-before") < sent.index("keys-before")
    assert sent.index("keys-after") < sent.index("early-after")
    assert sent.count("early-before") == 1  # held, not run again
    assert early is not None and early.verdict == "pass"


def test_a_request_held_longer_than_hold_s_runs_its_case_again_after_the_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schedule, "HOLD_S", 0.05)
    sent, early = _early_wait_beside_the_lane(monkeypatch, lane_s=0.6)
    # its token would have waited too long: the case ran again, whole, after the lane
    assert sent.count("early-before") == 2 and sent.count("early-after") == 1
    assert sent.index("keys-after") < sent.index("early-after")
    assert sent.index("keys-after") < len(sent) - 1 - sent[::-1].index("early-before")
    assert early is not None and early.verdict == "pass"
    assert [e.label for e in early.exchanges][:2] == ["early-before", "early-after"]
    assert early.requests == 4  # its two, its first try's one, the control of its group of one


def test_the_cases_that_count_events_in_a_window_are_jwks_cases() -> None:
    assert lane(BY_ID["keys.random_kid_flood"]) == "jwks"  # nothing else is sent meanwhile
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


def test_the_jwks_lane_leaves_the_target_holding_the_jwks_as_published() -> None:
    """The lane's last step has the target fetch a key of its own (``restored``), then
    withdraws it: without one more fetch the target kept it, a second key of the default
    alg, and refused the next case's correct token without kid as ambiguous."""
    from conformance._embedded import open_embedded  # lazy: starts servers, this test only

    with open_embedded(algs=("ES384",)) as embedded:
        rt = dataclasses.replace(embedded, isolated=())  # as a configured target runs
        plan = [BY_ID["keys.revocation.removed_key"], BY_ID["keys.no_kid.single_candidate"]]
        scheduler = Scheduler(rt, plan).start()
        results = {c.id: scheduler.result(c.id) for c in plan}
    lane_ = results["keys.revocation.removed_key"]
    assert lane_ is not None and [e.label for e in lane_.exchanges][-1] == "JWKS settled"
    after = results["keys.no_kid.single_candidate"]
    assert after is not None, "no result"
    assert after.verdict == "pass", after.message


def test_with_isolated_environments_the_jwks_cases_run_there_beside_the_main_lane() -> None:
    """Each isolated environment is a JWKS lane of its own (the cases in turn); the main
    lane no longer waits for them, and none of their requests reaches its environment."""
    sent: list[tuple[str, str]] = []

    def where(name: str) -> Handler:
        def handler(request: ExchangeRequest) -> Reply:
            sent.append((name, request.label))
            return controls_accepted(request)

        return handler

    rt = runtime(where("main"))
    rt.isolated = tuple(
        IsolatedEnvironment(
            settings=dataclasses.replace(rt.settings, environment_id=name),
            keyring=_KEYRING.fork(),
            target=FakeTarget(where(name)),
            jwks_host=None,
        )
        for name in ("c1", "c2")
    )
    jwks = ("jwks_host",)
    plan = [waits("k1", needs=jwks), quick("m1"), waits("k2", needs=jwks), waits("k3", needs=jwks)]
    scheduler = Scheduler(rt, plan).start()
    verdicts = {c.id: getattr(scheduler.result(c.id), "verdict", None) for c in plan}
    assert set(verdicts.values()) == {"pass"}, verdicts
    lanes = {name: [label for n, label in sent if n == name] for name in ("main", "c1", "c2")}
    assert lanes["c1"] == ["k1-before", "k1-after", "control", "k3-before", "k3-after", "control"]
    assert lanes["c2"] == ["k2-before", "k2-after", "control"]
    assert lanes["main"] == ["m1", "control"]
    assert sent.index(("main", "m1")) < sent.index(("c1", "k1-after"))  # beside, not after


def test_the_embedded_jwks_cases_never_touch_the_key_set_under_test() -> None:
    """Against the embedded emulator the JWKS cases rotate, revoke and break the key sets
    of its isolated environments: the JWKS host of the environment under test is not
    fetched meanwhile, and publishes what it did."""
    from conformance._embedded import open_embedded  # lazy: starts servers, this test only

    with open_embedded() as rt:
        assert len(rt.isolated) == 2
        published = rt.jwks_host.keyring.published_jwks()
        fetched = rt.jwks_host.fetch_count()
        before = [iso.jwks_host.fetch_count() for iso in rt.isolated]
        plan = [
            BY_ID["keys.revocation.removed_key"],
            BY_ID["keys.jwks_fetch_failure.empty"],
            BY_ID["keys.rotation.new_kid"],
        ]
        scheduler = Scheduler(rt, plan).start()
        results = [scheduler.result(c.id) for c in plan]
        assert rt.jwks_host.fetch_count() == fetched
        assert rt.jwks_host.keyring.published_jwks() == published
        assert all(
            iso.jwks_host.fetch_count() > n for iso, n in zip(rt.isolated, before, strict=True)
        )
    ids = {iso.settings.environment_id for iso in rt.isolated}
    for result in results:
        assert result is not None and result.verdict == "pass", result
        assert {e.url.split("/sdk/")[1].split("/")[0] for e in result.exchanges} <= ids


def test_every_wait_of_a_case_marks_it_waiting() -> None:
    """Every ``ctx.sleep`` tells the scheduler, not only the first: the JWKS lane may
    start while a case waits a second time, rather than after the whole case."""

    def run(ctx: CaseContext) -> Exchange:
        ctx.sleep(0.01)
        ctx.send(ctx.sign(ctx.assertion()), label="mid")
        ctx.sleep(0.01)
        return ctx.send(ctx.sign(ctx.assertion()), label="after")

    twice = case(
        "test.schedule.twice", "twice", category="claims", run=run, rationale="a test"
    )  # fmt: skip
    events: list[str] = []

    def sending(token: str) -> float:
        events.append("send")
        return 0.0

    result = run_case(
        runtime(controls_accepted), twice, on_wait=lambda: events.append("wait"), on_send=sending
    )
    assert result.verdict == "pass", result.message
    assert events == ["wait", "send", "wait", "send", "send"]  # the last: the control
