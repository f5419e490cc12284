"""Collaboration sessions and the WebSocket protocols of both TMI generations (PROTOCOL.md 6, 7, 9.4-9.6).

app.py mounts `routes(state)` and runs `running(state)` for the app's lifetime.
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
    return [*rest.routes(state),
            WebSocketRoute("/threat_models/{tm_id}/diagrams/{diagram_id}/ws", ws.endpoint(state))]


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
