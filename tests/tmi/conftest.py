"""Fixtures for the TMI client: clients of the running sandbox (both generations), signed in or not."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from portal.tmi import AsyncTMIClient, TMIClient, TokenPair
from tests.tmi.helpers import Sleeps, sign_in


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def anonymous(sandbox) -> Iterator[TMIClient]:
    with TMIClient(sandbox.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def alice_tokens(anonymous) -> TokenPair:
    return sign_in(anonymous, "alice")


@pytest.fixture
def alice(sandbox, alice_tokens, sleeps) -> Iterator[TMIClient]:
    with TMIClient(sandbox.base_url, auth=alice_tokens, timeout=10, sleep=sleeps) as client:
        yield client


@pytest.fixture
async def async_alice(sandbox, alice_tokens):
    async with AsyncTMIClient(sandbox.base_url, auth=alice_tokens, timeout=10) as client:
        yield client


@pytest.fixture
def control(sandbox) -> Iterator[httpx.Client]:
    """The sandbox's test-only control routes (/_sandbox/faults, /_sandbox/clock)."""
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as client:
        yield client
        client.delete("/_sandbox/faults")
