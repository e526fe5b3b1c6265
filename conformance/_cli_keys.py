"""``conformance keys new`` and ``conformance jwks serve``: make a signing key and its JWKS,
and serve a JWKS on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError

PRIVATE_PEM = "private.pem"
PRIVATE_JWK = "private.jwk.json"
PUBLIC_JWKS = "jwks.json"


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="make signing keys", description="Make signing keys.")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    new = keys_sub.add_parser(
        "new",
        help="generate a private key and the JWKS to register",
        description="Write DIR/private.pem, DIR/private.jwk.json (both 0600) and DIR/jwks.json.",
    )
    new.add_argument(
        "--alg",
        default="ES256",
        help="RS256..RS512, PS256..PS512, ES256, ES384, ES512 or EdDSA (default ES256)",
    )
    new.add_argument("--kid", default=None, help="key id (default: the RFC 7638 thumbprint)")
    new.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write to")
    new.add_argument("--force", action="store_true", help="overwrite existing files")
    new.set_defaults(func=run_new)

    jwks = subparsers.add_parser("jwks", help="serve a JWKS", description="Serve a JWKS over HTTP.")
    jwks_sub = jwks.add_subparsers(dest="jwks_command", metavar="COMMAND", required=True)
    serve = jwks_sub.add_parser(
        "serve",
        help="serve DIR/jwks.json (or a fresh keyring's JWKS) until Ctrl-C",
        description="Serve DIR/jwks.json at /jwks.json, or without --keys a fresh keyring's JWKS.",
    )
    serve.add_argument(
        "--keys", type=Path, default=None, metavar="DIR", help="directory written by 'keys new'"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    serve.set_defaults(func=run_serve)


def _resolve_alg(text: str) -> str:
    from ._keyring import ALGS  # lazy: the CLI starts without the keyring

    by_upper = {alg.upper(): alg for alg in ALGS}
    alg = by_upper.get(text.upper())
    if alg is None:
        raise ConfigError(f"unknown --alg {text[:20]!r}; choose one of {', '.join(ALGS)}")
    return alg


def _write_secret(path: Path, data: bytes) -> None:
    # Create 0600 from the start (no window where the key is world-readable), and fix the
    # mode of a file being overwritten with --force.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def run_new(args: argparse.Namespace) -> int:
    # lazy: the CLI starts without cryptography and the keyring
    from cryptography.hazmat.primitives import serialization

    from ._keyring import make_key, private_jwk

    alg = _resolve_alg(args.alg)
    out: Path = args.out
    targets = [out / PRIVATE_PEM, out / PRIVATE_JWK, out / PUBLIC_JWKS]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not args.force:
        raise ConfigError(
            f"{', '.join(existing)} already exist; choose another --out or pass --force"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {out} ({exc.strerror}); choose another --out") from None

    key = make_key(alg, kid=args.kid, role="user")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_secret(targets[0], pem)
    _write_secret(targets[1], (json.dumps(private_jwk(key), indent=2) + "\n").encode("utf-8"))
    targets[2].write_text(
        json.dumps({"keys": [dict(key.public_jwk)]}, indent=2) + "\n", encoding="utf-8"
    )

    kid_hint = "" if args.kid is None else f" (with kid = {key.kid!r}: a PEM carries no kid)"
    print(f"made a {alg} key, kid {key.kid}")
    print(f"  {targets[0]}  private key, PEM (0600): keep it secret")
    print(f"  {targets[1]}  private key, JWK (0600): keep it secret")
    print(f"  {targets[2]}  public JWKS")
    print("next:")
    print(f"  1. publish {targets[2]} at the JWKS URL your environment is configured with")
    print(f"     (or try it locally: conformance jwks serve --keys {out})")
    print(
        f"  2. set private_key = {str(targets[1].resolve())!r} in your target configuration "
        "(a relative path there is read from the configuration file's directory)"
    )
    print(f"     (or {str(targets[0])!r}{kid_hint})")
    return 0


def _load_jwks(directory: Path) -> dict[str, Any]:
    path = directory / PUBLIC_JWKS
    try:
        jwks = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; make it with 'conformance keys new --out {directory}'"
        ) from None
    except (OSError, ValueError):
        raise ConfigError(
            f"{path} is not readable JSON; make it with 'conformance keys new'"
        ) from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ConfigError(
            f"{path} is not a JWKS (an object with a 'keys' array); "
            "make it with 'conformance keys new'"
        )
    if any(isinstance(k, dict) and ("d" in k or "k" in k) for k in jwks["keys"]):
        raise ConfigError(f"{path} holds private key material; serve only the public JWKS")
    return jwks


def run_serve(args: argparse.Namespace) -> int:
    from ._jwks_host import JWKS_PATH, JwksHost  # lazy: the CLI starts without the server

    jwks = _load_jwks(args.keys) if args.keys is not None else None
    host = JwksHost(host=args.host, port=args.port)
    if jwks is not None:
        host.override(JWKS_PATH, jwks)
    with host:
        print(f"serving JWKS at {host.jwks_url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopped", flush=True)
    return 0
