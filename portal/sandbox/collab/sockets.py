"""What ASGI cannot say: close frames without a status, abrupt TCP closes, and pings.

TMI (Gorilla) produces all three (PROTOCOL.md 7.11). ASGI has no event for them, so these helpers
reach the uvicorn protocol object behind the socket (its websockets-sansio implementation, which
uvicorn picks whenever `websockets` is installed). They are the only uvicorn-specific code here.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.websockets import WebSocket


def _protocol(websocket: WebSocket) -> Any:
    # Starlette hands the server's own `receive` through unwrapped; it is a bound method of the
    # per-connection uvicorn protocol.
    protocol = getattr(websocket._receive, "__self__", None)
    if protocol is None or not hasattr(protocol, "transport") or not hasattr(protocol, "conn"):
        raise RuntimeError("collaboration sockets need uvicorn's websockets-sansio protocol")
    return protocol


async def close(websocket: WebSocket, code: int | None, reason: str = "") -> None:
    """Send a close frame; `code=None` sends an empty payload, which the peer reads as 1005."""
    await websocket.send({"type": "websocket.close", "code": code, "reason": reason})


def abort(websocket: WebSocket, *, discard: bool = False) -> None:
    """Close the TCP connection with no close frame (the peer sees 1006). Bytes already written,
    such as an error frame sent just before, are still flushed unless `discard` (a peer that
    stopped reading would otherwise keep the connection open forever)."""
    transport = _protocol(websocket).transport
    if discard:
        transport.abort()
    elif not transport.is_closing():
        transport.close()


def send_ping(websocket: WebSocket) -> None:
    """Send a ping whose pong uvicorn will recognise (it clears `pending_ping_payload`)."""
    protocol = _protocol(websocket)
    if protocol.transport.is_closing() or protocol.close_sent:
        return
    payload = os.urandom(4)
    protocol.pending_ping_payload = payload
    protocol.conn.send_ping(payload)
    protocol.transport.write(b"".join(protocol.conn.data_to_send()))


def pong_received(websocket: WebSocket) -> bool:
    """Whether the last ping sent by `send_ping` has been answered."""
    return _protocol(websocket).pending_ping_payload is None
