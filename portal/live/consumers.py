"""The browser's live socket for one diagram: checks who is asking, then moves frames between the
browser and a `LiveBridge` (portal/live/bridge.py). Protocol: docs/live-protocol.md.

The bridge holds a TMI socket (TMI allows 5 per user), so however this consumer ends (the browser's
close, a close of ours, daphne dropping an oversized message, a fault, daphne cancelling the
application) the relay is cancelled and awaited, and the bridge leaves TMI. Channels calls `disconnect`
only for a `websocket.disconnect` event, so the same cleanup also runs when the application itself
ends (`__call__`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from portal.live.bridge import LiveBridge
from portal.live.closes import CLOSES, close_after_ending
from portal.live.endings import ended_frame
from portal.live.sending import frame_sender
from portal.live.services import alive_model_sync_ask
from portal.organizations.access import OrganizationNotFound, aorganization_access_resolve
from portal.tmi.collab import RECONNECT_DELAYS, frames
from portal.tmi.collab.fanout import frame_text

# Closed before accept: not signed in, not a member, another organisation's slug. The same for all,
# so a socket cannot be used to discover tenants.
CLOSE_NOT_FOUND = CLOSES["not_found"].code
CLOSE_POLICY = CLOSES["policy"].code
CLOSE_INTERNAL_ERROR = CLOSES["internal_error"].code
log = logging.getLogger(__name__)


class LiveDiagramConsumer(AsyncWebsocketConsumer):
    bridge: LiveBridge | None = None
    relay: asyncio.Task | None = None
    closed = False

    async def __call__(self, scope, receive, send) -> None:
        """Channels' own loop, with what this consumer does not use taken out.

        No channel layer: everything this socket hears comes from its own TMI connection, and a layer would hold
        one more blocking Redis read per open diagram. That leaves one source of messages, the browser's socket,
        so they are awaited one at a time: Channels' loop for several sources wraps each wait in a new task and an
        `asyncio.wait`, three turns of the event loop between daphne and the handler instead of one."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:  # websocket_disconnect's way of ending, as in Channels
            pass
        finally:
            # A handler that raised, or daphne cancelling the application, skips `disconnect`.
            await self._stop_relay()

    async def dispatch(self, message) -> None:
        # Channels closes stale database connections, in a trip to the database thread, before every message.
        # Every database call of this consumer and its bridge is a database_sync_to_async, which does that
        # itself in the thread it runs in: the trip was the relay's largest wait, and one of each connect's.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        route = self.scope["url_route"]["kwargs"]
        try:
            access = await aorganization_access_resolve(slug=route["slug"], user=self.scope.get("user"))
        except OrganizationNotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()
        # The upgrade's headers (cookies and all) would stay as long as the socket: every middleware's copy of
        # the scope and daphne share this one list, and nothing reads it after the handshake.
        if isinstance(self.scope.get("headers"), list):
            self.scope["headers"].clear()
        self.send_text = frame_sender(self.base_send)
        self.channel_name = f"live.{uuid.uuid4().hex}"
        self.bridge = LiveBridge(
            organization=access.organization,
            user=self.scope["user"],
            threat_model_id=str(route["threat_model_id"]),
            diagram_id=str(route["diagram_id"]),
            channel_name=self.channel_name,
            deliver=self.deliver,
            delays=getattr(settings, "LIVE_RECONNECT_DELAYS", RECONNECT_DELAYS),
        )
        self.relay = asyncio.create_task(self._relay())
        await self._model_sync_ask(opening=True)

    async def _model_sync_ask(self, *, opening: bool = False) -> None:
        if self.bridge is not None:
            await alive_model_sync_ask(
                organization=self.bridge.organization, threat_model_id=self.bridge.threat_model_id, opening=opening
            )

    async def _relay(self) -> None:
        """The bridge's lifetime: TMI -> browser until the session ends, then the socket closes with the
        code that goes with the `ended` reason. A cancelled relay means the browser left, or we closed."""
        try:
            await self.bridge.run()
        except Exception:  # a fault in the portal: the bridge has left TMI; the page reconnects afresh
            log.exception("live bridge failed")
            await self._close(CLOSE_INTERNAL_ERROR)
            return
        await self._close(close_after_ending(self.bridge.ending))

    async def deliver(self, frame: dict[str, Any]) -> None:
        if not self.closed:
            await self.send_text(frame_text(frame))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.bridge is None or self.closed:
            return
        try:
            if text_data is None:
                error = frames.error("invalid_frame", "Send JSON text frames, not binary ones.")
            else:
                error = await self.bridge.send(text_data)
            if error is None:
                return
            await self.deliver(error)
            if not self.bridge.strike():
                await self.deliver(ended_frame("too_many_errors"))
                await self._end(CLOSE_POLICY)
        except Exception:  # a fault in the portal: leave TMI and let the page start afresh
            log.exception("live frame failed")
            await self._end(CLOSE_INTERNAL_ERROR)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        await self._stop_relay()
        await self._model_sync_ask()

    async def _close(self, code: int) -> None:
        """Close the browser's socket once, with a code autobahn accepts (portal/live/closes.py)."""
        if self.closed:
            return
        self.closed = True
        try:
            await self.close(code=code)
        except Exception:  # the socket is gone already: nothing left to tell the browser
            log.info("live socket could not be closed with %s", code, exc_info=True)

    async def _end(self, code: int) -> None:
        """Close the browser's socket and leave TMI now, without waiting for the browser's reply."""
        await self._close(code)
        await self._stop_relay()

    async def _stop_relay(self) -> None:
        """Cancel the relay and wait until the bridge has left TMI. Safe to call more than once and from
        any exit path; if this consumer is itself cancelled meanwhile, the relay still finishes leaving."""
        relay, self.relay = self.relay, None
        if relay is None:
            return
        relay.cancel()
        await asyncio.wait([relay])
        if not relay.cancelled() and relay.exception() is not None:
            log.error("live relay failed", exc_info=relay.exception())
