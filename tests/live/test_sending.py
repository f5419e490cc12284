"""A live frame goes to the send Channels' session middleware wraps, is written at once, is the frame autobahn
would write without going through daphne and autobahn, and anything unexpected is left alone.
(The write-at-once path needs daphne's Twisted transport: tests/bench/test_live_relay.py and the browser
tests run frames through a real daphne.)"""

from __future__ import annotations

import functools
import socket

import pytest

from portal.live.sending import frame_sender


async def test_frames_go_to_the_send_the_session_wrapper_wraps():
    sent, wrapped = [], []

    async def daphne_send(message):
        sent.append(message)

    class SessionWrapper:  # channels.sessions.InstanceSessionWrapper's shape
        real_send = staticmethod(daphne_send)

        async def send(self, message):
            wrapped.append(message)

    await frame_sender(SessionWrapper().send)('{"type":"ops"}')
    assert sent == [{"type": "websocket.send", "text": '{"type":"ops"}'}] and wrapped == []


async def test_any_other_send_is_used_as_it_is():
    sent = []

    async def send(message):
        sent.append(message)

    await frame_sender(send)("{}")
    assert sent == [{"type": "websocket.send", "text": "{}"}]


class _Reactor:
    """Twisted's reactor, as far as a transport's write uses it: what it was asked to watch."""

    def __init__(self) -> None:
        self.writers: list = []

    def addWriter(self, writer) -> None:  # noqa: N802 - Twisted's name
        self.writers.append(writer)

    def addReader(self, reader) -> None:  # noqa: N802
        pass

    def callLater(self, *args, **kwargs) -> None:  # noqa: N802
        raise AssertionError("not expected")


def daphne_transport():
    """A Twisted TCP transport behind daphne's send (functools.partial(server.handle_reply, protocol)),
    on one end of a socket pair; the other end, to read what reached the browser."""
    from twisted.internet import tcp

    ours, browser = socket.socketpair()
    ours.setblocking(False)
    reactor = _Reactor()

    class Protocol:
        transport = None

    protocol = Protocol()
    protocol.transport = tcp.Server(ours, protocol, ("127.0.0.1", 1), None, 1, reactor)

    async def handle_reply(protocol, message):
        protocol.transport.write(message["text"].encode())

    return functools.partial(handle_reply, protocol), protocol.transport, browser, reactor


def received(browser, transport=None) -> bytes:
    """What reached the browser's end, then what waits in Twisted's buffer of `transport`."""
    data = b""
    while True:
        try:
            data += browser.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
    if transport is not None:
        data += bytes(transport.dataBuffer) + b"".join(transport._tempDataBuffer)
    return data


async def test_a_plain_tcp_transport_is_written_at_once_while_nothing_waits_in_its_buffer():
    send, transport, browser, reactor = daphne_transport()
    send_text = frame_sender(send)
    frame_sender(send)  # a second sender for the same socket changes nothing more
    await send_text('{"type":"ops"}')
    assert browser.recv(100) == b'{"type":"ops"}' and reactor.writers == []  # no reactor turn was needed
    assert "write" not in vars(transport)  # the transport's class does it: nothing is kept per socket


async def test_what_the_socket_cannot_take_goes_to_twisteds_buffer_in_order():
    send, transport, browser, reactor = daphne_transport()
    send_text = frame_sender(send)
    big = "x" * (4 * 1024 * 1024)  # more than a socket pair's buffer
    await send_text(big)
    await send_text("after")
    assert reactor.writers and set(reactor.writers) == {transport}  # written when the socket can take more
    waiting = bytes(transport.dataBuffer) + b"".join(transport._tempDataBuffer)
    assert waiting.endswith(b"after") and set(waiting[: -len(b"after")]) == {ord("x")}  # in order, behind it
    assert len(received(browser)) + len(waiting) == len(big) + len(b"after")


def open_daphne_protocol(monkeypatch):
    """daphne's own WebSocket protocol as autobahn leaves it once open, on a Twisted transport (daphne_transport),
    behind daphne's server as far as a reply goes; with autobahn's debug formatting counted."""
    from autobahn.websocket import protocol as autobahn_protocol
    from daphne.ws_protocol import WebSocketFactory

    formatted = []
    monkeypatch.setattr(autobahn_protocol, "hltype", lambda obj: formatted.append(obj) or "")
    _, transport, browser, reactor = daphne_transport()
    protocol = WebSocketFactory(None, server="Daphne").buildProtocol(None)
    autobahn_protocol.WebSocketProtocol._connectionMade(protocol)  # autobahn's settings and counters, as per socket
    protocol.transport, protocol.state, protocol.client_addr = transport, protocol.STATE_OPEN, ("127.0.0.1", 1)

    class Server:  # daphne.server.Server.handle_reply, as far as a text frame goes
        connections = {protocol: {}}

        async def handle_reply(self, protocol, message):
            if protocol not in self.connections or self.connections[protocol].get("disconnected", None):
                return
            protocol.handle_reply(message)

    server = Server()
    return functools.partial(server.handle_reply, protocol), protocol, server, browser, formatted


