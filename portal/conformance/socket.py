"""Joining a collaboration session's WebSocket and reading its first messages, as the live page's bridge does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from portal.tmi.addresses import AddressGuard
from portal.tmi.collab.connect import upstream_connect

# What a new client receives first, in order (PROTOCOL.md 7.1 at 1.8, 9.5 at 0.217).
FIRST_MESSAGES = {
    "1.8": ("diagram_state", "participants_update"),
    "0.217": ("diagram_state_sync", "current_presenter", "participants_update"),
}


def first_frames(
    url: str, *, count: int, guard: AddressGuard | None, on_frame: Callable[[str | bytes], None], wait: float = 5.0
) -> list[str | bytes]:
    """Connect, read up to `count` frames within `wait` seconds, close. Each frame goes to `on_frame` too."""
    return asyncio.run(_first_frames(url, count=count, guard=guard, on_frame=on_frame, wait=wait))


async def _first_frames(
    url: str, *, count: int, guard: AddressGuard | None, on_frame: Callable[[str | bytes], None], wait: float
) -> list[str | bytes]:
    frames: list[str | bytes] = []
    deadline = time.monotonic() + wait
    socket = await asyncio.wait_for(upstream_connect(url, guard=guard, open_timeout=wait), wait)
    try:
        while len(frames) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                frame = await asyncio.wait_for(socket.recv(), left)
            except TimeoutError:
                break
            on_frame(frame)
            frames.append(frame)
    finally:
        await socket.close()
    return frames
