"""How long a piece of work may wait on TMI, in all.

A page view (or a sign-out) opens `tmi_deadline(seconds)` once; every TMI client built inside it through
`vault.tmi_client_options()` (the member's client, the token refresh it may need, the calls it runs at once
in asyncio tasks or worker threads: context variables follow both) stops waiting at that same moment. The
client then cuts each attempt's timeout to the time left, sends nothing again after a timeout, and gives up
at once on a Retry-After longer than what is left (portal/tmi/retry.py). Background work (exports, syncs,
the live bridge) opens none and keeps the client's own timeouts and retries.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

# A time on time.monotonic(), the TMI client's default clock.
_deadline: ContextVar[float | None] = ContextVar("portal_tmi_deadline", default=None)


@contextlib.contextmanager
def tmi_deadline(seconds: float) -> Iterator[float]:
    """Within the block, TMI may be waited on for `seconds` in all. Nested blocks never extend an outer one."""
    at = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(outer, at))
    try:
        yield _deadline.get()  # type: ignore[misc]
    finally:
        _deadline.reset(token)


def tmi_deadline_current() -> float | None:
    """The deadline of the work in progress (on time.monotonic()), or None outside any."""
    return _deadline.get()
