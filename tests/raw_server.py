"""A loopback HTTP/1.1 server that writes exactly the bytes a test scripts: the hostile
framings (more bytes than announced, a body after a 204, headers a byte at a time) that
no well-behaved server library can be made to produce."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

#: What to write for one request: bytes are sent as they are, a float is a pause (s),
#: :data:`CLOSE` closes the connection.
Script = Sequence[bytes | float | str]
CLOSE = "close"


def answer(
    status: int, body: bytes = b"", *, headers: str = "", length: int | None = None
) -> bytes:
    """One HTTP/1.1 answer; ``length`` overrides the announced ``Content-Length``."""
    announced = len(body) if length is None else length
    head = f"HTTP/1.1 {status} X\r\ncontent-length: {announced}\r\n{headers}\r\n"
    return head.encode() + body


@dataclass
class RawServer:
    respond: Callable[[int, bytes], Script]
    requests: list[tuple[int, bytes]] = field(default_factory=list)  # (connection, request)
    connections: int = 0
    url: str = ""
    open: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _serve(self, conn: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError):  # the client, or the test's end, closed it
            self._answer(conn, number)

    def _answer(self, conn: socket.socket, number: int) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                request, buffer = head + b"\r\n\r\n" + rest[:length], rest[length:]
                with self.lock:
                    index = len(self.requests)
                    self.requests.append((number, request))
                try:
                    for step in self.respond(index, request):
                        if isinstance(step, bytes):
                            conn.sendall(step)
                        elif step == CLOSE:
                            conn.shutdown(socket.SHUT_RDWR)
                            return
                        else:
                            time.sleep(float(step))
                except OSError:
                    return  # the client closed: it gave up on this answer


@contextmanager
def raw_server(respond: Callable[[int, bytes], Script]) -> Iterator[RawServer]:
    server = RawServer(respond)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections += 1
            server.open.append(conn)
            threading.Thread(
                target=server._serve, args=(conn, server.connections), daemon=True
            ).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        done.set()
        thread.join(timeout=2)
        listener.close()
        for conn in server.open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
