"""Loopback services that are not TMI, for the address-guard tests: each counts the connections it
accepts and keeps what each one sent first, so a test can prove the portal never reached it."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

JSON_OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n"
           b'{"status":"ok"}')


def redirect_to(location: str) -> bytes:
    return (f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .encode())


class Listener:
    """A TCP service on 127.0.0.1 (a free port) answering every connection with `reply`."""

    def __init__(self, reply: bytes = JSON_OK) -> None:
        self.reply = reply
        self.accepted = 0
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"listener-{self.port}", daemon=True)
        self._thread.start()

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # the accept timeout, or the socket closed by stop()
                continue
            self.accepted += 1
            with conn:
                conn.settimeout(2)
                received = b""
                try:
                    while b"\r\n\r\n" not in received and len(received) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        received += chunk
                    self.requests.append(received)
                    conn.sendall(self.reply)
                except OSError:
                    self.requests.append(received)

    def host_headers(self) -> list[str]:
        return [line.split(b":", 1)[1].strip().decode() for request in self.requests
                for line in request.split(b"\r\n") if line.lower().startswith(b"host:")]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def listener_factory() -> Iterator[Callable[..., Listener]]:
    started: list[Listener] = []

    def start(reply: bytes = JSON_OK) -> Listener:
        started.append(Listener(reply))
        return started[-1]

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def listener(listener_factory) -> Listener:
    """A non-TMI service on loopback that answers JSON and counts connections."""
    return listener_factory()
