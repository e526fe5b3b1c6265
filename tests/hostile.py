"""A hostile Dynamic-profile target for the project's own tests (loopback only).

:class:`HostileWorld` starts a JWKS host and a clean emulator, and in front of it a small
raw-socket HTTP/1.1 proxy (:class:`HostileProxy`) that forwards every request to the
emulator, so valid assertions are accepted, and then rewrites the answer byte by byte
according to a **mode** chosen by the first path segment::

    http://127.0.0.1:PORT/<mode>/api/v0/sdk/{env}/externalAuth/verify

The first ``GRACE`` verify calls and the first sign-in of each proxy are honest (the
run's baseline must be accepted for a run to start at all); everything after them is
hostile. A raw socket, not an ASGI middleware, because half the modes break HTTP framing
(more bytes than ``Content-Length``, a 204 with a body, a reset mid-body, slow headers),
which an ASGI server refuses to send.

``world.config(mode)`` writes a ``[target]`` TOML (configured Dynamic profile) for one
mode, usable with ``conformance run --config`` or ``load_run_config`` + ``open_configured``.
The proxy records every bearer, assertion and session token it saw (``secrets``) so a
test can assert none of them reaches an output.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import socketserver
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from conformance import _http
from conformance._jwks_host import JwksHost
from conformance._keyring import Keyring
from conformance.emulator import EmulatorConfig, Environment, run_emulator

ISSUER = "https://issuer.hostile.test"
#: verify calls answered honestly before the hostility starts (the run's baseline)
GRACE = 1

XSS = '<script>alert("x")</script><img src="https://evil.example/x.png" onerror="alert(1)">'
#: ESC sequences, CR, NUL, DEL, C1 (NEL, CSI), bidi overrides and isolates
ESCAPES = (
    "\x1b[31mRED\x1b[0m\x1b]0;title\x07\rOVERWRITE\x00\x7f\x85\x9b2J\u202eevil\u2066x\u2069\u200f"
)

#: every mode; the garbage modes never carry an answer that may be judged
MODES = (
    "xss",
    "escapes",
    "huge",
    "gzip",
    "broken_json",
    "deep_json",
    "storm",
    "reset",
    "redirect",
    "lying_date",
    "echo",
    "signin",
    "extra_bytes",
    "no_content",
    "slow_headers",
    "worst",
)
#: modes whose every hostile answer is garbage: a case may end in ``error`` or ``skip`` only
GARBAGE = frozenset(
    {
        "huge",
        "gzip",
        "broken_json",
        "deep_json",
        "storm",
        "reset",
        "redirect",
        "no_content",
        "slow_headers",
    }
)


@dataclass
class Seen:
    """What crossed the proxy: the secrets no output may repeat."""

    bearers: set[str] = field(default_factory=set)
    assertions: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)  # session and elevated tokens issued
    lock: threading.Lock = field(default_factory=threading.Lock)

    def secrets(self) -> set[str]:
        """Full bearers and tokens, and the signature segment of every JWT seen."""
        with self.lock:
            found = {b for b in self.bearers if len(b) >= 16}
            for jwt in self.assertions | self.tokens:
                found.add(jwt)
                parts = jwt.split(".")
                if len(parts) == 3 and len(parts[2]) >= 16:
                    found.add(parts[2])
            return found


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _reason(status: int) -> str:
    return {200: "OK", 204: "No Content", 307: "Temporary Redirect", 401: "Unauthorized",
            429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "X")  # fmt: skip


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_reason(status)}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _json(status: int, doc: Any, extra: list[tuple[str, str]] | None = None) -> Answer:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return Answer(status, [("content-type", "application/json"), *(extra or [])], body)


_BOMB: list[bytes] = []


def _bomb() -> bytes:
    """64 MiB of zeros, gzip-compressed (about 64 KiB on the wire), made once."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b"\0" * (64 << 20), compresslevel=9))
    return _BOMB[0]


