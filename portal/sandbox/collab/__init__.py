"""Collaboration sessions and the WebSocket protocols of both TMI generations (PROTOCOL.md 6, 7, 9.4-9.6).

app.py mounts `routes(state)` and runs `running(state)` for the app's lifetime.

  rest.py       /collaborate, the session lists, 1.8's /ws/ticket, /_sandbox/sockets (list, drop)
  ws.py         the socket endpoint: checks before and after the upgrade, the read loop, pings
  hub.py        live sessions (kept in state.sessions), their end, the cleanup loop
  session.py    Session and Connection (a per-client outbox drained by one writer task)
  protocol.py   message handling both generations share; protocol_18.py / protocol_0217.py the rest
  cells.py      applying a patch operation; history.py  undo/redo; tickets.py  1.8 tickets
  access.py     the threat-model/diagram gate; sockets.py  the uvicorn-level close, abort and ping
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.routing import BaseRoute, WebSocketRoute

from portal.sandbox.collab import rest, ws
from portal.sandbox.collab.hub import Hub
from portal.sandbox.state import SandboxState


def routes(state: SandboxState) -> list[BaseRoute]:
    return [*rest.routes(state), WebSocketRoute("/threat_models/{tm_id}/diagrams/{diagram_id}/ws", ws.endpoint(state))]


@contextlib.asynccontextmanager
async def running(state: SandboxState) -> AsyncIterator[None]:
    """Run the session cleanup loop while the app is up."""
    task = asyncio.create_task(Hub.of(state).cleanup_loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
