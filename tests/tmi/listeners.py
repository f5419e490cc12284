"""Loopback services that are not TMI, for the address-guard tests: each counts the connections it
accepts and keeps what each one sent first, so a test can prove the portal never reached it."""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

JSON_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n"
    b'{"status":"ok"}'
)


def redirect_to(location: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()


def tls_contexts(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) TLS contexts: the server holds a certificate for `name` from a throwaway CA that
    only the client trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as folder:
        chain, private = Path(folder, "cert.pem"), Path(folder, "key.pem")
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(chain, private)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


class Listener:
    """A TCP service on 127.0.0.1 (a free port) answering every connection with `reply`; with `tls`, over
    TLS, keeping the server name each client asked for (SNI)."""

    def __init__(self, reply: bytes = JSON_OK, tls: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.accepted = 0
        self.requests: list[bytes] = []
        self.server_names: list[str | None] = []
        self.tls = tls
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
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
            if self.tls is not None:
                conn.settimeout(2)
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except OSError:  # the client refused our certificate
                    conn.close()
                    continue
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
        return [
            line.split(b":", 1)[1].strip().decode()
            for request in self.requests
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"host:")
        ]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def listener_factory() -> Iterator[Callable[..., Listener]]:
    started: list[Listener] = []

    def start(reply: bytes = JSON_OK, tls: ssl.SSLContext | None = None) -> Listener:
        started.append(Listener(reply, tls))
        return started[-1]

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def listener(listener_factory) -> Listener:
    """A non-TMI service on loopback that answers JSON and counts connections."""
    return listener_factory()
