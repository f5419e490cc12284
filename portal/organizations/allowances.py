"""Allowances: at most N uses of something in a window, counted in Django's cache (shared by every web process
when CACHE_URL is set). Used for what makes the portal call out or store state for anyone who asks: sign-in
starts, "Test connection"."""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def allowance_take(limits: dict[str, int], *, window_seconds: int = 60) -> bool:
    """Count one use against each allowance (`{key: limit}`); False when any of them is spent. A window opens at
    a key's first use and its count expires with it, so a burst is judged whole, never split by a clock
    boundary."""
    allowed = True
    for key, limit in limits.items():
        name = "allowance:" + hashlib.sha256(key.encode()).hexdigest()
        if cache.add(name, 1, timeout=window_seconds):
            count = 1
        else:
            try:
                count = cache.incr(name)
            except ValueError:  # the window closed between add and incr: this use opens the next one
                cache.add(name, 1, timeout=window_seconds)
                count = 1
        allowed = allowed and count <= limit
    return allowed
