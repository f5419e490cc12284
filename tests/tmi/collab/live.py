"""Upstream sessions of the collaboration test world's users, and a reader of their portal frames."""

from __future__ import annotations

import asyncio
from typing import Any

from portal.tmi import AddressGuard, AsyncTMIClient, User
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

    async def roster(
        self, *ids: str, timeout: float = 3.0, roles: dict[str, bool | None] | None = None
    ) -> dict[str, Any]:
        """The next `participants` frame listing exactly `ids` (TMI may repeat earlier ones), and with
        `roles`, saying exactly those (roles arrive a moment after the people)."""
        while True:
            frame = await self.until("participants", timeout)
            if sorted(p["user"]["id"] for p in frame["participants"]) != sorted(ids):
                continue
            if roles is None or {p["user"]["id"]: p["can_edit"] for p in frame["participants"]} == roles:
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


class RoleTable:
    """The roles the world's peers published about themselves, in memory: what portal/live/bridge.py's
    BridgedRoles keeps in database rows for the people the portal bridges."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[str, bool | None]] = {}

    def seat(self) -> RoleSeat:
        key = len(self.rows)
        self.rows[key] = ("", None)
        return RoleSeat(self, key)


class RoleSeat:
    """One peer's place at the table (a RoleBoard)."""

    def __init__(self, table: RoleTable, key: int) -> None:
        self.table, self.key = table, key

    async def publish(self, user_id: str, can_edit: bool) -> None:
        self.table.rows[self.key] = (user_id, can_edit)

    async def others(self, since: float | None = None) -> tuple[dict[str, bool], bool]:
        rows = [row for key, row in self.table.rows.items() if key != self.key]
        return {user: can for user, can in rows if user and can is not None}, any(can is None for _, can in rows)


def role_table(world: World) -> RoleTable:
    if not hasattr(world, "role_table"):
        world.role_table = RoleTable()
    return world.role_table


async def open_peer(world: World, name: str, *, address_guard: AddressGuard | None = None, **options: Any) -> Peer:
    client = AsyncTMIClient(
        world.server.base_url, auth=world.tokens[name], max_retries=0, timeout=5, address_guard=address_guard
    )
    options.setdefault("delays", FAST)
    options.setdefault("me", User(**world.users[name].principal()))
    options.setdefault("roles", role_table(world).seat())
    session = UpstreamSession(client, world.tm_id, world.diagram_id, **options)
    await session.start()
    return Peer(world, name, session)


async def shut(peer: Peer) -> None:
    await peer.session.close()
    await peer.session.client.aclose()
