"""A separately started emulator configured as a real target (TOML, a key file): the path
a user takes with a sandbox, on loopback. Shared by the configured-run tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from conformance._jwks_host import JwksHost
from conformance._keyring import Keyring
from conformance.emulator import EmulatorConfig, Environment, run_emulator


@contextlib.contextmanager
def configured_emulator(home: Path, alg: str) -> Iterator[Path]:
    """Start a JWKS host publishing one ``alg`` key and an emulator trusting it; yield the
    path of a ``[target]`` TOML for it (the key written as a PEM file beside it)."""
    keyring = Keyring(published_algs=(alg,))
    key = keyring.trusted(alg)
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (home / "key.pem").write_bytes(pem)
    env_id = str(uuid.uuid4())
    with JwksHost(keyring) as host:
        env = Environment(id=env_id, issuer="https://issuer.example.test", jwks_url=host.jwks_url)
        with run_emulator(EmulatorConfig(environments=(env,))) as emulator:
            path = home / "target.toml"
            path.write_text(
                f"""
[target]
base_url = "{emulator.base_url}"
environment_id = "{env_id}"
issuer = "https://issuer.example.test"

[[target.keys]]
kid = "{key.kid}"
alg = "{alg}"
private_key = "key.pem"

[transport]
rate_limit_per_s = 1000  # the default (5/s) protects a staging service, not our loopback
""",
                encoding="utf-8",
            )
            yield path
