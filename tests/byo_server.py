"""BYO: a token endpoint written by a newcomer, outside the suite's code (issue 15).

Its "documentation": ``POST /token`` with a form body ``grant=byo&jwt=<assertion>&tenant=t1``
(or the JWT in an ``Authorization: JWT <assertion>`` header instead of ``jwt``).
The JWT is signed with a key of the customer's JWKS (``ES256`` or ``RS256``, a ``kid``
is required), carries ``iss`` (the customer's issuer), ``sub``, ``aud`` (``byo:<tenant>``),
``iat``, ``exp`` (at most 5 minutes after ``iat``, 30 s leeway) and a ``jti`` accepted
once. The answer is ``{"result": {"access": "<opaque>"}}``; refusals are 400 (a
malformed request) or 401 (a token refused), each ``{"error": ...}``.

It shares nothing with the suite: a stdlib ``ThreadingHTTPServer`` and PyJWT's
``PyJWKClient``. Its flaws (``FLAWS``) each break one check: ``byo_no_aud`` skips the
audience check, ``byo_replay`` forgets ``jti`` values.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt

FLAWS = ("byo_no_aud", "byo_replay")
ALGS = ["ES256", "RS256"]
MAX_LIFETIME_S = 300
LEEWAY_S = 30
MAX_BODY = 65536


class Byo:
    """The server's state: whom it trusts, the jti values it has seen, its flaws."""

    def __init__(self, issuer: str, jwks_url: str, flaws: frozenset[str]) -> None:
        self.issuer = issuer
        self.flaws = flaws
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=2, timeout=2)
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def exchange(
        self, form: dict[str, list[str]], authorization: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values is not None and len(values) == 1 else None

        grant, assertion, tenant = one("grant"), one("jwt"), one("tenant")
        scheme, _, in_header = (authorization or "").partition(" ")
        if scheme == "JWT" and in_header:
            if assertion is not None:
                return 400, {"error": "send the JWT once: a form field or the header"}
            assertion = in_header
        if grant != "byo":
            return 400, {"error": "grant must be byo"}
        if not tenant or not assertion:
            return 400, {"error": "jwt and tenant are required"}
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("alg") not in ALGS or not isinstance(header.get("kid"), str):
                return 401, {"error": "alg not allowed or kid missing"}
            key = self.jwks.get_signing_key(header["kid"])
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=ALGS,
                issuer=self.issuer,
                audience=f"byo:{tenant}",
                leeway=LEEWAY_S,
                options={
                    "require": ["iss", "sub", "aud", "iat", "exp", "jti"],
                    "verify_aud": "byo_no_aud" not in self.flaws,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return 401, {"error": "token refused"}
        sub, jti, iat, exp = claims["sub"], claims["jti"], claims["iat"], claims["exp"]
        if not isinstance(sub, str) or not sub or not isinstance(jti, str) or not jti:
            return 401, {"error": "sub and jti must be non-empty strings"}
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)):
            return 401, {"error": "iat and exp must be integers"}
        now = time.time()
        if exp - iat > MAX_LIFETIME_S or iat > now + LEEWAY_S:
            return 401, {"error": "token lifetime too long"}
        if "byo_replay" not in self.flaws:
            with self.lock:
                self.seen = {j: e for j, e in self.seen.items() if e > now}
                if jti in self.seen:
                    return 401, {"error": "token already used"}
                self.seen[jti] = exp + LEEWAY_S
        return 200, {"result": {"access": "byo_" + secrets.token_urlsafe(24)}}


def _handler(byo: Byo, jwks: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/jwks.json":
                self._send(200, jwks)
            else:
                self._send(404, b'{"error": "not found"}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != "/token" or not 0 <= length <= MAX_BODY:
                self.close_connection = True
                self._send(404 if self.path != "/token" else 413, b'{"error": "no"}')
                return
            body = self.rfile.read(length)
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind != "application/x-www-form-urlencoded":
                self._send(400, b'{"error": "form body expected"}')
                return
            try:
                form = parse_qs(body.decode("utf-8", "strict"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                self._send(400, b'{"error": "bad form"}')
                return
            status, payload = byo.exchange(form, self.headers.get("Authorization"))
            self._send(status, json.dumps(payload).encode())

    return Handler


@contextlib.contextmanager
def running(issuer: str, jwks: bytes, *, flaws: tuple[str, ...] = ()) -> Iterator[str]:
    """Serve BYO on a loopback port with ``jwks`` at ``/jwks.json``; yields its base URL."""
    unknown = set(flaws) - set(FLAWS)
    if unknown:
        raise ValueError(f"unknown BYO flaws {sorted(unknown)}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    byo = Byo(issuer, base + "/jwks.json", frozenset(flaws))
    server.RequestHandlerClass = _handler(byo, jwks)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":  # python3 tests/byo_server.py ISSUER JWKS_FILE [FLAW...]
    import sys
    from pathlib import Path

    with running(sys.argv[1], Path(sys.argv[2]).read_bytes(), flaws=tuple(sys.argv[3:])) as url:
        print(url, flush=True)
        threading.Event().wait()
