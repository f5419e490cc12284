"""Run independent TMI calls together, at most `limit` at a time (limit 1: one after another)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# Calls per page to one TMI server at once: enough to hide latency, few enough not to flood it.
PER_PAGE_CONCURRENCY = 8


async def gather_limited(
    factories: Iterable[Callable[[], Awaitable[T]]], *, limit: int = PER_PAGE_CONCURRENCY
) -> list[T]:
    """Results in order. The first failure cancels the rest (asyncio.gather semantics on error)."""
    factories = list(factories)
    if limit <= 1:
        return [await make() for make in factories]
    semaphore = asyncio.Semaphore(limit)

    async def bounded(make: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await make()

    tasks = [asyncio.ensure_future(bounded(make)) for make in factories]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
