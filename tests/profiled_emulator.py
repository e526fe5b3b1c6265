"""A separately started emulator run through one of the shipped shape profiles
(``conformance/profiles``): the route of that shape (``emulator/shapes.py``, or Dynamic's
sign-in), a JWKS host publishing the run's key, and a run TOML naming the profile file
with the params that point it at the emulator. Shared by the profile tests and
``tools/flaw_matrix.py``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from conformance._jwks_host import JwksHost
from conformance._keyring import Keyring
from conformance.emulator import EmulatorConfig, Environment, run_emulator, with_variants

ISSUER = "https://issuer.example.test"
AUDIENCE = "https://app.example.test"
#: The shape profiles the emulator serves, with the ``[target]`` params that point each at
#: it (``{api}``: the emulator's ``/api/v0`` root; ``{env}``: the environment id).
SHAPE_PARAMS: dict[str, dict[str, str]] = {
    "dynamic-signin": {"base_url": "{api}", "environment_id": "{env}"},
    "rfc8693": {
        "token_url": "{api}/sdk/{env}/oauth/token",
        "issued_jwks_url": "{api}/sdk/{env}/.well-known/jwks",
    },
    "stytch-attest": {"base_url": "{api}/sdk/{env}", "profile_id": "{env}"},
    "privy-custom-jwt": {"base_url": "{api}", "app_id": "{env}"},
}


def profile_file(name: str) -> Path:
    """The shipped profile file ``name``."""
    return Path(str(resources.files("conformance") / "profiles" / f"{name}.toml"))


@contextlib.contextmanager
def profiled_emulator(
    home: Path,
    profile: str,
    *,
    flaws: Sequence[str] = (),
    variants: Sequence[str] = (),
    alg: str = "ES256",
) -> Iterator[Path]:
    """Start a JWKS host publishing one ``alg`` key and an emulator (with ``flaws`` and
    policy ``variants``, whose numbers the run is not told) that trusts it and has an
    audience; yield the path of a run TOML for ``profile``."""
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
        env = Environment(id=env_id, issuer=ISSUER, jwks_url=host.jwks_url, audience=AUDIENCE)
        config = with_variants(
            EmulatorConfig(environments=(env,), flaws=frozenset(flaws)), variants
        )
        with run_emulator(config) as emulator:
            params = "\n".join(
                f'{name} = "{value.format(api=emulator.base_url, env=env_id)}"'
                for name, value in SHAPE_PARAMS[profile].items()
            )
            path = home / "target.toml"
            path.write_text(
                f"""
[target]
profile_file = "{profile_file(profile)}"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
{params}

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
