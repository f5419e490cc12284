"""The collaboration WebSocket endpoint: `/threat_models/{tm}/diagrams/{d}/ws` (PROTOCOL.md 7.1, 9.5)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response
from starlette.websockets import WebSocket

from portal.sandbox.collab import sockets
from portal.sandbox.collab.access import Target, invalid_path_id, resolve
from portal.sandbox.collab.hub import Hub
from portal.sandbox.collab.session import Connection, Session
from portal.sandbox.state import SandboxState, SandboxUser

READ_DEADLINE_PINGS = 3  # TMI's 90 s read deadline is three 30 s ping intervals


def endpoint(state: SandboxState) -> Callable[[WebSocket], Awaitable[None]]:
    hub = Hub.of(state)

    async def collaborate(websocket: WebSocket) -> None:
        protocol = hub.protocol
        tm_id, diagram_id = websocket.path_params["tm_id"], websocket.path_params["diagram_id"]
        user = check_before_upgrade(hub, websocket, tm_id, diagram_id)
        if not isinstance(user, SandboxUser):  # refused with an ordinary HTTP error
            await websocket.send_denial_response(user)
            return

        await websocket.accept()
        conn = Connection(websocket, user, protocol.permissions(user, tm_id) or "reader", state.timestamp())
        writer = asyncio.create_task(conn.run_writer())
        session = admit_after_upgrade(hub, conn, tm_id, diagram_id, websocket.query_params.get("session_id"))
        keepalive = asyncio.create_task(keep_alive(hub, session, conn)) if session else None
        try:
            await receive_loop(hub, session, conn)
        finally:
            if keepalive is not None:
                keepalive.cancel()
            if session is not None:
                protocol.depart(session, conn)
            writer.cancel()  # the peer is gone: anything still queued has nowhere to go
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    return collaborate


def check_before_upgrade(hub: Hub, websocket: WebSocket, tm_id: str, diagram_id: str) -> SandboxUser | Response:
    """Credential, then the threat-model ACL (reader), then the generation's extra rules."""
    protocol = hub.protocol
    failure = invalid_path_id(hub.state, websocket.path_params)
    if failure is not None:
        return failure
    user = protocol.authenticate_socket(websocket)
    if not isinstance(user, SandboxUser):
        return user
    target = resolve(
        hub.state, user, tm_id, diagram_id, with_groups=protocol.socket_groups, denied=protocol.forbidden()
    )
    if not isinstance(target, Target):
        return target
    return protocol.admit(websocket, user, hub.session_for(diagram_id)) or user


def admit_after_upgrade(
    hub: Hub, conn: Connection, tm_id: str, diagram_id: str, requested_session: str | None
) -> Session | None:
    """Join the diagram's session (creating it if needed), or queue the refusal and return None."""
    protocol = hub.protocol
    if protocol.permissions(conn.user, tm_id) is None:
        conn.send(
            protocol.error("unauthorized", "You don't have sufficient permissions to collaborate on this diagram")
        )
        conn.abort()
        return None
    session = hub.session_for(diagram_id) or hub.create_session(tm_id, diagram_id, conn.user)
    if requested_session and requested_session != session.id:
        conn.close(1000, "Session ID mismatch")
        return None
    if protocol.is_denied(session, conn.user):
        conn.send(
            protocol.error("access_denied", "You have been removed from this collaboration session and cannot rejoin")
        )
        conn.abort()
        return None
    hub.attach(session, conn)
    return session


async def receive_loop(hub: Hub, session: Session | None, conn: Connection) -> None:
    """Read frames until the peer is gone; non-JSON frames are dropped silently."""
    while True:
        frame: dict[str, Any] = await conn.websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        if session is None or session.terminating or conn not in session.connections:
            continue  # refused, removed, or the session is ending: input no longer counts
        try:
            message = json.loads(frame.get("text") or frame.get("bytes") or b"")
        except ValueError:
            continue
        if isinstance(message, dict):
            conn.last_activity = hub.state.timestamp()
            hub.protocol.handle(session, conn, message)


async def keep_alive(hub: Hub, session: Session, conn: Connection) -> None:
    """Ping every interval; drop a peer whose pongs stop; 1.8 re-checks read access at each ping."""
    interval = hub.state.config.ws_ping_interval_seconds
    loop = asyncio.get_running_loop()
    last_pong = loop.time()
    while not conn.ending:
        await asyncio.sleep(interval)
        if conn.ending:
            return
        if hub.protocol.access_revoked(session, conn):
            conn.close(4403, "access revoked")
            return
        if sockets.pong_received(conn.websocket):
            last_pong = loop.time()
        elif loop.time() - last_pong > READ_DEADLINE_PINGS * interval:
            conn.abort(now=True)
            return
        sockets.send_ping(conn.websocket)
