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
