"""A live collaboration session and its connected clients (PROTOCOL.md 6.5, 7).

Handlers never await a socket: they queue messages on each connection's outbox, and one writer
task per connection sends them in order. That keeps every state change atomic on the event loop
and makes "error frame, then close" come out in that order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from portal.sandbox.collab import sockets
from portal.sandbox.collab.history import History
from portal.sandbox.state import SandboxUser, new_uuid

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 256  # TMI's per-client send buffer (PROTOCOL.md 7.11)
WRITE_DEADLINE_SECONDS = 10.0  # per frame; a peer that takes longer is cut off


@dataclass
class _Close:
    code: int | None  # None: a close frame with no status (the peer sees 1005)
    reason: str = ""
    delay: float = 0.0


class _Abort:
    """Drop the TCP connection without a close frame (the peer sees 1006)."""


class Connection:
    def __init__(self, websocket: WebSocket, user: SandboxUser, permissions: str, timestamp: str) -> None:
        self.websocket = websocket
        self.user = user
        self.permissions = permissions  # "reader" | "writer", from the ACL at join time
        self.last_activity = timestamp
        self.ending = False  # a close or abort is queued; nothing more goes out
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()

    def send(self, message: dict[str, Any]) -> bool:
        """Queue a message. False when the connection is ending or its outbox is full (dropped)."""
        if self.ending or self._outbox.qsize() >= OUTBOX_LIMIT:
            return False
        self._outbox.put_nowait(message)
        return True

    def close(self, code: int | None, reason: str = "", *, delay: float = 0.0) -> None:
        self._end(_Close(code, reason, delay))

    def abort(self, *, now: bool = False) -> None:
        """Cut the connection after what is queued; `now` cuts it at once (a stuck or dead peer,
        whose writer may be blocked on a full socket)."""
        if now:
            self.ending = True
            sockets.abort(self.websocket, discard=True)
        else:
            self._end(_Abort())

    def _end(self, item: Any) -> None:
        if not self.ending:
            self.ending = True
            self._outbox.put_nowait(item)

    async def run_writer(self) -> None:
        """Send queued items until a close or abort, or until the peer is gone."""
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, _Close):
                    if item.delay:
                        await asyncio.sleep(item.delay)
                    await sockets.close(self.websocket, item.code, item.reason)
                    return
                if isinstance(item, _Abort):
                    sockets.abort(self.websocket)
                    return
                async with asyncio.timeout(WRITE_DEADLINE_SECONDS):
                    await self.websocket.send_text(json.dumps(item, separators=(",", ":")))  # compact, as Go writes it
        except TimeoutError:
            self.abort(now=True)
        except (OSError, RuntimeError, WebSocketDisconnect) as exc:  # the peer went away under us
            log.debug("collab writer stopped: %r", exc)
        finally:
            self.ending = True


@dataclass(eq=False)
class Session:
    threat_model_id: str
    diagram_id: str
    host: SandboxUser
    presenter: str | None  # the generation's identity key of the presenter (see Protocol.key_of)
    last_activity: float  # state.now() of the last membership change (the idle clock, PROTOCOL.md 6.5)
    id: str = field(default_factory=new_uuid)
    connections: list[Connection] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)
    history: History = field(default_factory=History)
    next_sequence: int = 1
    terminating: bool = False

    def take_sequence_number(self) -> int:
        number = self.next_sequence
        self.next_sequence += 1
        return number

    def participants(self) -> list[Connection]:
        """One connection per user, in join order (a user with two sockets appears once)."""
        seen: set[str] = set()
        unique = []
        for conn in self.connections:
            if conn.user.internal_uuid not in seen:
                seen.add(conn.user.internal_uuid)
                unique.append(conn)
        return unique

    def connections_where(self, **match: str) -> list[Connection]:
        """Connections whose user has all the given attribute values (e.g. provider_id=...)."""
        return [c for c in self.connections if all(getattr(c.user, k) == v for k, v in match.items())]

    def broadcast(self, message: dict[str, Any], *, exclude: Connection | None = None) -> None:
        """Send to every client but `exclude`; a client whose outbox is full is dropped."""
        for conn in list(self.connections):
            if conn is not exclude and not conn.send(message) and not conn.ending:
                conn.abort(now=True)
