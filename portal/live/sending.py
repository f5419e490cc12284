"""How a live frame reaches the browser: the shortest way daphne and Channels allow.

Two waits sit between `send` and the browser's socket, and a live diagram relays many small frames:
- Channels' session middleware wraps `send` to save a session a handler changed; it reads the lazy session
  object on every message. A live frame never changes the session, so frames go to the `send` it wraps.
- Twisted writes only when the reactor next finds the socket writable: every frame waits a turn of the event
  loop, behind all else in that turn, and costs two changes of the reactor's watch list. While nothing is
  waiting in Twisted's buffer, the socket is written at once instead (as asyncio's transports do); what the
  socket cannot take, or anything written while older data waits, goes to Twisted's buffer as before.

Both reach into daphne's and Channels' objects. Anything not found as expected (another ASGI server, TLS
terminated by Twisted, a test communicator) is left alone: the frame goes through `send` unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


def frame_sender(send: Send) -> Callable[[str], Awaitable[None]]:
    """`await send_text(text)`: one text frame to the browser, through `send` or what it wraps."""
    inner = getattr(getattr(send, "__self__", None), "real_send", None) or send  # channels.sessions
    transport = _plain_tcp_transport(inner)
    if transport is not None and not isinstance(transport, _DirectWrite):
        transport.__class__ = _direct_write_class(type(transport))

    async def send_text(text: str) -> None:
        await inner({"type": "websocket.send", "text": text})

    return send_text


def _plain_tcp_transport(send: Any):
    """The Twisted TCP transport of daphne's protocol behind `send` (functools.partial(server.handle_reply,
    protocol)), when it is one without TLS; else None."""
    if not isinstance(send, functools.partial) or not send.args:
        return None
    transport = getattr(send.args[0], "transport", None)
    try:
        from twisted.internet.tcp import Connection
    except ImportError:
        return None
    if not isinstance(transport, Connection) or getattr(transport, "TLS", False):
        return None
    return transport


class _DirectWrite:
    """Mixed into the transport's own class (a class, not a closure per transport: one per socket adds up)."""

    def write(self, data: bytes) -> None:
        if (
            data
            and not self._tempDataLen
            and not self.dataBuffer
            and self.connected
            and not self.disconnecting
            and not self._writeDisconnected
        ):
            try:
                sent = self.socket.send(data)
            except OSError:  # full (EAGAIN) or failing: Twisted's own write buffers it and meets any error
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        super().write(data)


@functools.cache
def _direct_write_class(base: type) -> type:
    return type(f"DirectWrite{base.__name__}", (_DirectWrite, base), {})
