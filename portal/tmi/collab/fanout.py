"""`Fanout`: what TMI sends to a roomful, read once by the process that bridges them.

Everyone has a socket of their own to TMI (one member's access is never lent to another), so a change in a room
of ten reaches this process nine times, as the same text (TMI marshals a broadcast once and writes those bytes
to every client: `broadcastToOthers` and `broadcastMessage` in its websocket code; the sandbox writes the same).
Decoding it, building the browser's frame from it and writing that frame as JSON are the same work each time:
about a quarter of what the relay spends on a delivery (docs/benchmarks.md). So for the messages TMI sends to
everyone in a session (`FANNED_OUT`), the first of the room's sockets to read a text decodes it into a `Shared`
message; the others get that same message, and what is made from the message alone (`once`: the `ops` frame, its
JSON text) is made for all of them. What depends on each socket (its operations in flight, the sequence numbers
it has seen, its roster) is still worked out by each.

A message is only ever shared with sockets of the same TMI session in one organisation (the caller keeps a
`Fanout` per organisation), and a text is kept only until the others in the room have read it, or until newer
ones push it out (`KEPT` a room; texts over `LARGEST` are never kept). Nothing kept is changed after it is made.

    fanout = Fanout()
    fanout.joined(session_id)                   # a socket of this process is in the session
    message = fanout.decode(session_id, raw)    # json.loads(raw), or the same message another socket decoded
    fanout.left(session_id)                     # that socket is no longer in it
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

# What TMI sends alike to everyone (or everyone else) in a session (PROTOCOL.md 7.4-7.6, 9.5).
FANNED_OUT = frozenset(
    {
        "diagram_operation_event",
        "diagram_operation",
        "presenter_cursor",
        "presenter_selection",
        "participants_update",
    }
)
KEPT = 4  # texts a room keeps at once; an older one still unread by someone is decoded again by them
LARGEST = 8 * 1024  # characters; a larger text is rare (a big paste) and kept by nobody

T = TypeVar("T")


class Shared(dict):
    """A message or frame several sockets of this process read or deliver alike: never changed once made.
    `made` holds what is made from it alone (see `once`)."""

    __slots__ = ("made",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.made: dict[str, Any] = {}


def once(source: Any, key: str, make: Callable[[], T]) -> T:
    """`make()`, made once for a `Shared` source and kept with it; for anything else, made every time."""
    if type(source) is not Shared:
        return make()
    made = source.made
    if key not in made:
        made[key] = make()
    return made[key]


def frame_text(frame: dict[str, Any]) -> str:
    """A browser frame as the compact JSON text sent on the socket; written once for a `Shared` frame."""
    return once(frame, "text", lambda: json.dumps(frame, separators=(",", ":")))


class _Text:
    __slots__ = ("message", "unread")

    def __init__(self, message: Shared, unread: int) -> None:
        self.message, self.unread = message, unread


class _Room:
    __slots__ = ("readers", "texts")

    def __init__(self) -> None:
        self.readers = 0
        self.texts: dict[str, _Text] = {}


class Fanout:
    """The sessions of one organisation's sockets in this process, by TMI session id."""

    def __init__(self) -> None:
        self._rooms: dict[Hashable, _Room] = {}

    def joined(self, session: Hashable) -> None:
        room = self._rooms.get(session)
        if room is None:
            room = self._rooms[session] = _Room()
        room.readers += 1

    def left(self, session: Hashable) -> None:
        room = self._rooms.get(session)
        if room is not None:
            room.readers -= 1
            if room.readers <= 0:
                del self._rooms[session]

    def decode(self, session: Hashable, raw: str | bytes) -> Any:
        """`json.loads(raw)` (its ValueError included); a message TMI sends to the whole room comes back as the
        `Shared` one the first reader decoded, while others in the room have yet to read it."""
        room = self._rooms.get(session)
        if room is None or room.readers < 2 or not isinstance(raw, str) or len(raw) > LARGEST:
            return json.loads(raw)
        kept = room.texts.get(raw)
        if kept is not None:
            kept.unread -= 1
            if kept.unread <= 0:
                del room.texts[raw]
            return kept.message
        message = json.loads(raw)
        if not isinstance(message, dict):
            return message
        kind = message.get("message_type")
        if not isinstance(kind, str) or kind not in FANNED_OUT:
            return message
        shared = Shared(message)
        room.texts[raw] = _Text(shared, room.readers - 1)
        if len(room.texts) > KEPT:
            del room.texts[next(iter(room.texts))]
        return shared
