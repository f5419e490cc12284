"""How upstream closes are read, and the per-connection limits (pure, with injected clocks)."""

from __future__ import annotations

import asyncio

import pytest

from portal.tmi.collab.endings import MAYBE_CLOSED, REASONS, RECONNECT, TERMINAL_ERRORS, classify_close, ended
from portal.tmi.collab.limits import Throttle, TokenBucket
from portal.tmi.collab.upstream import RECONNECT_DELAYS
from portal.tmi.retry import RetryPolicy, backoff_ceiling


@pytest.mark.parametrize(
    "code, reason, announced, verdict",
    [
        (1000, "Session terminated: host disconnected", None, "host_left"),
        (1000, "Session ID mismatch", None, RECONNECT),  # another session took the place of ours
        (1000, "", None, "session_closed"),
        (4403, "access revoked", None, "access_revoked"),
        (1005, "", None, MAYBE_CLOSED),
        (1005, "", "removed", "removed"),  # the error frame came first
        (1006, "", None, RECONNECT),
        (1001, "going away", None, RECONNECT),  # a TMI restart
        (1012, "", None, RECONNECT),
        (4401, "token expired", None, RECONNECT),  # a fresh credential is fetched on reconnect
        (None, "", None, RECONNECT),
    ],
)
def test_closes(code, reason, announced, verdict):
    assert classify_close(code, reason, announced) == verdict


def test_an_ending_is_a_reason_code_without_words():
    """The client says why a session ended; the words are the portal's (tests/live/test_endings.py)."""
    for reason in REASONS:
        assert ended(reason) == {"type": "ended", "reason": reason}
    with pytest.raises(ValueError):
        ended("no such reason")
    assert set(TERMINAL_ERRORS.values()) <= REASONS  # what TMI announces is a known reason


def test_the_guides_reconnect_schedule():
    assert RECONNECT_DELAYS == (1.0, 2.0, 4.0, 8.0, 16.0)


def test_the_reconnect_schedule_is_the_clients_one_backoff():
    """Not a second formula: the guide's schedule is the retry policy's backoff ceiling (1 s doubling,
    capped at 30 s), which the client's jittered retries stay under."""
    assert RECONNECT_DELAYS == tuple(backoff_ceiling(n, base=1.0, cap=30.0) for n in range(5))
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=lambda: 1.0)
    assert tuple(policy.backoff(n) for n in range(5)) == RECONNECT_DELAYS
    assert backoff_ceiling(10, base=1.0, cap=30.0) == 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.11  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 60
    assert sum(bucket.take() for _ in range(10)) == 3  # never more than the burst


async def test_throttle_sends_the_first_at_once_and_only_the_latest_after_the_interval():
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    throttle = Throttle(send, interval=0.05)
    for x in range(10):
        await throttle.offer({"x": x})
    assert sent == [{"x": 0}]
    await asyncio.sleep(0.1)
    assert sent == [{"x": 0}, {"x": 9}]
    await asyncio.sleep(0.06)
    await throttle.offer({"x": 10})  # the interval has passed: at once
    await throttle.offer({"x": 11})  # waits...
    await throttle.cancel()  # ...and is dropped
    await asyncio.sleep(0.06)
    assert sent == [{"x": 0}, {"x": 9}, {"x": 10}]
