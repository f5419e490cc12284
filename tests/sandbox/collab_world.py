"""Test data and clients for the collaboration tests: a threat model with one diagram, users with
roles, and thin wrappers over REST (httpx) and WebSocket (`websockets`) calls."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from portal.sandbox.server import SandboxServer
from portal.sandbox.state import SandboxUser

DEFAULT_ROLES = {"alice": "owner", "bob": "writer", "carol": "reader", "erin": "writer"}
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank")  # dave and frank have no access by default


@dataclass
class World:
    server: SandboxServer
    tm_id: str
    diagram_id: str
    users: dict[str, SandboxUser] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def state(self):
        return self.server.state

    @property
    def legacy(self) -> bool:
        return self.state.config.is_legacy

    @property
    def tm(self) -> dict[str, Any]:
        return self.state.threat_models[self.tm_id]

    @property
    def diagram(self) -> dict[str, Any]:
        return self.state.get_diagram(self.tm_id, self.diagram_id)

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def http(self) -> httpx.AsyncClient:
        # Plain http on loopback: skipping the CA bundle makes a client ~100x cheaper to build.
        return httpx.AsyncClient(base_url=self.server.base_url, timeout=10, verify=False)

    @property
    def collaborate_path(self) -> str:
        return f"/threat_models/{self.tm_id}/diagrams/{self.diagram_id}/collaborate"

    @property
    def ws_url(self) -> str:
        return (
            self.server.base_url.replace("http://", "ws://")
            + f"/threat_models/{self.tm_id}/diagrams/{self.diagram_id}/ws"
        )

    def grant(self, name: str, role: str | None) -> None:
        """Set (or with None, remove) a user's ACL entry."""
        user = self.users[name]
        acl = [e for e in self.tm["authorization"] if e.get("provider_id") != user.provider_id]
        if role:
            acl.append(user_entry(user, role))
        self.tm["authorization"] = acl


def user_entry(user: SandboxUser, role: str) -> dict[str, Any]:
    return {
        "principal_type": "user",
        "provider": user.provider,
        "provider_id": user.provider_id,
        "email": user.email,
        "display_name": user.display_name,
        "role": role,
    }


def build_world(server: SandboxServer, roles: dict[str, str] | None = None) -> World:
    """A threat model owned by alice with one empty DFD diagram, and a token per user."""
    state = server.state
    legacy = state.config.is_legacy
    domain, label = ("test.tmi", "Test User") if legacy else ("tmi.local", "TMI User")
    tm_id, diagram_id = str(uuid.uuid4()), str(uuid.uuid4())
    world = World(server, tm_id, diagram_id)
    for name in NAMES:
        user = state.user_for_login(
            provider=state.config.test_idp,
            provider_id=name,
            email=f"{name}@{domain}",
            display_name=f"{name.title()} ({label})",
        )
        world.users[name] = user
        world.tokens[name] = state.issue_tokens(user)["access_token"]
    now = state.timestamp()
    alice = world.users["alice"]
    state.threat_models[tm_id] = {
        "id": tm_id,
        "name": "Collaboration TM",
        "description": "",
        "threat_model_framework": "STRIDE",
        "owner": user_entry(alice, "owner") | {"role": None},
        "created_by": user_entry(alice, "owner"),
        "authorization": [user_entry(world.users[n], r) for n, r in (roles or DEFAULT_ROLES).items()],
        "created_at": now,
        "modified_at": now,
        "metadata": [],
        "diagrams": [
            {
                "id": diagram_id,
                "name": "Live DFD",
                "type": "DFD-1.0.0",
                "cells": [],
                "update_vector": 0,
                "image": {},
                "metadata": [],
                "created_at": now,
                "modified_at": now,
            }
        ],
        "threats": [],
        "documents": [],
        "assets": [],
        "notes": [],
        "repositories": [],
    }
    return world


# -- cells -----------------------------------------------------------------------------------
def node(label: str = "Web App", *, cell_id: str | None = None, x: int = 100) -> dict[str, Any]:
    return {
        "id": cell_id or str(uuid.uuid4()),
        "shape": "process",
        "position": {"x": x, "y": 80},
        "size": {"width": 120, "height": 60},
        "attrs": {"text": {"text": label}},
        "zIndex": 3,
    }


