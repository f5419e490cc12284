"""The browser's live socket for one diagram: checks who is asking, then moves frames between the
browser and a `LiveBridge` (portal/live/bridge.py). Protocol: docs/live-protocol.md."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from portal.live.bridge import LiveBridge
from portal.organizations.access import OrganizationNotFound, aorganization_access_resolve
from portal.tmi.collab import RECONNECT_DELAYS, frames
from portal.tmi.collab.endings import ended

# Closed before accept: not signed in, not a member, another organisation's slug. The same for all,
# so a socket cannot be used to discover tenants.
CLOSE_NOT_FOUND = 4404
CLOSE_POLICY = 1008
log = logging.getLogger(__name__)


class LiveDiagramConsumer(AsyncWebsocketConsumer):
    # No channel layer: everything this socket hears comes from its own TMI connection, and a layer
    # would hold one more blocking Redis read per open diagram. An alias that is not configured
    # makes Channels skip it.
    channel_layer_alias = "live-sockets-use-no-layer"
    bridge: LiveBridge | None = None
    relay: asyncio.Task | None = None

    async def connect(self) -> None:
        route = self.scope["url_route"]["kwargs"]
        try:
            access = await aorganization_access_resolve(slug=route["slug"], user=self.scope.get("user"))
        except OrganizationNotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()
        self.channel_name = f"live.{uuid.uuid4().hex}"
        self.bridge = LiveBridge(organization=access.organization, user=self.scope["user"],
                                 threat_model_id=str(route["threat_model_id"]), diagram_id=str(route["diagram_id"]),
                                 channel_name=self.channel_name, deliver=self.deliver,
                                 delays=getattr(settings, "LIVE_RECONNECT_DELAYS", RECONNECT_DELAYS))
        self.relay = asyncio.create_task(self._relay())

    async def _relay(self) -> None:
        try:
            await self.bridge.run()
        except Exception:  # a bug must end the page's session visibly, never leave it hanging
            log.exception("live bridge failed")
            with contextlib.suppress(Exception):
                await self.deliver(ended("connection_lost"))
        # The session is over (the browser has its `ended`); a cancelled relay means the browser left.
        with contextlib.suppress(Exception):
            await self.close(code=1000)

    async def deliver(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.bridge is None:
            return
        if text_data is None:
            error = frames.error("invalid_frame", "Send JSON text frames, not binary ones.")
        else:
            error = await self.bridge.send(text_data)
        if error is None:
            return
        await self.deliver(error)
        if not self.bridge.strike():
            await self.deliver(ended("too_many_errors"))
            await self.close(code=CLOSE_POLICY)

    async def disconnect(self, code: int) -> None:
        if self.relay is not None:
            self.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.relay
