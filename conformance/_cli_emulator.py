"""``conformance emulator``: run the reference emulator as a server (docs/emulator.md).

Without ``--config`` it runs a demo environment whose signing key it generates and
publishes itself, and prints a snippet that signs a valid sign-in JWT and assertion.
``--help`` lists every flaw and policy variant; a non-loopback ``--host`` is warned
about; ``--log`` writes one line per request (``emulator/requestlog.py``).
"""

from __future__ import annotations

import argparse
import atexit
import ipaddress
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError

DEMO_ENVIRONMENT_ID = "5e7a1c2d-9b0f-4d3a-8c6e-0d1e2f3a4b5c"
DEMO_ISSUER = "https://demo-issuer.conformance.invalid"
DEMO_KEY_NAME = "demo-signing-key.pem"
CONFIG_NAME = "emulator-config.json"


_DESCRIPTION = """\
Run the reference emulator of Dynamic's external-auth endpoints (sign-in, verify,
step-up check, logout, the issuer's JWKS) on a port of this machine: strict by default,
breakable on purpose with named flaws, and shaped by legitimate policy variants.

Without --config it runs a demo environment whose signing key it generates and
publishes itself, and prints a snippet that signs a valid sign-in JWT and assertion.
The TOML of --config is documented in docs/emulator.md."""


def _epilog() -> str:
    """Every flaw and policy variant, one line each (from the emulator's own tables)."""
    # lazy: the tables are cheap data, but `conformance --help` needs none of them
    from .emulator.flaws import FLAWS
    from .emulator.variants import VARIANTS

    width = max(len(name) for name in (*FLAWS, *VARIANTS))

    def line(name: str, text: str) -> str:
        return f"  {name:<{width}}  {' '.join(text.split())}"

    lines = ["flaws (--flaw NAME; each breaks one check on purpose):"]
    lines += [line(f.name, f.description) for f in FLAWS.values()]
    lines += ["", "policy variants (--variant NAME; legitimate differences, no flaw):"]
    lines += [line(v.name, v.description) for v in VARIANTS.values()]
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run the reference emulator of Dynamic's external-auth endpoints",
        description=_DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="listen address (default 127.0.0.1; any other address is warned about: the "
        "emulator is deliberately breakable)",
    )
    parser.add_argument("--port", type=int, default=0, help="listen port (default: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--flaw",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a named flaw (repeatable; listed below)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="a legitimate policy variant (repeatable; listed below)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="emulator TOML file (docs/emulator.md)"
    )
    parser.add_argument(
        "--state",
        metavar="DIR",
        help="directory for the SQLite state and keys (shared by workers)",
    )
    parser.add_argument(
        "--log",
        metavar="FILE",
        help="append one line per request to FILE ('-': stderr): time, method, path, "
        "status, duration; never headers, bodies or tokens",
    )
    parser.set_defaults(func=run)


def _demo(state_dir: Path, base_url: str) -> tuple[dict[str, Any], Path, str]:
    """The demo environment: a fresh ES256 key written as PEM into ``state_dir``."""
    # lazy: the CLI starts without cryptography and the emulator (starlette)
    from cryptography.hazmat.primitives.asymmetric import ec

    from .emulator.app import DEMO_JWKS_PATH
    from .emulator.tokens import public_jwk, write_pem

    key = ec.generate_private_key(ec.SECP256R1())
    key_path = state_dir / DEMO_KEY_NAME
    write_pem(key, key_path)
    environment = {
        "id": DEMO_ENVIRONMENT_ID,
        "issuer": DEMO_ISSUER,
        "jwks_url": f"{base_url}{DEMO_JWKS_PATH}",
    }
    return environment, key_path, str(public_jwk(key)["kid"])


def _snippet(base_url: str, key_path: Path, kid: str) -> str:
    return f'''import time, uuid
import httpx, jwt
from cryptography.hazmat.primitives import serialization

BASE, ENV, ISS, KID = "{base_url}", "{DEMO_ENVIRONMENT_ID}", "{DEMO_ISSUER}", "{kid}"
with open("{key_path}", "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
now = int(time.time())
signin_jwt = jwt.encode({{"iss": ISS, "sub": "alice", "exp": now + 300}},
                        key, algorithm="ES256", headers={{"kid": KID}})
session = httpx.post(f"{{BASE}}/sdk/{{ENV}}/externalAuth/signin",
                     json={{"jwt": signin_jwt}}).json()["jwt"]
assertion = jwt.encode({{"iss": ISS, "sub": "alice", "scope": "wallet:export",
                        "jti": str(uuid.uuid4()), "iat": now, "exp": now + 120}},
                       key, algorithm="ES256", headers={{"kid": KID}})
reply = httpx.post(f"{{BASE}}/sdk/{{ENV}}/externalAuth/verify", json={{"jwt": assertion}},
                   headers={{"authorization": f"Bearer {{session}}"}})
token = reply.json()["elevatedAccessToken"]  # a secret: show its claims, not the token
print(reply.status_code, jwt.decode(token, options={{"verify_signature": False}}))'''


