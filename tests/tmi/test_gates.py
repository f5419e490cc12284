"""A client's gate (portal/tmi/gates.py): the cap on calls open at once at its server, held from just before
a request is sent until its response is read."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from portal.tmi import APITimeoutError, AsyncTMIClient, TMIClient
from portal.tmi.addresses import AddressGuard
from tests.sandbox.helpers import add_fault, count_requests_afresh, requests_at_once

LOOPBACK = AddressGuard(allowed=["127.0.0.1"])


class SemaphoreGate:
    """A gate of `places` places for the threads and tasks of this process (the portal's own span processes)."""

    def __init__(self, places: int) -> None:
        self.places = threading.BoundedSemaphore(places)

    @contextlib.contextmanager
    def hold(self, wait):
        if not self.places.acquire(timeout=wait):
            raise TimeoutError
        try:
            yield
        finally:
            self.places.release()

    @contextlib.asynccontextmanager
    async def ahold(self, wait):
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, lambda: self.places.acquire(timeout=wait)):
            raise TimeoutError
        try:
            yield
        finally:
            self.places.release()


async def test_calls_at_once_never_exceed_the_gates_places(sandbox, alice_tokens):
    add_fault(sandbox.base_url, latency_ms=100, path_prefix="/threat_models")
    count_requests_afresh(sandbox.base_url)
    gate = SemaphoreGate(2)
    async with AsyncTMIClient(
        sandbox.base_url, auth=alice_tokens, timeout=10, address_guard=LOOPBACK, gate=gate
    ) as client:
        pages = await asyncio.gather(*(client.threat_models.list(limit=1) for _ in range(6)))
    assert all(page.items for page in pages)
    assert requests_at_once(sandbox.base_url) == 2


def test_a_place_is_given_back_once_the_answer_is_read(sandbox, alice_tokens):
    gate = SemaphoreGate(1)
    with TMIClient(sandbox.base_url, auth=alice_tokens, timeout=10, address_guard=LOOPBACK, gate=gate) as client:
        for _ in range(3):  # one place: each call needs the one before to have given it back
            assert client.threat_models.list(limit=1).items


def test_no_place_in_time_is_a_timeout_that_never_reached_tmi(sandbox, alice_tokens):
    gate = SemaphoreGate(1)
    count_requests_afresh(sandbox.base_url)
    with (
        gate.hold(None),  # someone else holds the only place
        TMIClient(
            sandbox.base_url, auth=alice_tokens, timeout=0.3, max_retries=0, address_guard=LOOPBACK, gate=gate
        ) as client,
        pytest.raises(APITimeoutError) as refused,
    ):
        client.threat_models.list()
    assert refused.value.connected is False  # safe to retry, even a POST
    assert "cap on calls at once" in str(refused.value)
    assert requests_at_once(sandbox.base_url) == 0


def test_a_gate_needs_the_guarded_transport():
    with pytest.raises(TypeError):
        TMIClient("http://127.0.0.1:9", gate=SemaphoreGate(1))
