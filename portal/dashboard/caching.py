"""Short per-user caching of what TMI answered, so reloading a page or paging through a list is quick.

Safe because every key carries the organisation, its TMI server and the portal user: one member's view
of TMI is never served to another (TMI filters by ACL, so two members may see different data). Only
successful answers are kept, for CACHE_SECONDS; a permission removed in TMI therefore shows in the portal
within that time. The backend is Django's default cache (local memory, per process).

Keys are few and coarse (one per member and question, not one per threat model): the default local-memory
cache keeps only 300 entries, and a portfolio of 1,000 models must not evict itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.core.cache import cache

T = TypeVar("T")
CACHE_SECONDS = 30


def user_cache_key(organization: Any, user: Any, *parts: object) -> str:
    # Hashed: parts hold user input (search text) and must fit any cache backend's key rules.
    raw = "\x1f".join(str(p) for p in (organization.pk, organization.tmi_base_url, user.pk, *parts))
    return "dashboard:" + hashlib.sha256(raw.encode()).hexdigest()


async def cached(key: str, produce: Callable[[], Awaitable[T]]) -> T:
    value = await cache.aget(key)
    if value is None:
        value = await produce()
        await cache.aset(key, value, CACHE_SECONDS)
    return value


async def cache_read(key: str) -> Any:
    return await cache.aget(key)


async def cache_write(key: str, value: Any) -> None:
    await cache.aset(key, value, CACHE_SECONDS)
