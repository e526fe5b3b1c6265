"""Hostile answers are not evidence: a case passes only on an answer that means what it
needs; a lying ``Date`` never turns correct behaviour into a failure; a hostile answer
during sign-in or the baseline stops the run with exit 2 and ONE escaped line.

Against the in-memory FakeTarget (the rules), and one real run of ``conformance run``
against a respx-simulated staging host (the early failures end to end).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import respx

from conformance import cli
from conformance._engine import CLOCK_PLAUSIBLE_S, Runtime, run_case
from conformance._exceptions import BaselineRefused
from conformance._jose import split
from conformance._keyring import Keyring, make_key, private_jwk
from conformance._runtime import check_baseline
from conformance._settings import TargetSettings
from conformance.catalog import BY_ID
from conformance.catalog._model import CAPABILITIES
from conformance.targets.base import Exchange, ExchangeRequest, parse_json, usable_token
from conformance.targets.dynamic import _json_field
from conformance.targets.fake import FakeTarget, Reply

TOKEN = Reply(200, body='{"elevatedAccessToken": "[issued]"}', issued="issued-token-0123")
REFUSED = Reply(401, body='{"error": "invalid assertion"}')
DEEP = "[" * 50_000 + "]" * 50_000
#: a JWS-shaped token a hostile target echoes (its signature must never be shown whole)
ECHOED = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

_KEYRING = Keyring(published_algs=("ES256",))

#: answers that prove nothing, whatever the case expects
UNCLEAN: dict[str, Reply] = {
    "no answer": Reply(None, error="timeout after 2 s"),
    "reset mid-body (200)": Reply(200, issued="issued-token-0123", error="transport error"),
    "reset mid-body (401)": Reply(401, body='{"error": "x"}', error="transport error"),
    "302": Reply(302, headers={"location": "https://elsewhere.test/"}),
    "408": Reply(408, body='{"error": "timeout"}'),
    "429": Reply(429, body='{"error": "slow down"}'),
    "431": Reply(431, body="headers too large"),
    "500": Reply(500, body='{"error": "internal"}'),
    "200 without a token": Reply(200, body="{}"),
    "200 with an empty token": Reply(200, body='{"elevatedAccessToken": ""}', issued=""),
    "200 with a control-character token": Reply(200, issued="tok\x1b[2Jen-value"),
    "200 with a spaced token": Reply(200, issued="not a token at all"),
    "200 with a 1 MB token": Reply(200, issued="a" * 1_000_000),
}


def runtime(handler: Callable[[ExchangeRequest], Reply], **settings: object) -> Runtime:
    target_settings = TargetSettings(
        profile="dynamic",
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        subjects=("conformance-a", "conformance-b"),
        scopes=("wallet:export", "wallet:delete"),
        capabilities=CAPABILITIES,
        **settings,  # type: ignore[arg-type]
    )
    return Runtime(settings=target_settings, keyring=_KEYRING, target=FakeTarget(handler))


def answering(negative: Reply) -> Callable[[ExchangeRequest], Reply]:
    """A target that issues for controls and the baseline, and answers ``negative`` to
    everything else."""
    return lambda request: TOKEN if request.label in {"control", "baseline"} else negative


# -- the rules of clean evidence --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UNCLEAN))
def test_an_unclean_answer_is_neither_an_acceptance_nor_a_refusal(name: str) -> None:
    rt = runtime(answering(UNCLEAN[name]))
    for case_id in ("claims.sub.missing", "replay.first_use.accepted"):  # reject, accept
        result = run_case(rt, BY_ID[case_id])
        assert result.verdict == "error", (case_id, result.message)
        assert "\n" not in result.message


def test_a_usable_token_is_a_bounded_printable_string() -> None:
    assert usable_token("eyJ.eyJ.sig") and usable_token("opaque-handle_01~")
    for bad in ("", " ", "a b", "tok\n", "tok\x00", "é", "a" * 20_000, None, 12, b"tok"):
        assert not usable_token(bad), bad


def test_a_clean_refusal_is_any_4xx_but_408_429_431_and_needs_a_whole_answer() -> None:
    def exchange(status: int | None, error: str | None = None) -> Exchange:
        return Exchange("x", "POST", "u", {}, "", status, {}, "", 0.0, error=error)

    assert all(exchange(s).rejected for s in (400, 401, 403, 404, 422))
    assert not any(exchange(s).rejected for s in (302, 408, 429, 431, 500, 200))
    assert not exchange(401, "transport error").rejected


@pytest.mark.parametrize("kind", ["body", "disclosure", "charset"])
@pytest.mark.parametrize("name", ["no answer", "302", "429", "431", "500", "reset mid-body (401)"])
def test_the_error_shape_cases_do_not_pass_on_an_unclean_answer(kind: str, name: str) -> None:
    result = run_case(runtime(answering(UNCLEAN[name])), BY_ID[f"errors.{kind}.bad_signature"])
    assert result.verdict == "error", result.message


@pytest.mark.parametrize("kind", ["body", "disclosure", "charset"])
def test_the_error_shape_cases_are_inconclusive_on_an_acceptance(kind: str) -> None:
    result = run_case(runtime(answering(TOKEN)), BY_ID[f"errors.{kind}.bad_signature"])
    assert result.verdict == "skip"
    assert result.message.startswith("inconclusive") and "errors.status" in result.message


@pytest.mark.parametrize("kind", ["status", "body", "disclosure", "charset"])
def test_the_error_cases_pass_on_a_clean_refusal(kind: str) -> None:
    result = run_case(runtime(answering(REFUSED)), BY_ID[f"errors.{kind}.bad_signature"])
    assert result.verdict == "pass", result.message


def test_a_disclosure_fails_on_any_answer_that_discloses() -> None:
    trace = Reply(500, body='Traceback (most recent call last):\n  File "/app/x.py", line 3')
    result = run_case(runtime(answering(trace)), BY_ID["errors.disclosure.bad_signature"])
    assert (result.verdict, result.message) == (
        "fail",
        "the refusal discloses a Python stack trace",
    )


@pytest.mark.parametrize(
    ("name", "verdict"),
    [("no answer", "error"), ("429", "error"), ("431", "error"), ("408", "error"), ("500", "fail")],
)
def test_the_status_case_errs_on_what_says_nothing_and_fails_a_5xx(name: str, verdict: str) -> None:
    result = run_case(runtime(answering(UNCLEAN[name])), BY_ID["errors.status.bad_signature"])
    assert result.verdict == verdict, result.message


@pytest.mark.parametrize("name", ["no answer", "500", "302", "429", "200 without a token"])
def test_a_jti_is_not_proved_unburned_by_an_unclean_attempt(name: str) -> None:
    def handler(request: ExchangeRequest) -> Reply:
        return UNCLEAN[name] if request.label == "rejected attempt" else TOKEN

    result = run_case(runtime(handler), BY_ID["replay.not_burned.bad_signature"])
    assert result.verdict == "error", result.message


def test_a_jti_unburned_after_a_clean_refusal_passes() -> None:
    def handler(request: ExchangeRequest) -> Reply:
        return REFUSED if request.label == "rejected attempt" else TOKEN

    assert run_case(runtime(handler), BY_ID["replay.not_burned.bad_signature"]).verdict == "pass"


@pytest.mark.parametrize(
    "name", ["200 with a control-character token", "200 without a token", "500", "no answer"]
)
def test_an_elevated_token_that_was_never_cleanly_issued_proves_no_confusion(name: str) -> None:
    def handler(request: ExchangeRequest) -> Reply:
        if request.label == "issue":
            return UNCLEAN[name]
        return TOKEN if request.label == "control" else REFUSED

    result = run_case(runtime(handler), BY_ID["subject.confusion.elevated_token_as_bearer"])
    assert result.verdict == "error", result.message
    assert "misbehaved" in result.message


@pytest.mark.parametrize("name", ["500", "no answer", "200 with a spaced token"])
def test_an_issued_token_case_errs_when_nothing_usable_was_issued(name: str) -> None:
    for case_id in ("issued.token.is_jws", "issued.token.short_lived", "issued.token.verifies"):
        result = run_case(runtime(answering(UNCLEAN[name])), BY_ID[case_id])
        assert result.verdict == "error", (case_id, result.message)


def racing(copies: Callable[[int], Reply]) -> Callable[[ExchangeRequest], Reply]:
    sent = iter(range(1000))
    return lambda request: copies(next(sent)) if request.label == "race" else TOKEN


@pytest.mark.parametrize(
    ("copies", "verdict"),
    [
        (lambda i: TOKEN if i == 0 else REFUSED, "pass"),
        # most copies got no answer: the one acceptance proves nothing
        (lambda i: TOKEN if i == 0 else UNCLEAN["no answer"], "error"),
        (lambda i: TOKEN if i == 0 else (REFUSED if i < 15 else UNCLEAN["500"]), "error"),
        (lambda i: TOKEN if i == 0 else UNCLEAN["429"], "error"),
        # two clean acceptances fail whatever the rest got
        (lambda i: TOKEN if i < 2 else UNCLEAN["no answer"], "fail"),
        (lambda i: REFUSED, "fail"),
    ],
    ids=["one of 16", "15 unanswered", "one 5xx", "429s", "two accepted", "none accepted"],
)
def test_a_race_is_judged_only_when_every_copy_answered_cleanly(
    copies: Callable[[int], Reply], verdict: str
) -> None:
    result = run_case(runtime(racing(copies)), BY_ID["replay.race.concurrent_16"])
    assert result.verdict == verdict, result.message


# -- the clock --------------------------------------------------------------------------------


def correct_target(date: Callable[[], float | None], header: str | None = None) -> Runtime:
    """A correct endpoint on the local clock (no leeway beyond 30 s) whose Date header is
    ``date()`` (a lie, garbage, or the truth)."""

    def handler(request: ExchangeRequest) -> Reply:
        headers = {"date": header} if header else {}
        try:
            _, claims, _ = split(request.assertion)
        except ValueError:
            return Reply(401, body='{"error": "malformed"}', headers=headers)
        now = time.time()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", 0)
        valid = (
            isinstance(exp, int | float)
            and isinstance(iat, int | float)
            and isinstance(nbf, int | float)
            and exp > now - 30
            and iat <= now + 30
            and nbf <= now + 30
            and exp - iat <= 3600
        )
        reply = TOKEN if valid else REFUSED
        return Reply(
            reply.status,
            body=reply.body,
            issued=reply.issued,
            headers=headers,
            server_date=date(),
        )

    return runtime(handler, leeway_s=30)


TIME_CASES = (
    "time.exp.past_5min",
    "time.exp.past_1day",
    "time.exp.past_inside_leeway",
    "time.iat.future_1hour",
    "time.nbf.future_10min",
    "time.nbf.future_inside_leeway",
    "time.skew.all_plus_62s",
    "replay.first_use.accepted",
)


@pytest.mark.parametrize(
    ("date", "why"),
    [
        (lambda: time.time() + 2.5e11, "beyond ±1 day"),
        (lambda: time.time() - 3 * CLOCK_PLAUSIBLE_S, "beyond ±1 day"),
        (lambda: time.time() + 7200, "dated by the local clock"),
        (lambda: time.time() - 7200, "dated by the local clock"),
        (lambda: None, "not a date"),
    ],
    ids=["+2.5e11 s", "-3 days", "+2 hours", "-2 hours", "garbage"],
)
def test_a_lying_date_is_not_trusted_and_never_fails_correct_behaviour(
    date: Callable[[], float | None], why: str
) -> None:
    rt = correct_target(date, header="Thu, 01 Jan 9999 00:00:00 GMT or garbage")
    check_baseline(rt)
    assert rt.clock_offset_s == 0.0
    assert rt.facts["clock_source"]["value"] == "local"
    assert why in rt.facts["clock_source"]["detail"]
    verdicts = {c: run_case(rt, BY_ID[c]) for c in TIME_CASES}
    assert {c: r.message for c, r in verdicts.items() if r.verdict != "pass"} == {}


def test_a_plausible_date_consistent_with_the_baseline_is_used() -> None:
    rt = correct_target(lambda: time.time() + 30, header="a date")
    check_baseline(rt)
    assert rt.facts["clock_source"]["value"] == "date"
    assert 25 <= rt.clock_offset_s <= 35


def test_a_date_within_its_resolution_is_the_local_clock() -> None:
    rt = correct_target(time.time, header="a date")
    check_baseline(rt)
    assert (rt.clock_offset_s, rt.facts["clock_source"]["value"]) == (0.0, "local")


@pytest.mark.parametrize("lag_s", [0.0, 0.9, 3.0, 12.0])
def test_a_slow_answer_dated_by_the_local_clock_is_no_offset(lag_s: float) -> None:
    """The target stamped its Date (whole seconds, the local clock) as the request arrived;
    the answer came back ``lag_s`` later (a loaded machine): no skew to learn."""
    rt = correct_target(time.time)
    sent = time.time() - lag_s
    exchange = Exchange(
        "baseline",
        "POST",
        "u",
        {},
        "",
        401,
        {"date": "a date"},
        "{}",
        lag_s * 1000,
        server_date=float(int(sent)),
        sent_at=sent,
    )
    rt.observe(exchange)
    assert (rt.clock_offset_s, rt.facts["clock_source"]["value"]) == (0.0, "local")


def test_a_slow_answer_from_a_skewed_clock_still_reads_as_skewed() -> None:
    rt = correct_target(time.time)
    sent = time.time() - 3.0
    exchange = Exchange(
        "baseline",
        "POST",
        "u",
        {},
        "",
        401,
        {"date": "a date"},
        "{}",
        3000.0,
        server_date=float(int(sent + 40)),
        sent_at=sent,
    )
    rt.observe(exchange)
    assert rt.facts["clock_source"]["value"] == "date"
    assert 36 <= rt.clock_offset_s <= 41


# -- early failures ---------------------------------------------------------------------------


def test_parsing_a_hostile_body_never_raises() -> None:
    assert parse_json(DEEP) is None and parse_json(b"\xff\xfe") is None
    assert _json_field(DEEP.encode(), "jwt") is None
    assert Exchange("x", "POST", "u", {}, "", 200, {}, DEEP, 0.0).json() is None


def test_a_hostile_baseline_refusal_is_one_escaped_line() -> None:
    body = f'{{"error": "bad\\n"}}\n\x1b[31mFAKE CI LINE\x1b[0m\r\n{ECHOED}\u2028' + "x" * 50_000
    rt = runtime(lambda request: Reply(401, body=body))
    with pytest.raises(BaselineRefused) as info:
        check_baseline(rt)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and len(message) < 1000
    assert "\x1b" not in message and ECHOED not in message


def test_a_deeply_nested_baseline_answer_is_a_refusal_not_a_crash() -> None:
    rt = runtime(lambda request: Reply(200, body=DEEP))
    with pytest.raises(BaselineRefused, match="issued no token"):
        check_baseline(rt)


# -- one real run: conformance run against a hostile staging host ----------------------------

BASE = "https://staging.example.test/api/v0"
ENV_ID = "0b6cf2d4-1c52-4d1f-9b57-4f1d2a3c4e5f"
SIGN_IN = f"{BASE}/sdk/{ENV_ID}/externalAuth/signin"
VERIFY = f"{BASE}/sdk/{ENV_ID}/externalAuth/verify"


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    monkeypatch.setenv("STAGING_KEY", json.dumps(private_jwk(make_key("ES256", kid="k1"))))
    (tmp_path / "staging.toml").write_text(
        f"""
