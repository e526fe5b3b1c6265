"""Single use under concurrency (threads and worker processes) and across restarts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import _http
from conformance._serving import free_port, serve_app
from conformance.emulator import EmulatorConfig, Environment, run_emulator
from conformance.emulator.testing import ENV_A, ISSUER_A, Harness, Keys, jwks_app, world

pytestmark = pytest.mark.slow

N = 16


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def burst(url: str, session: str, token: str, n: int = N) -> list[int]:
    """``n`` identical verify calls released together, each on its own connection."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    clients = [_http.client() for _ in range(n)]

    def send(client: Any) -> None:
        barrier.wait()
        reply = client.post(
            url, json={"jwt": token}, headers={"authorization": f"Bearer {session}"}
        )
        statuses.append(reply.status_code)

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return statuses


def test_one_process_exactly_one_of_n_identical_requests_wins(keys: Keys) -> None:
    with world(keys) as h:
        session = h.signin("alice")
        for _ in range(3):
            statuses = burst(h.url("externalAuth/verify"), session, h.assertion())
            assert sorted(statuses) == [200] + [401] * (N - 1), statuses


def test_jti_race_flaw_lets_several_through(keys: Keys) -> None:
    with world(keys, flaws=["jti_race"]) as h:
        statuses = burst(h.url("externalAuth/verify"), h.signin("alice"), h.assertion())
        assert statuses.count(200) > 1, statuses
        assert all(status in (200, 401) for status in statuses)


def test_replay_refused_across_restart_with_state_dir(keys: Keys, tmp_path: Path) -> None:
    docs = {"a.json": keys.jwks_a}
    with serve_app(jwks_app(docs)) as jwks_host:
        config = EmulatorConfig(
            environments=(Environment(ENV_A, ISSUER_A, f"{jwks_host.base_url}/a.json"),),
            state=str(tmp_path / "state"),
        )
        with run_emulator(config) as emu, _http.client() as client:
            h = Harness(emu.base_url, client, keys, jwks_host.base_url)
            session = h.signin("alice")
            token = h.assertion()
            assert h.verify(session, token).status_code == 200
        with run_emulator(config) as emu, _http.client() as client:
            h = Harness(emu.base_url, client, keys, jwks_host.base_url)
            # The signing key persisted, so the old session still verifies...
            assert h.verify(session, h.assertion()).status_code == 200
            # ...and the jti store persisted, so the replay is refused.
            reply = h.verify(session, token)
            assert reply.status_code == 401
            assert "used" in reply.json()["error"]


@pytest.fixture
def workers_emulator(keys: Keys, tmp_path: Path) -> Iterator[Harness]:
    docs = {"a.json": keys.jwks_a}
    with serve_app(jwks_app(docs)) as jwks_host:
        config_file = tmp_path / "emulator.toml"
        config_file.write_text(
            "[[environments]]\n"
            f'id = "{ENV_A}"\nissuer = "{ISSUER_A}"\n'
            f'jwks_url = "{jwks_host.base_url}/a.json"\n',
            encoding="utf-8",
        )
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "conformance.cli",
            "emulator",
            "--workers",
            "2",
            "--port",
            str(port),
            "--state",
            str(tmp_path / "state"),
            "--config",
            str(config_file),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/api/v0"
        try:
            with _http.client(timeout_s=2.0) as client:
                deadline = time.monotonic() + 30
                while True:
                    assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                    try:
                        if client.get(f"{base}/sdk/{ENV_A}/.well-known/jwks").status_code == 200:
                            break
                    except Exception:
                        pass
                    assert time.monotonic() < deadline, "emulator did not start"
                    time.sleep(0.1)
                yield Harness(base, client, keys, jwks_host.base_url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()


def test_two_worker_processes_exactly_one_wins(workers_emulator: Harness) -> None:
    h = workers_emulator
    # Sessions are signed by one worker and checked by another: the key is shared.
    session = h.signin("alice")
    for _ in range(3):
        statuses = burst(h.url("externalAuth/verify"), session, h.assertion())
        assert sorted(statuses) == [200] + [401] * (N - 1), statuses
    token = h.assertion()
    assert h.verify(session, token).status_code == 200
    assert json.loads(h.verify(session, token).text)["error"]
