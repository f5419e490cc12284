"""Browsers on the live socket: Channels' WebsocketCommunicator against the whole ASGI application
(origin check, session cookie, routing), bridged to a real sandbox over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from portal.live.models import LiveConnection
from portal.organizations.models import Organization
from tests.sandbox.collab_world import World, make_world

FAST = (0.05,) * 5  # the guide's five attempts, without the waiting
ORIGIN = b"http://127.0.0.1"


class Browser:
    """One browser tab's live socket and the frames it has received."""

    def __init__(self, communicator: WebsocketCommunicator, name: str) -> None:
        self.communicator, self.name = communicator, name

    async def next(self, timeout: float = 4.0) -> dict[str, Any]:
        message = await self.communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            raise ConnectionClosed(message.get("code"))
        return json.loads(message["text"])

    async def until(self, frame_type: str, timeout: float = 4.0, **fields: Any) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            frame = await self.next(max(0.01, deadline - asyncio.get_running_loop().time()))
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    async def roster(self, *ids: str, roles: dict[str, bool | None] | None = None) -> dict[str, Any]:
        """The next `participants` frame listing exactly `ids`, and with `roles`, saying exactly those."""
        while True:
            frame = await self.until("participants")
            if sorted(p["user"]["id"] for p in frame["participants"]) != sorted(ids):
                continue
            if roles is None or {p["user"]["id"]: p["can_edit"] for p in frame["participants"]} == roles:
                return frame

    async def collect(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Every frame that arrives within `seconds`. (A timed-out `receive_output` would cancel the
        application, so this waits with `receive_nothing`, which does not.)"""
        found: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if await self.communicator.receive_nothing(timeout=left, interval=0.01):
                break
            try:
                found.append(await self.next())
            except ConnectionClosed:
                break
        return found

    async def send(self, frame: Any) -> None:
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def close(self) -> None:
        if not self.communicator.future.cancelled():  # a test may cancel the application itself
            await self.communicator.disconnect(timeout=10)


class ConnectionClosed(Exception):
    @property
    def code(self) -> int | None:
        return self.args[0]


live_rows = database_sync_to_async(lambda: list(LiveConnection.objects.values_list("user__username", flat=True)))


async def upstream_sockets(world: World) -> list[dict[str, Any]]:
    """The collaboration sockets the sandbox holds open (its /_sandbox/sockets introspection)."""
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        return (await http.get("/_sandbox/sockets")).json()["sockets"]


async def nothing_left(world: World, when: str, timeout: float = 8.0) -> None:
    """No LiveConnection row and no upstream TMI socket, within `timeout` (leaving is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows, sockets = await live_rows(), await upstream_sockets(world)
        if not rows and not sockets:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{when}: left behind: LiveConnection rows {rows}, upstream sockets {sockets}")
        await asyncio.sleep(0.05)


@pytest.fixture
def world(sandbox_factory, generation) -> World:
    # Pings every 0.2 s so 1.8's access re-check (4403) happens quickly.
    return make_world(sandbox_factory, generation, ws_ping_interval_seconds=0.2)


@pytest.fixture
def acme(world, transactional_db) -> Organization:
    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url=world.server.base_url)


@pytest.fixture
def globex(world, transactional_db) -> Organization:
    return Organization.objects.create(name="Globex", slug="globex", tmi_base_url=world.server.base_url)


@pytest.fixture
def cookies(acme, member_factory) -> dict[str, str]:
    """A signed-in portal session per person: alice (owner), bob, carol, dave (members of acme; at TMI
    alice owns the threat model, bob writes, carol reads, dave has no access)."""
    roles = {"alice": "owner", "bob": "member", "carol": "member", "dave": "member"}
    found = {}
    for name, role in roles.items():
        client = Client()
        client.force_login(member_factory(acme, name, role=role))
        found[name] = client.cookies["sessionid"].value
    return found


def live_path(world: World, slug: str = "acme") -> str:
    return f"/ws/o/{slug}/threat-models/{world.tm_id}/diagrams/{world.diagram_id}/live/"


@pytest.fixture
async def browsers(world, cookies, settings):
    """`await browsers("alice")`: alice's page, connected and accepted. Options: `slug`, `path`,
    `cookie` (None for none), `origin`, `accept` (False: return the communicator's refusal code)."""
    from portal.asgi import application

    settings.LIVE_RECONNECT_DELAYS = FAST
    opened: list[Browser] = []

    async def open_(
        name: str | None, *, slug: str = "acme", path: str | None = None, origin: bytes = ORIGIN, accept: bool = True
    ):
        headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
        if name is not None:
            headers.append((b"cookie", f"sessionid={cookies[name]}".encode()))
        communicator = WebsocketCommunicator(application, path or live_path(world, slug), headers=headers)
        connected, code = await communicator.connect(timeout=5)
        if not accept:
            assert not connected
            return code
        assert connected, f"{name}'s socket was refused with {code}"
        browser = Browser(communicator, name or "anonymous")
        opened.append(browser)
        return browser

    yield open_
    for browser in opened:
        await browser.close()
