"""Per-connection limits on what a browser may push upstream: a token bucket for all frames, and a
throttle for the presenter's cursor that keeps only the latest position."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

Clock = Callable[[], float]


class TokenBucket:
    """`rate` frames a second on average, up to `burst` at once."""

    def __init__(self, rate: float = 30.0, burst: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Throttle:
    """Send at most one message per `interval`; a message offered sooner replaces any waiting one and
    goes out when the interval has passed (so the last cursor position always arrives)."""

    def __init__(
        self, send: Callable[[dict[str, Any]], Awaitable[None]], interval: float = 0.05, clock: Clock = time.monotonic
    ) -> None:
        self.send, self.interval, self.clock = send, interval, clock
        self.last = -interval
        self.waiting: dict[str, Any] | None = None
        self.task: asyncio.Task[None] | None = None

    async def offer(self, message: dict[str, Any]) -> None:
        now = self.clock()
        if self.task is None and now - self.last >= self.interval:
            self.last = now
            await self.send(message)
            return
        self.waiting = message
        if self.task is None:
            self.task = asyncio.create_task(self._flush(self.last + self.interval - now))

    async def _flush(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))
        message, self.waiting, self.task = self.waiting, None, None
        self.last = self.clock()
        if message is not None:
            with contextlib.suppress(Exception):  # the socket may have gone meanwhile; the cursor is expendable
                await self.send(message)

    async def cancel(self) -> None:
        task, self.task, self.waiting = self.task, None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
