"""The emulator under load (issue 19, point 8): 1,000 concurrent replay trials across two
worker processes with no double accept; a worker killed with SIGKILL mid-run loses no
recorded ``jti``; a restart on the same state keeps refusing every old ``jti``.

Everything binds loopback; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conformance import _http
from conformance._serving import free_port, serve_app
from conformance.emulator.testing import ENV_A, ISSUER_A, Harness, Keys, jwks_app

pytestmark = pytest.mark.slow

TRIALS = 1000
THREADS = 16


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def jwks_base(keys: Keys) -> Iterator[str]:
    with serve_app(jwks_app({"a.json": keys.jwks_a})) as host:
        yield host.base_url


def _children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (Linux ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text(encoding="ascii")
        found.extend(int(p) for p in text.split())
    return found


@contextlib.contextmanager
def workers(
    tmp_path: Path, jwks_base: str, keys: Keys, *, state: Path, n: int = 2
) -> Iterator[tuple[Harness, subprocess.Popen[bytes]]]:
    """``conformance emulator --workers n`` on loopback with the state in ``state``."""
    config_file = tmp_path / "emulator.toml"
    config_file.write_text(
        f'[[environments]]\nid = "{ENV_A}"\nissuer = "{ISSUER_A}"\n'
        f'jwks_url = "{jwks_base}/a.json"\n',
        encoding="utf-8",
    )
    port = free_port()
    command = [
        sys.executable, "-m", "conformance.cli", "emulator",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(n),
        "--state", str(state), "--config", str(config_file),
    ]  # fmt: skip
    log = (tmp_path / f"emulator-{port}.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v0"
    try:
        with _http.client(timeout_s=5.0) as client:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, "emulator exited at start"
                with contextlib.suppress(Exception):
                    jwks = client.get(f"{base}/sdk/{ENV_A}/.well-known/jwks")
                    if jwks.status_code == 200 and len(_children(proc.pid)) >= n:
                        break
                assert time.monotonic() < deadline, "emulator did not start in 30 s"
                time.sleep(0.1)
            yield Harness(base, client, keys, jwks_base), proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


class Sender:
    """Verify calls from a pool of threads, one HTTP client per thread."""

    def __init__(self, url: str, session: str) -> None:
        self.url = url
        self.session = session
        self._local = threading.local()
        self._clients: list[Any] = []
        self._guard = threading.Lock()

    def send(self, token: str) -> int:
        """The status, or 0 when no answer came (a killed worker)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = _http.client(timeout_s=10.0, max_connections=2)
            self._local.client = client
            with self._guard:
                self._clients.append(client)
        try:
            reply = client.post(
                self.url,
                json={"jwt": token},
                headers={"authorization": f"Bearer {self.session}"},
            )
        except Exception:
            return 0
        return int(reply.status_code)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def pair(sender: Sender, token: str) -> tuple[int, int]:
    """Two identical verify calls released together on two connections."""
    barrier = threading.Barrier(2, timeout=10)
    other: list[int] = []

    def second() -> None:
        barrier.wait()
        other.append(sender.send(token))

    helper = threading.Thread(target=second)
    helper.start()
    barrier.wait()
    first = sender.send(token)
    helper.join(timeout=30)
    return first, other[0] if other else 0


def test_thousand_concurrent_replay_trials_two_workers_no_double_accept(
    tmp_path: Path, jwks_base: str, keys: Keys
) -> None:
    with workers(tmp_path, jwks_base, keys, state=tmp_path / "state") as (h, _proc):
        session = h.signin("alice")
        tokens = [h.assertion() for _ in range(TRIALS)]
        sender = Sender(h.url("externalAuth/verify"), session)
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                outcomes = list(pool.map(lambda t: pair(sender, t), tokens))
        finally:
            sender.close()
        elapsed = time.monotonic() - started
    double = [o for o in outcomes if o == (200, 200)]
    assert double == [], f"{len(double)} double accepts"
    # every trial has exactly one winner and one refusal: no lost answers, no 5xx
    assert all(sorted(o) == [200, 401] for o in outcomes), {
        o for o in outcomes if sorted(o) != [200, 401]
    }
    print(f"{TRIALS} replay trials (2 workers) in {elapsed:.1f} s")


def test_sigkill_of_a_worker_loses_no_recorded_jti_and_restart_keeps_refusing(
    tmp_path: Path, jwks_base: str, keys: Keys
) -> None:
    state = tmp_path / "state"
    accepted: list[str] = []
    unanswered: list[str] = []
    with workers(tmp_path, jwks_base, keys, state=state) as (h, proc):
        session = h.signin("alice")
        tokens = [h.assertion() for _ in range(600)]
        sender = Sender(h.url("externalAuth/verify"), session)
        killed: list[int] = []

        def one(token: str) -> tuple[str, int]:
            return token, sender.send(token)

        def killer() -> None:
            # mid-run: once a third of the tokens have been sent
            deadline = time.monotonic() + 30
            while len(accepted) < 200 and time.monotonic() < deadline:
                time.sleep(0.005)
            victim = _children(proc.pid)[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(len(accepted))

        kill_thread = threading.Thread(target=killer)
        kill_thread.start()
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                for token, status in pool.map(one, tokens):
                    if status == 200:
                        accepted.append(token)
                    elif status != 401:
                        unanswered.append(token)
        finally:
            kill_thread.join(timeout=40)
            sender.close()
        assert killed, "no worker was killed"
        assert killed[0] < len(tokens) - 100, "the kill did not land mid-run"
        assert len(accepted) >= 200
        # Every jti the emulator answered 200 for is still recorded: each replay is refused
        # by whichever worker (the survivor, or the one the supervisor started anew).
        replays = Sender(h.url("externalAuth/verify"), session)
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                statuses = list(pool.map(replays.send, accepted))
        finally:
            replays.close()
        assert statuses.count(200) == 0
        assert set(statuses) == {401}, set(statuses)
    print(
        f"SIGKILL after {killed[0]} answers: {len(accepted)} accepted, {len(unanswered)} unanswered, all replays refused"
    )

    # A restart on the same state: the session still verifies (the key persisted), every
    # old jti is refused, a fresh assertion is accepted.
    with workers(tmp_path, jwks_base, keys, state=state) as (h, _proc):
        replays = Sender(h.url("externalAuth/verify"), session)
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                statuses = list(pool.map(replays.send, accepted))
            assert set(statuses) == {401}, set(statuses)
            assert replays.send(h.assertion()) == 200
            # a token whose answer was lost in the kill is single-use too: at most one
            # acceptance across the kill and the restart
            for token in unanswered[:20]:
                first, second = replays.send(token), replays.send(token)
                assert (first, second).count(200) <= 1
        finally:
            replays.close()
