"""How a live frame reaches the browser: the shortest way daphne and Channels allow.

What sits between `send` and the browser's socket, taken out of a live diagram's many small frames:
- Channels' session middleware wraps `send` to save a session a handler changed; it reads the lazy session
  object on every message. A live frame never changes the session, so frames go to the `send` it wraps.
- Twisted writes only when the reactor next finds the socket writable: every frame waits a turn of the event
  loop, behind all else in that turn, and costs two changes of the reactor's watch list. While nothing is
  waiting in Twisted's buffer, the socket is written at once instead (as asyncio's transports do); what the
  socket cannot take, or anything written while older data waits, goes to Twisted's buffer as before.
- Daphne hands each frame through five calls (its server's reply, its protocol's, autobahn's `sendMessage`,
  `sendFrame`, `sendData`), checking per frame what does not change while a socket is open, and autobahn formats a
  debug message (two names and a size, coloured through click) before its logger drops it. While the socket is
  open and plain (no compression, fragmenting, frame or octet logging, timings, queued writes, debug), the frame
  autobahn would write (RFC 6455: FIN and text opcode, the length, the payload unmasked, as a server sends it) is
  written to the transport directly, and autobahn's traffic counts kept as it keeps them. Anything else goes
  through `send` as before.

And before a socket opens, autobahn pretty-prints its thirty-odd settings for a debug message, also dropped: a
fifth of its work on each handshake (`autobahn_settings_printed_later`).

All of these reach into daphne's, autobahn's and Channels' objects. Anything not found as expected (another ASGI server, TLS
terminated by Twisted, a test communicator) is left alone: the frame goes through `send` unchanged.
"""

from __future__ import annotations

import functools
import pprint
from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


def frame_sender(send: Send) -> Callable[[str], Awaitable[None]]:
    """`await send_text(text)`: one text frame to the browser, through `send` or what it wraps."""
    inner = getattr(getattr(send, "__self__", None), "real_send", None) or send  # channels.sessions
    transport = _plain_tcp_transport(inner)
    if transport is not None and not isinstance(transport, _DirectWrite):
        transport.__class__ = _mixed_class(_DirectWrite, type(transport))
    protocol = _autobahn_protocol(inner)
    # daphne's Server.handle_reply drops a frame for a socket it has seen go; so does the direct path.
    connections = getattr(getattr(inner.func, "__self__", None), "connections", None) if protocol else None

    async def send_text(text: str) -> None:
        if protocol is not None:
            payload = text.encode("utf-8")
            frame = _plain_frame(protocol, connections, payload)
            if frame is not None:
                _written(protocol, frame, len(payload))
                return
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
    """Mixed into the transport's own class."""

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


def _autobahn_protocol(send: Any):
    """daphne's protocol behind `send`, when it is autobahn's with the attributes `_plain_frame` reads; else None."""
    if not isinstance(send, functools.partial) or not send.args:
        return None
    protocol = send.args[0]
    try:
        from autobahn.websocket.protocol import WebSocketProtocol
    except ImportError:
        return None
    if not isinstance(protocol, WebSocketProtocol) or not all(hasattr(protocol, name) for name in _PLAIN_READS):
        return None
    return protocol


# What autobahn's sendMessage and sendFrame read of the protocol (set when its connection is made).
_PLAIN_READS = (
    "state", "send_queue", "logOctets", "logFrames", "trackedTimings", "_perMessageCompress", "autoFragmentSize",
    "maxMessagePayloadSize", "maskServerFrames", "trafficStats", "log", "transport", "STATE_OPEN",
)  # fmt: skip


def _debug_off(log: Any) -> bool:
    # txaio replaces the method of each level that is off with one no-op function.
    return getattr(getattr(log, "debug", None), "__name__", None) == "_no_op"


def _plain_frame(protocol: Any, connections: Any, payload: bytes) -> bytes | None:
    """The text frame autobahn would write for `payload` on this open, plain socket; None when it is not."""
    size = len(payload)
    if (
        protocol.state != protocol.STATE_OPEN
        or protocol.send_queue
        or protocol.logOctets
        or protocol.logFrames
        or protocol.trackedTimings
        or protocol._perMessageCompress is not None
        or 0 < protocol.autoFragmentSize < size
        or 0 < protocol.maxMessagePayloadSize < size
        or protocol.maskServerFrames
        or not _debug_off(protocol.log)
        or (connections is not None and connections.get(protocol, {"disconnected": True}).get("disconnected"))
    ):
        return None
    if size <= 125:
        head = bytes((0x81, size))
    elif size <= 0xFFFF:
        head = b"\x81\x7e" + size.to_bytes(2, "big")
    else:
        head = b"\x81\x7f" + size.to_bytes(8, "big")
    return head + payload


def _written(protocol: Any, frame: bytes, size: int) -> None:
    protocol.transport.write(frame)
    stats = protocol.trafficStats
    stats.outgoingWebSocketMessages += 1
    stats.outgoingWebSocketFrames += 1
    stats.outgoingOctetsAppLevel += size
    stats.outgoingOctetsWebSocketLevel += size
    stats.outgoingOctetsWireLevel += len(frame)


@functools.cache
def _mixed_class(mixin: type, base: type) -> type:
    """A class, not a closure per socket: one per socket adds up."""
    return type(f"{mixin.__name__.strip('_')}{base.__name__}", (mixin, base), {})


class _Later:
    """An argument of a log message, worked out only if the message is written."""

    __slots__ = ("make", "value")

    def __init__(self, make: Callable[[Any], str], value: Any) -> None:
        self.make, self.value = make, value

    def __str__(self) -> str:
        return self.make(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.make(self.value), spec)


def _timings_text(timings: Any) -> str:
    return pprint.pformat(timings._timings)


def autobahn_settings_printed_later() -> None:
    """autobahn's protocol module pretty-prints only for debug messages, but before it knows whether they are
    written; from here on, only if they are. (Its one other use, the text of `Timings`, keeps its own.)"""
    try:
        from autobahn.websocket import protocol
    except ImportError:
        return
    if isinstance(protocol.pformat, functools.partial):
        return
    if not hasattr(protocol, "Timings"):
        return  # another autobahn than the one this was written for: left alone
    protocol.Timings.__str__ = _timings_text
    protocol.pformat = functools.partial(_Later, pprint.pformat)
