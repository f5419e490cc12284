"""The auth-flow budget of each TMI server: at most N calls to its /oauth2/token, /oauth2/refresh (and the other
auth-flow paths) in any sliding window, counted across every process of the portal.

A real TMI counts those calls per client address (1.8.22: 100 in any 60 s, 429 `rate_limit_exceeded` with
Retry-After beyond; 0.217.8: 100 a minute), and every code exchange and refresh the portal makes comes from the
portal's own address. So the portal keeps its own count a little below TMI's and never meets the limit: the TMI
client's transport takes a place before it sends an auth-flow request (portal/tmi/gates.py `Budget`).

- A share of the places (PORTAL_TMI_AUTH_RESERVE_PERCENT) is kept for sign-ins: refreshes stop short of it, so a
  crowd of refreshes never makes a person wait at the sign-in.
- A 429 from TMI all the same (another client at the same address, a smaller limit) closes the budget for
  everyone until its Retry-After.
- On one machine: a JSON file per server under VAR_DIR/tmi-budgets, read and written under flock. With REDIS_URL:
  a sorted set per server (and a key for the closure), changed by one Lua script so two processes never take
  the last place.
The window is a second longer than TMI's: the servers count whole seconds, and a request reaches them a moment
after its place was taken.
"""

from __future__ import annotations

import asyncio
import enum
import fcntl
import functools
import json
import math
import os
import time
import uuid
from pathlib import Path

from django.conf import settings

from portal.organizations.tmi_gates import _made, _server_key

WINDOW_SECONDS = 61.0  # TMI's 60 s, plus the second its whole-second counting and the network can add
POLL_SECONDS = 0.05
# A sign-in waits only a moment for a place (then the "TMI is busy" page waits for it); a refresh may wait as
# long as its request's pool timeout.
SIGN_IN_WAIT_SECONDS = 2.0


def _now() -> float:  # the wall clock, shared by every process; tests move it
    return time.time()


class Purpose(enum.Enum):
    SIGN_IN = "sign_in"  # the code exchange of a person signing in: may use the reserve
    REFRESH = "refresh"  # everything else (refreshes, client credentials): stops short of the reserve
    REST = "rest"  # the portfolio sync's REST calls: a window of their own (PORTAL_TMI_REST_CALLS_PER_MINUTE)


def tmi_auth_places(purpose: Purpose) -> int:
    """How many calls in a window the caller may see taken before it must wait."""
    if purpose is Purpose.REST:
        return max(1, settings.PORTAL_TMI_REST_CALLS_PER_MINUTE)
    total = max(1, settings.PORTAL_TMI_AUTH_CALLS_PER_MINUTE)
    if purpose is Purpose.SIGN_IN:
        return total
    reserve = math.ceil(total * max(0, min(100, settings.PORTAL_TMI_AUTH_RESERVE_PERCENT)) / 100)
    return max(1, total - reserve)


class _Budget:
    def __init__(self, key: str, places: int, max_wait: float | None) -> None:
        self.key, self.places, self.max_wait = key, max(1, places), max_wait

    def _try(self, now: float) -> float | None:  # None: taken; else seconds until a place may be free
        raise NotImplementedError

    def refused(self, retry_after: float | None) -> None:
        raise NotImplementedError

    def _wait_for(self, wait: float | None) -> float:
        limits = [w for w in (wait, self.max_wait) if w is not None]
        return min(limits) if limits else WINDOW_SECONDS

    def take(self, wait: float | None) -> float | None:
        deadline = time.monotonic() + self._wait_for(wait)
        while True:
            short = self._try(_now())
            if short is None:
                return None
            if time.monotonic() + short > deadline:  # no place within the wait: say when, at once
                return short
            time.sleep(max(POLL_SECONDS, min(short, 1.0)))

    async def atake(self, wait: float | None) -> float | None:
        deadline = time.monotonic() + self._wait_for(wait)
        while True:
            short = self._try(_now())
            if short is None:
                return None
            if time.monotonic() + short > deadline:
                return short
            await asyncio.sleep(max(POLL_SECONDS, min(short, 1.0)))

    def taken(self) -> int:
        """Calls counted in the current window (for the health panel and tests)."""
        raise NotImplementedError


