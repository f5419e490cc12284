"""When a failed request may be sent again, and after how long.

Only where it is safe: idempotent methods retry on connection errors, timeouts, 429 and 5xx gateway
errors (and 500); a POST retries only when the server surely did not process it (connect error, 429,
503); a refresh-token or code exchange retries only on a connect error, because TMI's refresh tokens and
codes are single use (PROTOCOL.md 3.5, 3.6).
"""
from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from portal.tmi.errors import APIConnectionError, APITimeoutError, parse_retry_after


class RetryMode(enum.Enum):
    IDEMPOTENT = "idempotent"  # GET, HEAD, PUT, DELETE
    UNSAFE = "unsafe"  # POST, PATCH: only when surely not processed
    CONNECT_ONLY = "connect_only"  # single-use credentials: only if the request never left

    @classmethod
    def for_method(cls, method: str) -> "RetryMode":
        return cls.IDEMPOTENT if method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} else cls.UNSAFE


_RETRY_STATUS = {
    RetryMode.IDEMPOTENT: frozenset({429, 500, 502, 503, 504}),
    RetryMode.UNSAFE: frozenset({429, 503}),
    RetryMode.CONNECT_ONLY: frozenset(),
}


@dataclass
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A longer Retry-After is cut to this: a page waiting on TMI should fail fast rather than hang (TMI's
    # 503 asks for 30 s). Background jobs may raise it.
    max_retry_after: float = 10.0
    jitter: Callable[[], float] = field(default=random.random)  # in [0, 1)

    def delay(self, mode: RetryMode, attempt: int, *, status: int | None = None,
              headers: Mapping[str, str] | None = None, error: Exception | None = None) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None when the request must not be retried."""
        if attempt >= self.max_retries or not self._retryable(mode, status, error):
            return None
        retry_after = parse_retry_after((headers or {}).get("retry-after")) if status is not None else None
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(attempt)

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return ceiling / 2 + ceiling / 2 * self.jitter()

    @staticmethod
    def _retryable(mode: RetryMode, status: int | None, error: Exception | None) -> bool:
        if error is not None:
            if isinstance(error, APIConnectionError) and not error.connected:
                return True  # never reached the server
            if mode is RetryMode.IDEMPOTENT:
                return isinstance(error, (APIConnectionError, APITimeoutError))
            return False
        return status in _RETRY_STATUS[mode]