[target]
base_url = "{BASE}"
environment_id = "{ENV_ID}"
issuer = "https://auth.example.com"
subjects = ["conformance-a"]

[[target.keys]]
private_key = "env:STAGING_KEY"

[transport]
timeout_s = 2
retries = 0
rate_limit_per_s = 1000
"""
    )
    monkeypatch.chdir(tmp_path)
    with respx.mock(assert_all_called=False) as router:
        router.get(VERIFY).mock(return_value=httpx.Response(405))
        yield router


@pytest.mark.parametrize(
    "sign_in",
    [
        httpx.Response(200, text=DEEP, headers={"content-type": "application/json"}),
        httpx.Response(401, text=f"no\nconformance: all good\n\x1b[2J{ECHOED}\n" * 200),
        httpx.Response(200, json={"jwt": ECHOED + "\n\x1b[31m"}),
    ],
    ids=["deep JSON", "line feeds, escapes and a token", "an unusable token"],
)
def test_a_hostile_sign_in_ends_the_run_with_exit_2_and_one_line(
    staging: respx.MockRouter, sign_in: httpx.Response, capsys: pytest.CaptureFixture[str]
) -> None:
    staging.post(SIGN_IN).mock(return_value=sign_in)
    code = cli.main(["run", "--config", "staging.toml", "--no-report", "--id", "claims.sub.*"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err[:2000]
    assert "Traceback" not in err and "RecursionError" not in err
    assert "\x1b" not in err and ECHOED not in err and len(err) < 1200


def test_a_hostile_baseline_answer_ends_the_run_with_exit_2_and_one_line(
    staging: respx.MockRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    staging.post(SIGN_IN).mock(return_value=httpx.Response(200, json={"jwt": "session-0123456"}))
    staging.post(VERIFY).mock(
        return_value=httpx.Response(401, text=f"denied\n\x1b[31m{ECHOED}\r\nfake line\n" * 100)
    )
    code = cli.main(["run", "--config", "staging.toml", "--no-report", "--id", "claims.sub.*"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err[:2000]
    assert "refused a valid assertion" in err
    assert "\x1b" not in err and ECHOED not in err and len(err) < 1200
