"""The suite against a hostile target (issue 19): every mode of ``tests/hostile.py``
answers the baseline honestly and then misbehaves; the run must end, exit 0/1/2, print
no traceback, repeat no secret and no raw control character, and judge no hostile answer
``pass`` (garbage answers are ``error``).

Each assertion failed before the matching part of issue 19 was fixed (transport framing,
clean evidence, clock sanity, inert text, secrets by value).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hostile import GARBAGE, HostileWorld

import conformance

pytestmark = pytest.mark.slow

#: the checkout whose ``conformance`` this test imported (the subprocess runs the same)
REPO = Path(conformance.__file__).resolve().parent.parent
#: an accept case, reject cases, a replay, a second user (a second sign-in)
CASES = (
    "envelope.valid.baseline",
    "time.exp.past_5min",
    "claims.sub.missing",
    "replay.same_token.twice",
    "subject.session.other_user",
)
RUN_TIMEOUT_S = 150
#: C0 but tab and newline, DEL, C1, and the bidi controls
CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


@dataclass
class Outcome:
    code: int
    output: str
    results: dict[str, Any]
    texts: dict[str, str]  # results.json, junit.xml, output
    secrets: set[str]
    seconds: float
    out: Path

    @property
    def verdicts(self) -> dict[str, str]:
        return {c["id"]: c["verdict"] for c in self.results.get("cases", [])}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileWorld]:
    with HostileWorld(tmp_path_factory.mktemp("hostile")) as world:
        yield world


def run_mode(world: HostileWorld, mode: str, *, cases: tuple[str, ...] = CASES) -> Outcome:
    import time

    with world.serving() as proxy:
        config = world.config(proxy, mode)
        out = world.root / f"out-{mode}"
        command = [
            sys.executable, "-m", "conformance.cli", "run", "--config", str(config),
            "--no-report", "--report-dir", str(out), "--examples", "3",
        ]  # fmt: skip
        for case_id in cases:
            command += ["--id", case_id]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        started = time.monotonic()
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=RUN_TIMEOUT_S, env=env, cwd=world.root
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"mode {mode}: the run did not end within {RUN_TIMEOUT_S} s")
        seconds = time.monotonic() - started
        secrets = proxy.seen.secrets()
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    texts = {"output": output}
    results: dict[str, Any] = {}
    for name in ("results.json", "junit.xml"):
        if (out / name).exists():
            texts[name] = (out / name).read_text(encoding="utf-8")
    if "results.json" in texts:
        results = json.loads(texts["results.json"])
    return Outcome(done.returncode, output, results, texts, secrets, seconds, out)


_OUTCOMES: dict[str, Outcome] = {}


@pytest.fixture
def outcome(world: HostileWorld, request: pytest.FixtureRequest) -> Outcome:
    """One run per mode, shared by the property tests of that mode."""
    mode = str(request.node.callspec.params["mode"])
    if mode not in _OUTCOMES:
        _OUTCOMES[mode] = run_mode(world, mode)
    return _OUTCOMES[mode]


ALL = (
    "xss", "escapes", "huge", "gzip", "broken_json", "deep_json", "storm", "reset",
    "redirect", "lying_date", "echo", "signin", "extra_bytes", "no_content",
    "slow_headers", "worst",
)  # fmt: skip


@pytest.mark.parametrize("mode", ALL)
def test_run_ends_with_a_sensible_exit_code_and_no_traceback(outcome: Outcome, mode: str) -> None:
    assert outcome.code in (0, 1, 2), outcome.output[-2000:]
    assert "Traceback" not in outcome.output, outcome.output[-3000:]
    if outcome.code != 2:
        assert outcome.results, "no results.json although the run started"


@pytest.mark.parametrize("mode", ALL)
def test_no_secret_in_any_output(outcome: Outcome, mode: str) -> None:
    assert outcome.secrets, "the proxy saw no secret: the run never reached the target"
    leaks = {
        (name, secret[:12] + "…")
        for name, text in outcome.texts.items()
        for secret in outcome.secrets
        if secret in text
    }
    assert leaks == set()


@pytest.mark.parametrize("mode", ALL)
def test_no_raw_control_character_in_any_output(outcome: Outcome, mode: str) -> None:
    found = {
        (name, repr(m.group()))
        for name, text in outcome.texts.items()
        for m in CONTROL.finditer(text)
    }
    assert found == set()


@pytest.mark.parametrize("mode", sorted(GARBAGE))
def test_garbage_answers_are_never_judged_pass(outcome: Outcome, mode: str) -> None:
    assert outcome.code in (1, 2), outcome.output[-2000:]
    passed = sorted(i for i, v in outcome.verdicts.items() if v == "pass")
    assert passed == []


@pytest.mark.parametrize("mode", sorted(GARBAGE))
def test_garbage_answers_are_errors_never_fail(outcome: Outcome, mode: str) -> None:
    judged = {i: v for i, v in outcome.verdicts.items() if v not in ("error", "skip")}
    assert judged == {}


HONEST_STATUS = {
    # mode -> the cases allowed to end in error (their answers are garbage by design)
    "xss": set(),
    "escapes": set(),
    "echo": set(),
    "signin": {"subject.session.other_user"},  # user B's "session" is markup
    "lying_date": set(),
    # one answer per request, or none: an answer whose framing is broken is an error,
    # never a verdict taken from the smuggled bytes
    "extra_bytes": set(CASES),
}


@pytest.mark.parametrize(
    "mode",
    sorted(HONEST_STATUS),
)
def test_hostile_text_around_honest_answers_keeps_the_clean_verdicts(
    outcome: Outcome, mode: str
) -> None:
    allowed = HONEST_STATUS[mode]
    wrong = {
        i: v
        for i, v in outcome.verdicts.items()
        if v != "pass" and not (i in allowed and v in ("error", "skip"))
    }
    assert wrong == {}
    assert set(outcome.verdicts) == set(CASES)


CHROMIUM = Path("/usr/bin/chromium")
#: a remote load: an http(s) URL in src= or href= of a link, img or script element
REMOTE = re.compile(r"<(?:link|img|script)\b[^>]*\b(?:src|href)\s*=\s*[\"']?https?://", re.I)


def test_report_of_the_worst_mode_is_inert(world: HostileWorld, tmp_path: Path) -> None:
    """The "Done when" check: the HTML report of a run against the most hostile text
    (markup, escapes, bidi, echoed secrets, a lying Date) runs nothing, loads nothing
    remote and shows no raw control character."""
    from conformance.report import render_report

    if "worst" not in _OUTCOMES:
        _OUTCOMES["worst"] = run_mode(world, "worst")
    outcome = _OUTCOMES["worst"]
    html_path = render_report(outcome.out / "results.json", out_dir=tmp_path, timeout_s=120).html
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert REMOTE.findall(html) == []
    assert sorted({repr(m.group()) for m in CONTROL.finditer(html)}) == []
    for secret in outcome.secrets:
        assert secret not in html
    if CHROMIUM.exists():
        shot = tmp_path / "worst.png"
        subprocess.run(
            [
                str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-background-networking",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--screenshot={shot}", "--window-size=1280,2400", html_path.as_uri(),
            ],
            capture_output=True, timeout=90, check=True,
        )  # fmt: skip
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
