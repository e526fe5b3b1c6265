"""A separately started emulator configured as a real target (TOML, a key file): the path
a user takes with a sandbox, on loopback. Shared by the configured-run tests."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator, Sequence
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


def free_port() -> int:
    """A loopback port free right now (the suite binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_emulator(
    home: Path, algs: Sequence[str], *, flaws: Sequence[str] = (), cache_s: float = 2.0
) -> Iterator[Path]:
    """Start an emulator (with ``flaws``) whose environment reads its JWKS from the suite's
    own JWKS host (``[jwks_host]``, on a loopback port chosen here), as a Dynamic sandbox
    does when its JWKS URL is pointed at the suite; yield the path of the run's TOML. One
    key per alg of ``algs`` is written beside it. The emulator's JWKS intervals are the
    embedded run's, and the TOML declares them."""
    keyring = Keyring(published_algs=tuple(algs))
    entries = []
    for alg in algs:
        key = keyring.trusted(alg)
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        name = f"key-{alg.lower()}.pem"
        (home / name).write_bytes(pem)
        entries.append(
            f'[[target.keys]]\nkid = "{key.kid}"\nalg = "{alg}"\nprivate_key = "{name}"\n'
        )
    port = free_port()
    env_id = str(uuid.uuid4())
    env = Environment(
        id=env_id,
        issuer="https://issuer.example.test",
        jwks_url=f"http://127.0.0.1:{port}/jwks.json",
    )
    config = EmulatorConfig(
        environments=(env,),
        flaws=frozenset(flaws),
        allowed_algs=tuple(algs),
        jwks_min_refetch_s=0.25,
        jwks_timeout_s=0.5,
        jwks_ttl_s=cache_s,
    )
    with run_emulator(config) as emulator:
        path = home / "target.toml"
        path.write_text(
            f"""
[target]
base_url = "{emulator.base_url}"
environment_id = "{env_id}"
issuer = "https://issuer.example.test"

{chr(10).join(entries)}
[jwks_host]
bind = "127.0.0.1:{port}"
refetch_s = 0.25
cache_s = {cache_s}

[transport]
rate_limit_per_s = 1000
""",
            encoding="utf-8",
        )
        yield path
