"""When a failed request may be sent again, and after how long.

Only where it is safe: idempotent methods retry on connection errors, timeouts, 429 and 5xx gateway
errors (and 500); a POST retries only when the server surely did not process it (connect error, 429,
503); a refresh-token or code exchange retries only on a connect error, because TMI's refresh tokens and
codes are single use (PROTOCOL.md 3.5, 3.6).

Under a deadline (a page that must answer within seconds) time is the scarce thing: a request that timed
out is not sent again, and a wait (Retry-After or backoff) that would not end before the deadline is not
started; the caller gets the error at once, with the server's Retry-After on it. Time is read from the
policy's `clock`, so tests can move it instead of waiting.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from portal.tmi.errors import APIConnectionError, APITimeoutError, parse_retry_after
from portal.tmi.failures import Failure, failure_of, failure_of_status


class RetryMode(enum.Enum):
    IDEMPOTENT = "idempotent"  # GET, HEAD, PUT, DELETE
    UNSAFE = "unsafe"  # POST, PATCH: only when surely not processed
    CONNECT_ONLY = "connect_only"  # single-use credentials: only if the request never left

    @classmethod
    def for_method(cls, method: str) -> RetryMode:
        return cls.IDEMPOTENT if method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} else cls.UNSAFE


# Of the transient statuses (failures.py), those that say the server did not process the request.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})


def backoff_ceiling(attempt: int, *, base: float, cap: float) -> float:
    """The one backoff formula: `base` doubling with each attempt (0-based), capped at `cap`. The client's
    retries add jitter below it; the live session's reconnect schedule (collab/upstream.py) uses it as is."""
    return min(cap, base * (2**attempt))


@dataclass
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A longer Retry-After is cut to this: a page waiting on TMI should fail fast rather than hang (TMI's
    # 503 asks for 30 s). Background jobs may raise it.
    max_retry_after: float = 10.0
    jitter: Callable[[], float] = field(default=random.random)  # in [0, 1)
    # False: a timed-out request is never sent again. Under a deadline it never is, whatever this says.
    retry_timeouts: bool = True
    # The clock deadlines are measured on (seconds, monotonic). Injectable so tests need not wait.
    clock: Callable[[], float] = field(default=time.monotonic)

    def delay(
        self,
        mode: RetryMode,
        attempt: int,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        error: Exception | None = None,
        remaining: float | None = None,
    ) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None when the request must not be retried.

        `remaining`: seconds left before the caller's deadline (None: there is none). A wait the server
        asks for, or a backoff, that would not end before the deadline means no retry: TMI asking for 60
        seconds when 9 are left is an answer now, not after a nap."""
        if attempt >= self.max_retries or not self._retryable(mode, status, error):
            return None
        if any(str(name).lower() == "x-portal-budget" for name in (headers or {})):
            return None  # the caller's own budget refused it, after waiting as long as the request allowed
        if isinstance(error, APITimeoutError) and (remaining is not None or not self.retry_timeouts):
            return None  # the time it took is spent; another attempt would only spend the rest
        retry_after = parse_retry_after((headers or {}).get("retry-after")) if status is not None else None
        asked = retry_after if retry_after is not None else self.backoff(attempt)
        if remaining is not None and asked >= remaining:
            return None
        return min(asked, self.max_retry_after) if retry_after is not None else asked

    def remaining(self, deadline: float | None) -> float | None:
        """Seconds left before `deadline` (a time on this policy's clock), or None without one."""
        return None if deadline is None else deadline - self.clock()

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = backoff_ceiling(attempt, base=self.base_delay, cap=self.max_delay)
        return ceiling / 2 + ceiling / 2 * self.jitter()

    def wait(self, error: BaseException, attempt: int) -> float | None:
        """For work retried as a whole (an export run again later): seconds to wait after `error` ended try
        number `attempt` (0-based), or None when it must not be tried again: the failure is not transient,
        or `max_retries` are spent. TMI's Retry-After is honoured up to `max_retry_after`; else backoff."""
        if attempt >= self.max_retries or failure_of(error) is not Failure.TRANSIENT:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        return self.backoff(attempt)

    @staticmethod
    def _retryable(mode: RetryMode, status: int | None, error: Exception | None) -> bool:
        if error is not None:
            if isinstance(error, APIConnectionError) and not error.connected:
                return True  # never reached the server
            return mode is RetryMode.IDEMPOTENT and failure_of(error) is Failure.TRANSIENT
        if status is None or mode is RetryMode.CONNECT_ONLY or not failure_of_status(status).transient:
            return False
        return mode is RetryMode.IDEMPOTENT or status in _NOT_PROCESSED_STATUSES