def run(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without the emulator
    from .emulator.config import MEMORY, EmulatorConfig
    from .emulator.flaws import check_flaws
    from .emulator.requestlog import open_log
    from .emulator.variants import check_variants, variant_settings

    flaws = check_flaws(args.flaw)
    variants = check_variants(args.variant)
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    port = _check_listen(args.host, args.port)
    request_log = open_log(args.log) if args.log else None
    if not _loopback(args.host):
        print(
            f"conformance emulator: warning: listening on {args.host}, reachable from other "
            "machines; the emulator is deliberately breakable (flaws, a demo key written to "
            "disk) and must only face a network you control",
            file=sys.stderr,
            flush=True,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{port}/api/v0"

    data: dict[str, Any] = EmulatorConfig.from_toml(args.config).to_dict() if args.config else {}
    state = args.state or data.get("state") or MEMORY
    if args.workers > 1 and state == MEMORY:
        # Worker processes must share the jti store and the signing key.
        state = _temporary_dir("conformance-emulator-")
    if state != MEMORY:
        Path(state).mkdir(parents=True, exist_ok=True)
    data["state"] = state
    data["flaws"] = sorted(flaws | frozenset(data.get("flaws", ())))
    data.update(variant_settings(variants))
    demo: tuple[Path, str] | None = None
    if not args.config:
        files_dir = Path(state if state != MEMORY else _temporary_dir("conformance-demo-"))
        environment, key_path, kid = _demo(files_dir, base_url)
        data["environments"] = [environment]
        data["demo_key"] = str(key_path)
        demo = (key_path, kid)
    config = EmulatorConfig.from_dict(data, source="emulator options")

    print(f"emulator: {base_url}  (workers: {args.workers}, state: {config.state})", flush=True)
    if args.log:
        print(f"request log: {'stderr' if args.log == '-' else args.log}", flush=True)
    if config.flaws:
        print(f"flaws: {', '.join(sorted(config.flaws))}", flush=True)
    if variants:
        print(f"variants: {', '.join(sorted(variants))}", flush=True)
    for env in config.environments:
        print(f"environment {env.id}  issuer {env.issuer}  jwks {env.jwks_url}", flush=True)
    if demo is not None:
        print(f"demo signing key (PEM, keep private): {demo[0]}", flush=True)
        print("# sign in and verify an assertion:\n" + _snippet(base_url, *demo), flush=True)
    sys.stdout.flush()
    return _serve(
        config,
        host=args.host,
        port=port,
        workers=args.workers,
        request_log=request_log,
        log_target=args.log,
    )


def _loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback one (``localhost`` included)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {str(info[4][0]).split("%", 1)[0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _check_listen(host: str, port: int) -> int:
    """The port to serve on, checked before anything is printed: a port in use or a host
    that is not ours is one line and exit 2, not a banner followed by a bind error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            return port or int(sock.getsockname()[1])
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "choose another --port, or a --host of this machine"
        ) from None


def _temporary_dir(prefix: str) -> str:
    """A private directory removed when the emulator stops (it may hold a demo key)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _serve(
    config: Any,
    *,
    host: str,
    port: int,
    workers: int,
    request_log: Callable[[str], None] | None = None,
    log_target: str | None = None,
) -> int:
    # lazy: the CLI starts without uvicorn and the emulator's app (starlette)
    import uvicorn

    from .emulator.app import CONFIG_ENV, create_app
    from .emulator.requestlog import LOG_ENV

    if workers == 1:
        app = create_app(config, request_log=request_log)
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return 0
    if log_target:  # each worker appends to the same log
        os.environ[LOG_ENV] = log_target
    # Workers are separate processes: they read the config from a file named in the
    # environment, and share the SQLite state and signing key in the state directory.
    config_path = Path(config.state) / CONFIG_NAME
    config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    os.environ[CONFIG_ENV] = str(config_path)
    uvicorn.run(
        "conformance.emulator.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )
    return 0
