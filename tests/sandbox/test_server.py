"""The sandbox's server: what its sockets do on the wire."""

from __future__ import annotations

import socket

import httpx


def test_answers_go_out_at_once_as_tmi_sends_them(sandbox):
    """Nagle's algorithm is off on every connection (TCP_NODELAY), as Go's net/http has it: with it on, an
    answer written in two parts waited for the client's delayed ACK, 40 ms a call."""
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        assert client.get("/_sandbox/health").status_code == 200
        connections = list(sandbox._server.server_state.connections)
        assert connections
        for connection in connections:
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_an_idle_connection_is_kept_as_tmi_keeps_it(sandbox):
    """TMI closes an idle keep-alive connection after 60 s (its server idle timeout; seen on 1.8.22, which
    closed it at 60.1 s); uvicorn's own default would close it after 5 s."""
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET /_sandbox/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.settimeout(6.0)  # past uvicorn's 5 s
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        assert not closed