@pytest.mark.parametrize("size", [14, 125, 126, 300, 65535, 65536, 200_000])
async def test_an_open_sockets_frame_is_what_autobahn_writes_without_its_five_calls_or_debug_message(monkeypatch, size):
    text = "é" * (size // 2) + "x" * (size % 2)  # `size` bytes of UTF-8
    send, protocol, _, browser, formatted = open_daphne_protocol(monkeypatch)
    calls = []
    monkeypatch.setattr(type(protocol), "sendMessage", lambda *args, **kwargs: calls.append(args))
    await frame_sender(send)(text)
    ours = received(browser, protocol.transport)
    assert calls == [] and formatted == []  # not through autobahn, nothing formatted

    monkeypatch.undo()
    send, protocol_b, _, browser, formatted = open_daphne_protocol(monkeypatch)
    protocol_b.sendMessage(text.encode())  # autobahn's own frame for the same text
    assert ours == received(browser, protocol_b.transport) and ours.endswith(text.encode())
    for counter in ("outgoingWebSocketMessages", "outgoingWebSocketFrames", "outgoingOctetsWireLevel"):
        assert getattr(protocol.trafficStats, counter) == getattr(protocol_b.trafficStats, counter) > 0


async def test_with_debug_on_a_queue_waiting_or_the_socket_gone_autobahn_and_daphne_send_as_they_always_did(
    monkeypatch,
):
    import txaio

    send, protocol, server, browser, formatted = open_daphne_protocol(monkeypatch)
    send_text = frame_sender(send)
    protocol.log = txaio.make_logger()
    protocol.log._set_log_level("debug")
    await send_text("seen by the debug log")
    assert received(browser).endswith(b"seen by the debug log") and formatted  # autobahn's sendData, debug and all
    protocol.log._set_log_level("info")
    protocol.send_queue.append((b"queued first", False))
    protocol.triggered = True  # autobahn's own drain is under way (it would run on the reactor)
    await send_text("after")
    assert [data for data, _ in protocol.send_queue][0] == b"queued first"
    assert protocol.send_queue[1][0].endswith(b"after")  # in order, behind it
    protocol.send_queue.clear()
    server.connections[protocol]["disconnected"] = 1.0  # daphne has seen the browser go: nothing is written
    await send_text("too late")
    assert received(browser) == b"" and not protocol.send_queue


def test_autobahn_prints_a_sockets_settings_only_for_a_debug_message_that_is_written(monkeypatch):
    import pprint

    import txaio
    from autobahn.websocket import protocol as autobahn_protocol
    from daphne.ws_protocol import WebSocketFactory
    from twisted.logger import formatEvent, globalLogPublisher

    from portal.live import sending

    sending.autobahn_settings_printed_later()  # as portal/asgi.py does; twice changes nothing
    sending.autobahn_settings_printed_later()
    assert autobahn_protocol.pformat.func is sending._Later and autobahn_protocol.pformat.args == (pprint.pformat,)
    printed = []
    monkeypatch.setattr(
        autobahn_protocol,
        "pformat",
        functools.partial(sending._Later, lambda value: printed.append(value) or pprint.pformat(value)),
    )
    protocol = WebSocketFactory(None, server="Daphne").buildProtocol(None)
    autobahn_protocol.WebSocketProtocol._connectionMade(protocol)  # what every handshake runs, debug off
    assert printed == []

    written = []
    globalLogPublisher.addObserver(observer := lambda event: written.append(formatEvent(event)))
    try:
        protocol.log = txaio.make_logger()
        protocol.log._set_log_level("debug")
        autobahn_protocol.WebSocketProtocol._connectionMade(protocol)
    finally:
        globalLogPublisher.removeObserver(observer)
    assert len(printed) == 1
    assert "\n" + pprint.pformat(printed[0]) in written  # the same text as before, when it is written
    assert ("logOctets", False, "WebSocketProtocol") in printed[0]


def test_autobahns_timings_still_read_as_text():
    from autobahn.websocket.protocol import Timings

    from portal.live.sending import autobahn_settings_printed_later

    autobahn_settings_printed_later()
    timings = Timings()
    timings.track("handshake")
    assert str(timings).startswith("{'handshake': ")
