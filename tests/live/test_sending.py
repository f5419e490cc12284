"""A live frame goes to the send Channels' session middleware wraps, and anything unexpected is left alone.
(The write-at-once path needs daphne's Twisted transport: tests/bench/test_live_relay.py and the browser
tests run frames through a real daphne.)"""

from __future__ import annotations

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
