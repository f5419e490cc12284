"""At most N calls at once at each TMI server, counted across every process of the portal.

Pages (daphne), exports and token refreshes (Celery workers), live sessions' REST calls and management
commands all hand their TMI clients the gate of the server they call (portal/tmi/gates.py), so together they
never have more than the organisation's `tmi_max_concurrency` calls open there (4 by default: a real 0.217
deadlocks at about 7). Organisations on the same server share its places.

- On one machine (the embedded defaults): N lock files per server under VAR_DIR/tmi-gates; a place is a lock
  held with flock, which the kernel gives back if the process dies.
- With REDIS_URL (several machines): a sorted set per server in Redis, each place a lease that runs out after
  LEASE_SECONDS if its holder died without giving it back.
Waiting for a place polls every POLL_SECONDS, up to the request's pool timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import os
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.conf import settings

POLL_SECONDS = 0.01
DEFAULT_WAIT_SECONDS = 30.0
LEASE_SECONDS = 120.0


def _server_key(base_url: str) -> str:
    return hashlib.sha256(base_url.rstrip("/").lower().encode()).hexdigest()[:32]


_LOCAL_PLACES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


class _Gate:
    """Tries for a place without blocking; waiting and the async twin are shared."""

    where = ""  # the store the places are counted in (a directory, a Redis URL)

    def __init__(self, key: str, places: int) -> None:
        self.key, self.places = key, max(1, places)

    def _try(self):  # a release callable, or None
        raise NotImplementedError

    @contextlib.contextmanager
    def hold(self, wait: float | None) -> Iterator[None]:
        deadline = time.monotonic() + (DEFAULT_WAIT_SECONDS if wait is None else wait)
        while (release := self._try()) is None:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no free place of {self.places}")
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            release()

    @contextlib.asynccontextmanager
    async def ahold(self, wait: float | None) -> AsyncIterator[None]:
        deadline = time.monotonic() + (DEFAULT_WAIT_SECONDS if wait is None else wait)
        local = self._local()
        if local.locked():  # this process holds every place it may: wait for one of ours, without polling
            try:
                # asyncio.timeout, not wait_for: Semaphore.acquire gives back a place granted as it is
                # cancelled; 3.11's wait_for could lose one.
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await local.acquire()
            except TimeoutError:
                raise TimeoutError(f"no free place of {self.places}") from None
        else:
            await local.acquire()
        try:
            while (release := self._try()) is None:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no free place of {self.places}")
                await asyncio.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                release()
        finally:
            local.release()

    def _local(self) -> asyncio.Semaphore:
        """This event loop's share of the places: a thousand sockets opening at once each polled the gate every
        POLL_SECONDS (a third of daphne's time), and a place given back waited for the next poll to be
        taken. Now at most `places` of them poll (for places other processes hold), and a place this
        process gives back goes to its next waiter at once."""
        per_loop = _LOCAL_PLACES.setdefault(asyncio.get_running_loop(), {})
        key = (self.where, self.key, self.places)
        if key not in per_loop:
            per_loop[key] = asyncio.Semaphore(self.places)
        return per_loop[key]


@functools.cache
def _made(directory: Path) -> Path:
    """The directory, made once per process (every client the portal builds gets a gate)."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class _LockFiles:
    """This process's lock files, each opened once and kept open, and the places it holds among them.

    A place this process holds is never tried again by it (the kernel would refuse only another process's
    open file, and each try opened and closed one): a thousand browsers opening a diagram made some 6,500
    opens, closes and locks for 3,000 calls. A child process (Celery's pool) starts with none: the files it
    inherited share their locks with the parent's."""

    def __init__(self) -> None:
        self.fds: dict[str, int] = {}
        self.held: set[str] = set()
        self.lock = threading.Lock()

    def take(self, paths: list[str]):
        with self.lock:
            for path in paths:
                if path not in self.held and self._lock(path):
                    self.held.add(path)
                    return functools.partial(self._give_back, path)
        return None

    def _lock(self, path: str) -> bool:
        for _ in range(2):
            fd = self.fds.get(path)
            if fd is None:
                fd = self.fds[path] = _open(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            if os.fstat(fd).st_nlink:
                return True
            # The file was removed since it was opened (its directory cleared): a lock on it would count for
            # nobody else. Open it afresh, as the other processes do.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(self.fds.pop(path))
        return False

    def _give_back(self, path: str) -> None:
        with self.lock:
            fd = self.fds.get(path)
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self.held.discard(path)

    def forget_inherited(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)  # the parent's own descriptor keeps its lock
        self.fds, self.held, self.lock = {}, set(), threading.Lock()


def _open(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:  # the directory was removed since this process made it
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


_LOCK_FILES = _LockFiles()
os.register_at_fork(after_in_child=_LOCK_FILES.forget_inherited)


class FileGate(_Gate):
    def __init__(self, directory: Path, key: str, places: int) -> None:
        super().__init__(key, places)
        self.directory = _made(directory)
        self.where = str(directory)
        self.paths = [str(self.directory / f"{self.key}-{place}.lock") for place in range(self.places)]

    def _try(self):
        return _LOCK_FILES.take(self.paths)


# Drop leases run out, then take a place if one is free: atomically, so two processes never take the last one.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


@functools.cache
def _redis(url: str):
    import redis

    client = redis.Redis.from_url(url)
    return client, client.register_script(_ACQUIRE)


class RedisGate(_Gate):
    def __init__(self, url: str, key: str, places: int) -> None:
        super().__init__(f"tmi-gate:{key}", places)
        self.client, self.acquire = _redis(url)
        self.where = url

    def _try(self):
        now_ms = int(time.time() * 1000)
        lease_ms = int(LEASE_SECONDS * 1000)
        token = uuid.uuid4().hex
        taken = self.acquire(keys=[self.key], args=[now_ms, self.places, now_ms + lease_ms, token, lease_ms])
        if not taken:
            return None
        return lambda: self.client.zrem(self.key, token)


def tmi_gate(base_url: str, places: int) -> _Gate:
    """The gate of the TMI server at `base_url`, with `places` places for this caller."""
    key = _server_key(base_url)
    if settings.REDIS_URL:
        return RedisGate(settings.REDIS_URL, key, places)
    return FileGate(Path(settings.VAR_DIR) / "tmi-gates", key, places)