class HostileProxy(socketserver.ThreadingTCPServer):
    """The raw proxy; ``upstream`` is the emulator's root URL (no ``/api/v0``)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: str, *, slow_s: float = 3.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.slow_s = slow_s
        self.seen = Seen()
        self.verify_calls = 0
        self.signins = 0
        self.counter_lock = threading.Lock()
        self.client = _http.client(timeout_s=10.0)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def base_url(self, mode: str) -> str:
        return f"{self.root}/{mode}/api/v0"


class _Handler(socketserver.BaseRequestHandler):
    server: HostileProxy

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(15)
        buffer = b""
        with contextlib.suppress(OSError):
            while True:
                request, buffer = _read_request(sock, buffer)
                if request is None:
                    return
                if not self.answer(sock, *request):
                    return

    def answer(self, sock: socket.socket, method: str, target: str, headers: dict[str, str],
               body: bytes) -> bool:  # fmt: skip
        """Answer one request; ``False`` closes the connection."""
        proxy = self.server
        _, mode, rest = target.split("/", 2) if target.count("/") >= 2 else ("", "", "")
        if mode == "redirected":
            # where the redirect mode points: an "acceptance" no client should believe
            return _send(sock, _json(200, {"elevatedAccessToken": "redirected.not.a-token"}))
        path = "/" + rest
        verify = method == "POST" and path.endswith("/externalAuth/verify")
        signin = method == "POST" and path.endswith("/externalAuth/signin")
        self._record(headers, body)
        upstream = proxy.client.request(
            method,
            proxy.upstream + path,
            content=body or None,
            headers={k: v for k, v in headers.items() if k in ("authorization", "content-type")},
        )
        honest = Answer(
            upstream.status_code,
            [("content-type", upstream.headers.get("content-type", "application/json"))],
            upstream.content,
        )
        self._record_tokens(upstream.content)
        with proxy.counter_lock:
            if verify:
                proxy.verify_calls += 1
                hostile = proxy.verify_calls > GRACE
            elif signin:
                proxy.signins += 1
                hostile = proxy.signins > 1
            else:
                hostile = False
        if (
            mode not in MODES
            or not (verify or signin)
            or not hostile
            or (verify and mode == "signin")
        ):
            return _send(sock, honest)
        if signin:
            return _send(sock, _hostile_signin(mode, honest))
        return self.hostile(sock, mode, honest, headers, body)

    def hostile(self, sock: socket.socket, mode: str, honest: Answer, headers: dict[str, str],
                body: bytes) -> bool:  # fmt: skip
        doc = _doc(honest.body)
        if mode in ("xss", "escapes", "worst"):
            taint = {"xss": XSS, "escapes": ESCAPES, "worst": XSS + ESCAPES}[mode]
            doc["error"] = f"{taint} {doc.get('error', '')}"
            doc[taint] = taint  # a hostile key too
            # a header can carry C1 and Latin-1 raw (obs-text); ESC or NUL would void it
            extra = [("x-note", "\x85\x9b2J\xe9 " + ("<script>" if mode != "escapes" else ""))]
            if mode == "worst":
                doc["echo"] = {
                    "authorization": headers.get("authorization", ""),
                    "body": body.decode(),
                }
                extra.append(("date", "Thu, 01 Jan 2099 00:00:00 GMT"))
            extra = [(k, _header_safe(v)) for k, v in extra]
            return _send(sock, _json(honest.status, doc, extra))
        if mode == "echo":
            bearer = headers.get("authorization", "")
            doc["error"] = f"{doc.get('error', '')} you sent {bearer} and {body.decode()}"
            doc["request"] = {"authorization": bearer, "jwt": _doc(body).get("jwt")}
            return _send(sock, _json(honest.status, doc, [("x-echo", _header_safe(bearer))]))
        if mode == "lying_date":
            lie = formatdate(time.time() + 3 * 86400 * 365, usegmt=True)
            honest.headers.append(("date", lie))
            return _send(sock, honest)
        if mode == "huge":
            padding = "A" * (24 << 20)
            return _send(sock, _json(200, {"error": "huge", "padding": padding}))
        if mode == "gzip":
            bomb = _bomb()
            head = [("content-type", "application/json"), ("content-encoding", "gzip")]
            return _send(sock, Answer(200, head, bomb))
        if mode == "broken_json":
            raw = b'{"elevatedAccessToken": "eyJ\x00, "error": "unterminated'
            return _send(sock, Answer(200, [("content-type", "application/json")], raw))
        if mode == "deep_json":
            raw = b'{"elevatedAccessToken": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
            return _send(sock, Answer(200, [("content-type", "application/json")], raw))
        if mode == "storm":
            status = 429 if proxy_count(self.server) % 2 else 503
            values = ("999999999", "-5", "nan", "1e309", "Wed, 21 Oct 2015 07:28:00 GMT", "1\x85")
            retry = values[proxy_count(self.server) % len(values)]
            return _send(
                sock, _json(status, {"error": "slow down"}, [("retry-after", _header_safe(retry))])
            )
        if mode == "reset":
            answer = _json(200, {"elevatedAccessToken": "x" * 4096})
            sock.sendall(_head(200, [*answer.headers, ("content-length", str(len(answer.body)))]))
            sock.sendall(answer.body[:100])
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # RST mid-body
            return False
        if mode == "redirect":
            location = f"{self.server.root}/redirected/api/v0/"
            return _send(sock, Answer(307, [("location", location)], b""))
        if mode == "extra_bytes":
            smuggled = _json(200, {"elevatedAccessToken": "smuggled.not.a-token"})
            tail = _head(200, [*smuggled.headers, ("content-length", str(len(smuggled.body)))])
            head = [*honest.headers, ("content-length", str(len(honest.body)))]
            sock.sendall(_head(honest.status, head) + honest.body + tail + smuggled.body)
            return True
        if mode == "no_content":
            payload = json.dumps({"elevatedAccessToken": "no.content-token"}).encode()
            sock.sendall(_head(204, [("content-type", "application/json"),
                                     ("content-length", str(len(payload)))]) + payload)  # fmt: skip
            return True
        if mode == "slow_headers":
            raw = _head(200, [("content-type", "application/json"), ("content-length", "2")])
            step = self.server.slow_s / len(raw)
            for byte in raw:  # one byte at a time: no single read ever times out
                sock.sendall(bytes([byte]))
                time.sleep(step)
            sock.sendall(b"{}")
            return True
        raise AssertionError(mode)

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        seen = self.server.seen
        with seen.lock:
            bearer = headers.get("authorization", "")
            if bearer.lower().startswith("bearer "):
                seen.bearers.add(bearer[7:].strip())
            jwt = _doc(body).get("jwt")
            if isinstance(jwt, str):
                seen.assertions.add(jwt)

    def _record_tokens(self, content: bytes) -> None:
        doc = _doc(content)
        with self.server.seen.lock:
            for key in ("jwt", "elevatedAccessToken"):
                value = doc.get(key)
                if isinstance(value, str):
                    self.server.seen.tokens.add(value)


def proxy_count(proxy: HostileProxy) -> int:
    return proxy.verify_calls


def _hostile_signin(mode: str, honest: Answer) -> Answer:
    """A hostile sign-in answer: a "session" that is markup and escapes, never a JWT."""
    if mode != "signin":
        return honest
    return _json(200, {"jwt": f"{XSS}{ESCAPES}", "user": {"id": XSS}})


def _header_safe(value: str) -> str:
    """What a header can still carry raw: everything but CR, LF (they would end it)."""
    return value.replace("\r", "").replace("\n", "")


def _doc(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _send(sock: socket.socket, answer: Answer) -> bool:
    headers = [*answer.headers, ("content-length", str(len(answer.body)))]
    sock.sendall(_head(answer.status, headers) + answer.body)
    return True


def _read_request(
    sock: socket.socket, buffer: bytes
) -> tuple[tuple[str, str, dict[str, str], bytes] | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk or len(buffer) > 1 << 20:
            return None, b""
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    return (method, target, headers, buffer[:length]), buffer[length:]


class HostileWorld:
    """A JWKS host, a clean emulator and the hostile proxy; configs per mode in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keyring = Keyring(published_algs=("ES256",))
        self.key = self.keyring.trusted("ES256")
        self.env_id = str(uuid.uuid4())
        self._stack = contextlib.ExitStack()
        self.proxy: HostileProxy | None = None
        self.upstream = ""

    def __enter__(self) -> HostileWorld:
        host = self._stack.enter_context(JwksHost(self.keyring))
        env = Environment(id=self.env_id, issuer=ISSUER, jwks_url=host.jwks_url)
        emulator = self._stack.enter_context(run_emulator(EmulatorConfig(environments=(env,))))
        self.upstream = emulator.root_url
        pem = self.key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (self.root / "key.pem").write_bytes(pem)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @contextlib.contextmanager
    def serving(self, *, slow_s: float = 3.0) -> Iterator[HostileProxy]:
        """A fresh proxy (fresh grace counters and records) for one run."""
        proxy = HostileProxy(self.upstream, slow_s=slow_s)
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            proxy.shutdown()
            proxy.server_close()
            proxy.client.close()
            thread.join(timeout=5)

    def config(self, proxy: HostileProxy, mode: str, *, timeout_s: float = 2.0) -> Path:
        """A ``[target]`` TOML for ``mode`` (configured Dynamic profile) next to the key."""
        path = self.root / f"{mode}.toml"
        path.write_text(
            f"""
[target]
base_url = "{proxy.base_url(mode)}"
environment_id = "{self.env_id}"
issuer = "{ISSUER}"

[[target.keys]]
kid = "{self.key.kid}"
alg = "ES256"
private_key = "key.pem"

[transport]
timeout_s = {timeout_s}
retries = 1
max_retry_after_s = 1
rate_limit_per_s = 1000
""",
            encoding="utf-8",
        )
        return path


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started
