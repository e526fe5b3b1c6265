"""A configured Dynamic-profile run against a separately started emulator: the path a
user takes with a sandbox (TOML, a key file, sign-in through the target), on loopback."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from factories import assert_valid_results

from conformance import cli
from conformance._jwks_host import JwksHost
from conformance._keyring import Keyring
from conformance.emulator import EmulatorConfig, Environment, run_emulator

pytestmark = pytest.mark.slow


def test_configured_run_is_conformant_and_skips_what_it_cannot_do(tmp_path: Path) -> None:
    keyring = Keyring(published_algs=("ES256",))
    key = keyring.trusted("ES256")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "key.pem").write_bytes(pem)
    env_id = str(uuid.uuid4())
    with JwksHost(keyring) as host:
        env = Environment(id=env_id, issuer="https://issuer.example.test", jwks_url=host.jwks_url)
        with run_emulator(EmulatorConfig(environments=(env,))) as emulator:
            (tmp_path / "target.toml").write_text(
                f"""
[target]
base_url = "{emulator.base_url}"
environment_id = "{env_id}"
issuer = "https://issuer.example.test"

[[target.keys]]
kid = "{key.kid}"
alg = "ES256"
private_key = "key.pem"

[transport]
rate_limit_per_s = 1000  # the default (5/s) protects a staging service, not our loopback
""",
                encoding="utf-8",
            )
            code = cli.main(
                [
                    "run",
                    "--config",
                    str(tmp_path / "target.toml"),
                    "--no-report",
                    "--report-dir",
                    str(tmp_path / "out"),
                    "--category",
                    "claims",
                    "--category",
                    "time",
                    "--category",
                    "replay",
                    "--category",
                    "subject",
                    "--examples",
                    "10",
                ]
            )
    data = assert_valid_results(tmp_path / "out" / "results.json")  # the shipped schema
    verdicts = {c["id"]: c["verdict"] for c in data["cases"]}
    assert code == 0, [
        (c["id"], c["message"]) for c in data["cases"] if c["verdict"] in {"fail", "error"}
    ]
    assert data["run"]["target"]["embedded"] is False
    assert verdicts["time.exp.past_5min"] == "pass"
    assert verdicts["replay.race.concurrent_16"] == "pass"  # loopback: bursts allowed
    # what a configured target cannot give is skipped with the reason, never passed
    skipped = {c["id"]: c["message"] for c in data["cases"] if c["verdict"] == "skip"}
    assert "claims.iss.other_environment" in skipped
    assert "second_environment" in skipped["claims.iss.other_environment"]
    assert pem.decode() not in (tmp_path / "out" / "results.json").read_text()