class FileBudget(_Budget):
    """Calls counted per whole second (at most 61 counts per file, whatever the budget's size: a budget of
    thousands a minute costs the same small write per call). A second's count is kept while the second's start
    is within the window, so each call is held at least WINDOW_SECONDS - 1 = TMI's 60 s."""

    def __init__(self, directory: Path, key: str, places: int, max_wait: float | None) -> None:
        super().__init__(key, places, max_wait)
        self.path = _made(directory) / f"{key}.json"

    def _locked(self, change):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as handle:
                try:
                    state = json.loads(handle.read() or "{}")
                except ValueError:  # a torn file (a crash mid-write): start the window again
                    state = {}
                seconds = state.get("seconds") if isinstance(state.get("seconds"), dict) else {}
                counts = {int(k): int(v) for k, v in seconds.items() if str(k).lstrip("-").isdigit()}
                closed_until = float(state.get("closed_until") or 0)
                result, counts, closed_until, write = change(counts, closed_until)
                if write:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps({"seconds": counts, "closed_until": closed_until}))
            return result
        finally:
            os.close(fd)

    @staticmethod
    def _live(counts: dict[int, int], now: float) -> dict[int, int]:
        return {second: n for second, n in counts.items() if second > now - WINDOW_SECONDS}

    def _try(self, now: float) -> float | None:
        def change(counts, closed_until):
            counts = self._live(counts, now)
            if closed_until > now:
                return closed_until - now, counts, closed_until, False
            if sum(counts.values()) >= self.places:
                return min(counts) + WINDOW_SECONDS - now, counts, closed_until, False
            second = math.floor(now)
            return None, {**counts, second: counts.get(second, 0) + 1}, closed_until, True

        return self._locked(change)

    def refused(self, retry_after: float | None) -> None:
        until = _now() + (retry_after if retry_after is not None else WINDOW_SECONDS)
        self._locked(lambda counts, closed: (None, counts, max(closed, until), True))

    def taken(self) -> int:
        now = _now()
        return self._locked(lambda counts, closed: (sum(self._live(counts, now).values()), counts, closed, False))


# KEYS: the window's sorted set, the closure key (when it opens again, ms). ARGV: now (ms), window (ms), places, member.
# Returns -1 when a place was taken, else the milliseconds until one may be free.
_TAKE = """
local now, window, places = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local closed = tonumber(redis.call('GET', KEYS[2]) or '0')
if closed > now then return closed - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < places then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return -1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


@functools.cache
def _redis(url: str):
    import redis

    client = redis.Redis.from_url(url)
    return client, client.register_script(_TAKE)


class RedisBudget(_Budget):
    def __init__(self, url: str, key: str, places: int, max_wait: float | None) -> None:
        super().__init__(f"tmi-budget:{key}", places, max_wait)
        self.client, self.script = _redis(url)

    def _try(self, now: float) -> float | None:
        window_ms = int(WINDOW_SECONDS * 1000)
        answer = int(
            self.script(
                keys=[self.key, f"{self.key}:closed"], args=[int(now * 1000), window_ms, self.places, uuid.uuid4().hex]
            )
        )
        return None if answer < 0 else answer / 1000

    def refused(self, retry_after: float | None) -> None:
        ms = max(1, int((retry_after if retry_after is not None else WINDOW_SECONDS) * 1000))
        until_ms = int(_now() * 1000) + ms
        # The time it opens again (not a TTL alone, so that the budget's one clock decides); kept a while after.
        self.client.set(f"{self.key}:closed", str(until_ms), px=ms + int(WINDOW_SECONDS * 1000))

    def taken(self) -> int:
        now_ms = int(_now() * 1000)
        return int(self.client.zcount(self.key, now_ms - int(WINDOW_SECONDS * 1000), "+inf"))


def tmi_budget(base_url: str, purpose: Purpose = Purpose.REFRESH, *, max_wait: float | None = None) -> _Budget:
    """The auth-flow budget of the TMI server at `base_url`, as `purpose` may use it, or its REST budget
    (Purpose.REST, a window of its own). `max_wait`: the longest a call waits for a place (default: a sign-in
    SIGN_IN_WAIT_SECONDS, others their request's pool timeout)."""
    key = _budget_key(base_url, purpose)
    places = tmi_auth_places(purpose)
    if max_wait is None and purpose is Purpose.SIGN_IN:
        max_wait = SIGN_IN_WAIT_SECONDS
    if settings.REDIS_URL:
        return RedisBudget(settings.REDIS_URL, key, places, max_wait)
    return FileBudget(Path(settings.VAR_DIR) / "tmi-budgets", key, places, max_wait)


def _budget_key(base_url: str, purpose: Purpose) -> str:
    key = _server_key(base_url)
    return f"{key}-rest" if purpose is Purpose.REST else key


def tmi_budget_forget(base_url: str) -> None:
    """Start the server's windows afresh (counts and any closure): for an operator after TMI's limit was
    raised, and for tests that reuse a server address."""
    for key in {_budget_key(base_url, purpose) for purpose in Purpose}:
        if settings.REDIS_URL:
            client, _ = _redis(settings.REDIS_URL)
            client.delete(f"tmi-budget:{key}", f"tmi-budget:{key}:closed")
        else:
            (Path(settings.VAR_DIR) / "tmi-budgets" / f"{key}.json").unlink(missing_ok=True)
