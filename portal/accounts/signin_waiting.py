"""A sign-in that TMI (or the portal's auth-flow budget) asked to wait: kept, then continued by itself.

TMI refuses a code exchange with 429 `rate_limit_exceeded` and Retry-After when its auth-flow limit for the
portal's address is reached (PROTOCOL.md 12.13); a refused request is not processed, so the authorization code is
still unspent. The callback has already used up the OAuth state, so the attempt's code, PKCE verifier and
transaction are kept in the person's (server-side) session, and the "TMI is busy" page sends the browser to the
continue address once the Retry-After has passed; that request exchanges the same code (backend.py). A code lives
only minutes at TMI, so a waiting attempt is dropped after WAITING_MAX_SECONDS.
"""

from __future__ import annotations

import math
import time

WAITING_SESSION_KEY = "tmi_signin_waiting"
WAITING_MAX_SECONDS = 300
DEFAULT_WAIT_SECONDS = 5


def _now() -> float:  # the wall clock (a session may be continued by another process); tests move it
    return time.time()


class SignInBusy(Exception):
    """The code exchange was refused for TMI's rate limit; the attempt waits `retry_after` seconds."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = max(1, math.ceil(retry_after)) if retry_after is not None else DEFAULT_WAIT_SECONDS


def signin_waiting_keep(session, *, transaction: dict, code: str, verifier: str, retry_after: int) -> None:
    now = _now()
    earlier = session.get(WAITING_SESSION_KEY)
    started = earlier.get("started") if isinstance(earlier, dict) and earlier.get("code") == code else now
    session[WAITING_SESSION_KEY] = {
        "transaction": transaction,
        "code": code,
        "verifier": verifier,
        "not_before": now + retry_after,
        "started": started,
    }


def signin_waiting_get(session) -> dict | None:
    """The waiting attempt of this session, unless it is too old to continue."""
    waiting = session.get(WAITING_SESSION_KEY)
    if not isinstance(waiting, dict) or not isinstance(waiting.get("code"), str):
        return None
    if _now() - float(waiting.get("started") or 0) > WAITING_MAX_SECONDS:
        session.pop(WAITING_SESSION_KEY, None)
        return None
    return waiting


def signin_waiting_seconds_left(waiting: dict) -> int:
    return max(0, math.ceil(float(waiting.get("not_before") or 0) - _now()))


def signin_waiting_take(session) -> dict | None:
    """The waiting attempt, taken out of the session: it is continued once (it may be kept again)."""
    waiting = signin_waiting_get(session)
    session.pop(WAITING_SESSION_KEY, None)
    return waiting