def patch(*cell_ops: dict[str, Any], op_type: str = "patch") -> dict[str, Any]:
    return {"type": op_type, "cells": list(cell_ops)}


def add(cell: dict[str, Any]) -> dict[str, Any]:
    return {"id": cell["id"], "operation": "add", "data": cell}


def update(cell: dict[str, Any]) -> dict[str, Any]:
    return {"id": cell["id"], "operation": "update", "data": cell}


def remove(cell_id: str) -> dict[str, Any]:
    return {"id": cell_id, "operation": "remove"}


# -- sockets ---------------------------------------------------------------------------------
class Client:
    """One collaboration socket with JSON helpers."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_types(self, count: int, timeout: float = 3.0) -> list[dict[str, Any]]:
        return [await self.recv(timeout) for _ in range(count)]

    async def expect(self, message_type: str, timeout: float = 3.0) -> dict[str, Any]:
        message = await self.recv(timeout)
        assert message["message_type"] == message_type, message
        return message

    async def expect_silence(self, timeout: float = 0.3) -> None:
        try:
            message = await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            return
        raise AssertionError(f"{self.name} got an unexpected message: {message}")

    async def closed(self, timeout: float = 3.0) -> tuple[int | None, str]:
        """Wait for the connection to end; (close code as the client saw it, reason)."""
        await asyncio.wait_for(self.ws.wait_closed(), timeout)
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        await self.ws.close()


async def start_session(world: World, name: str) -> dict[str, Any]:
    async with world.http() as http:
        response = await http.post(world.collaborate_path, headers=world.headers(name))
        assert response.status_code in (200, 201), response.text
        return response.json()


async def ticket(world: World, name: str, session_id: str) -> str:
    async with world.http() as http:
        response = await http.get("/ws/ticket", params={"session_id": session_id}, headers=world.headers(name))
        assert response.status_code == 200, response.text
        return response.json()["ticket"]


async def socket_url(world: World, name: str) -> str:
    """What a client connects to: 1.8 POST + ticket; 0.217 the token in the query."""
    if world.legacy:
        return f"{world.ws_url}?token={world.tokens[name]}"
    session = await start_session(world, name)
    return f"{session['websocket_url']}&ticket={await ticket(world, name, session['session_id'])}"


async def join(world: World, name: str, *, drain: bool = True, **connect_args: Any) -> Client:
    """Connect `name`; with `drain`, swallow the join sequence this client receives."""
    client = Client(await connect(await socket_url(world, name), **connect_args), name)
    if drain:
        count = 2 if not world.legacy else 4  # see the join-sequence tests
        await client.recv_types(count)
    return client


async def drain_joined(world: World, *clients: Client) -> None:
    """What earlier clients receive when someone joins."""
    for client in clients:
        await client.recv_types(2 if world.legacy else 1)


def make_world(sandbox_factory, generation: str, roles: dict[str, str] | None = None, **overrides: Any) -> World:
    """A fresh unseeded sandbox of `generation` holding the collaboration test world."""
    return build_world(sandbox_factory(generation, seed=None, **overrides), roles)


def operation_message(world: World, operation: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A diagram edit in the generation's message name."""
    message_type = "diagram_operation" if world.legacy else "diagram_operation_request"
    return {"message_type": message_type, "operation_id": str(uuid.uuid4()), "operation": operation, **extra}


def event_type(world: World) -> str:
    return "diagram_operation" if world.legacy else "diagram_operation_event"


async def pair(world: World, second: str = "bob") -> tuple[Client, Client]:
    """alice (the host) and a second user, both joined, with the join traffic drained."""
    alice = await join(world, "alice")
    other = await join(world, second)
    await drain_joined(world, alice)
    return alice, other


def principal(world: World, name: str) -> dict[str, Any]:
    return world.users[name].principal()


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait until `predicate()` holds: the server finishes a departure just after the client sees it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
