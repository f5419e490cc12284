"""A live frame goes to the send Channels' session middleware wraps, is written at once, skips autobahn's
debug message, and anything unexpected is left alone.
(The write-at-once path needs daphne's Twisted transport: tests/bench/test_live_relay.py and the browser
tests run frames through a real daphne.)"""

from __future__ import annotations

import collections
import functools
import socket

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
    went_at_once = b""
    while True:
        try:
            went_at_once += browser.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
    assert len(went_at_once) + len(waiting) == len(big) + len(b"after")


def open_daphne_protocol(monkeypatch):
    """daphne's own WebSocket protocol as autobahn leaves it once open, on a Twisted transport (daphne_transport),
    with autobahn's debug formatting counted."""
    from autobahn.websocket import protocol as autobahn_protocol
    from autobahn.websocket.protocol import TrafficStats
    from daphne.ws_protocol import WebSocketProtocol

    formatted = []
    monkeypatch.setattr(autobahn_protocol, "hltype", lambda obj: formatted.append(obj) or "")
    _, transport, browser, reactor = daphne_transport()
    protocol = WebSocketProtocol()
    protocol.transport, protocol.state = transport, WebSocketProtocol.STATE_OPEN
    protocol.send_queue, protocol.logOctets, protocol.trafficStats = collections.deque(), False, TrafficStats()

    async def handle_reply(protocol, message):  # daphne's Server.handle_reply, as far as a text frame goes
        protocol.sendData(message["text"].encode())

    return functools.partial(handle_reply, protocol), protocol, browser, formatted


async def test_an_open_sockets_frame_is_written_without_autobahns_debug_message(monkeypatch):
    send, protocol, browser, formatted = open_daphne_protocol(monkeypatch)
    send_text = frame_sender(send)
    await send_text('{"type":"ops"}')
    assert browser.recv(100) == b'{"type":"ops"}'
    assert formatted == []  # debug is off: nothing formatted
    assert protocol.trafficStats.outgoingOctetsWireLevel == len('{"type":"ops"}')
    assert "sendData" not in vars(protocol)  # the class does it: nothing is kept per socket


async def test_with_debug_on_or_a_queue_waiting_autobahn_sends_as_it_always_did(monkeypatch):
    import txaio

    send, protocol, browser, formatted = open_daphne_protocol(monkeypatch)
    send_text = frame_sender(send)
    protocol.log = txaio.make_logger()
    protocol.log._set_log_level("debug")
    await send_text("seen by the debug log")
    assert browser.recv(100) == b"seen by the debug log" and len(formatted) == 1
    protocol.log._set_log_level("info")
    protocol.send_queue.append((b"queued first", False))
    protocol.triggered = True  # autobahn's own drain is under way (it would run on the reactor)
    await send_text("after")
    assert list(protocol.send_queue) == [(b"queued first", False), (b"after", False)]  # in order, behind it


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
