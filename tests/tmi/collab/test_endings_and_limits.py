"""How upstream closes are read, and the per-connection limits (pure, with injected clocks)."""

from __future__ import annotations

import asyncio

import pytest

from portal.tmi.collab.endings import MAYBE_CLOSED, RECONNECT, WORDS, classify_close, ended
from portal.tmi.collab.limits import Throttle, TokenBucket
from portal.tmi.collab.upstream import RECONNECT_DELAYS


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


def test_every_ending_has_words():
    for reason, words in WORDS.items():
        assert ended(reason) == {"type": "ended", "reason": reason, "message": words}
        assert words.endswith(".") and len(words) > 20


def test_the_guides_reconnect_schedule():
    assert RECONNECT_DELAYS == (1.0, 2.0, 4.0, 8.0, 16.0)


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
