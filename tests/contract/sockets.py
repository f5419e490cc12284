"""A collaboration WebSocket whose every frame, sent or received, is checked against the AsyncAPI document."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from portal.conformance.contract.recorder import ContractRecorder


class ContractSocket:
    def __init__(self, recorder: ContractRecorder, connection: ClientConnection, name: str) -> None:
        self.recorder = recorder
        self.connection = connection
        self.name = name  # the user behind it, for failure messages
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, recorder: ContractRecorder, url: str, name: str) -> ContractSocket:
        return cls(recorder, await connect(url, open_timeout=5, max_size=None), name)

    async def send(self, message: dict[str, Any]) -> None:
        frame = json.dumps(message)
        self.recorder.record_frame("ws-send", frame)
        await self.connection.send(frame)

    async def receive(self, timeout: float = 3.0) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.connection.recv(), timeout)
        self.recorder.record_frame("ws-receive", frame)
        message = json.loads(frame)
        self.received.append(message)
        return message

    async def receive_until(self, message_type: str, timeout: float = 3.0) -> dict[str, Any]:
        """The next `message_type` frame; every frame before it is checked and kept in `received`."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.receive(timeout)
                if message.get("message_type") == message_type:
                    return message

    async def receive_types(self, *message_types: str, timeout: float = 3.0) -> list[dict[str, Any]]:
        """The next frames, which must be exactly these types in this order."""
        messages = [await self.receive(timeout) for _ in message_types]
        assert [m.get("message_type") for m in messages] == list(message_types), (self.name, messages)
        return messages

    async def assert_quiet(self, seconds: float = 0.3) -> None:
        """Nothing arrives for a moment (the protocol answers some messages with silence)."""
        try:
            frame = await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return
        self.recorder.record_frame("ws-receive", frame)
        raise AssertionError(f"{self.name} got an unexpected frame: {frame}")

    async def drain_until_closed(self, timeout: float = 3.0) -> int:
        """Read (and check) what is left until the server closes; the close code as the peer sees it:
        1005 for a close frame without status, 1006 for a connection dropped without a close frame."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.receive(timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else 1006

    async def close(self) -> None:
        """Check what is still pending (every received frame is checked), then close."""
        try:
            while True:
                await self.receive(timeout=0.1)
        except (TimeoutError, ConnectionClosed):
            pass
        await self.connection.close()
