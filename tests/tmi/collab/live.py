"""Upstream sessions of the collaboration test world's users, and a reader of their portal frames."""

from __future__ import annotations

import asyncio
from typing import Any

from portal.tmi import AsyncTMIClient, User
from portal.tmi.collab import UpstreamSession
from tests.sandbox.collab_world import World

FAST = (0.01,) * 5  # the guide's five attempts, without the waiting


class Peer:
    """One user's UpstreamSession and the frames it has produced so far."""

    def __init__(self, world: World, name: str, session: UpstreamSession) -> None:
        self.world, self.name, self.session = world, name, session
        self.stream = session.messages()

    @property
    def id(self) -> str:
        return self.world.users[self.name].provider_id

    async def next(self, timeout: float = 3.0) -> dict[str, Any]:
        return await asyncio.wait_for(anext(self.stream), timeout)

    async def until(self, frame_type: str, timeout: float = 3.0, **fields: Any) -> dict[str, Any]:
        """The next frame of `frame_type` (with `fields`), skipping others."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            frame = await self.next(max(0.01, deadline - asyncio.get_running_loop().time()))
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    async def roster(self, *ids: str, timeout: float = 3.0) -> dict[str, Any]:
        """The next `participants` frame listing exactly `ids` (TMI may repeat earlier ones)."""
        while True:
            frame = await self.until("participants", timeout)
            if sorted(p["user"]["id"] for p in frame["participants"]) == sorted(ids):
                return frame

    async def collect(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Every frame that arrives within `seconds`."""
        found: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                found.append(await self.next(left))
            except (TimeoutError, StopAsyncIteration):
                break
        return found

    async def send(self, frame: Any) -> dict[str, Any] | None:
        return await self.session.send(frame)


async def open_peer(world: World, name: str, **options: Any) -> Peer:
    client = AsyncTMIClient(world.server.base_url, auth=world.tokens[name], max_retries=0, timeout=5)
    options.setdefault("delays", FAST)
    options.setdefault("me", User(**world.users[name].principal()))
    session = UpstreamSession(client, world.tm_id, world.diagram_id, **options)
    await session.start()
    return Peer(world, name, session)


async def shut(peer: Peer) -> None:
    await peer.session.close()
    await peer.session.client.aclose()
