"""Which TMI generation each server speaks, remembered for every client the portal builds.

Each page, sign-in and export builds new TMI clients, and a client learns its server's generation from GET /.
On a real server GET / runs the database and Redis health checks (280-570 ms, against 5-10 ms for a data call)
and 0.217 allows it 10 times a minute per client address (PROTOCOL.md 12b), so asking on every page both slows
pages and gets the portal refused. The answer is kept in Django's cache (Redis in production, so shared by every
process) per server address for an hour, and handed to each new client as a hint. A client whose hint meets an
answer of the other generation's shape asks GET / again (portal/tmi/runners.py), and the new answer replaces the
remembered one: a server upgraded or replaced at the same address costs one failed call, not an hour.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache

from portal.tmi import ServerInfo

GENERATION_SECONDS = 3600


def _key(base_url: str) -> str:
    return "tmi-generation:" + hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()


def tmi_generation_hint(base_url: str) -> str | None:
    return cache.get(_key(base_url))


def tmi_server_info_known(base_url: str) -> ServerInfo | None:
    """The whole of the last GET / answer (version, build, status) while its generation is remembered: what
    the admin pages show on each view without asking GET / again."""
    if tmi_generation_hint(base_url) is None:
        return None
    known = cache.get(_key(base_url) + ":info")
    return ServerInfo.model_validate(known) if known else None


def tmi_generation_remember(base_url: str) -> Callable[[ServerInfo], None]:
    """The hook a client calls with each GET / answer."""

    def remember(info: ServerInfo) -> None:
        cache.set_many(
            {_key(base_url): info.generation, _key(base_url) + ":info": info.model_dump(mode="json")},
            GENERATION_SECONDS,
        )

    return remember
