"""Retries, timeouts and error mapping over real sockets, with faults injected by the sandbox's
/_sandbox/faults hook. Sleeping is injected, so Retry-After is checked without waiting."""

from __future__ import annotations

import httpx
import pytest

from portal.tmi import (
    APIConnectionError,
    APITimeoutError,
    AsyncTMIClient,
    InternalServerError,
    MalformedResponse,
    Page,
    RateLimited,
    ServiceUnavailable,
    TMIClient,
)
from tests.tmi.helpers import AsyncSleeps, Sleeps


def inject(control: httpx.Client, **fault) -> None:
    control.post("/_sandbox/faults", json=fault).raise_for_status()


def counting(requests: list[str]):
    def hook(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    return hook


@pytest.fixture
def client_with(sandbox, alice_tokens):
    clients: list[TMIClient] = []

    def make(**kwargs) -> tuple[TMIClient, list[str], Sleeps]:
        requests: list[str] = []
        sleeps = Sleeps()
        client = TMIClient(
            sandbox.base_url, auth=alice_tokens, sleep=sleeps, event_hooks={"request": [counting(requests)]}, **kwargs
        )
        clients.append(client)
        client.discovery()
        requests.clear()
        return client, requests, sleeps

    yield make
    for client in clients:
        client.close()


def test_503_is_retried_after_its_retry_after(client_with, control):
    client, requests, sleeps = client_with()
    inject(control, path_prefix="/threat_models", method="GET", status=503, retry_after=1, times=2)
    assert isinstance(client.threat_models.list(), Page)
    assert requests == ["GET /threat_models"] * 3 and sleeps == [1.0, 1.0]


def test_503_beyond_max_retries_is_raised_with_retry_after(client_with, control):
    client, requests, sleeps = client_with(max_retries=1)
    inject(control, path_prefix="/threat_models", method="GET", status=503, retry_after=4, times=5)
    with pytest.raises(ServiceUnavailable) as caught:
        client.threat_models.list()
    assert caught.value.retry_after == 4.0 and caught.value.error == "service_unavailable"
    assert len(requests) == 2 and sleeps == [4.0]


def test_429_on_a_post_is_retried(client_with, control):
    client, requests, sleeps = client_with()
    inject(control, path_prefix="/threat_models", method="POST", status=429, retry_after=2, times=1)
    assert client.threat_models.create(name="after the rate limit").name == "after the rate limit"
    assert requests == ["POST /threat_models"] * 2 and sleeps == [2.0]


def test_429_retry_after_is_capped(sandbox, alice_tokens, control):
    sleeps = Sleeps()
    with TMIClient(sandbox.base_url, auth=alice_tokens, sleep=sleeps, generation=sandbox.config.generation) as client:
        client.retry_policy.max_retry_after = 5
        inject(control, path_prefix="/threat_models", status=429, retry_after=600, times=1)
        client.threat_models.list()
    assert sleeps == [5.0]


def test_500_on_a_post_is_not_retried_but_on_a_get_it_is(client_with, control):
    client, requests, sleeps = client_with()
    inject(control, path_prefix="/threat_models", method="POST", status=500, times=1)
    with pytest.raises(InternalServerError):
        client.threat_models.create(name="maybe created")
    assert requests == ["POST /threat_models"] and sleeps == []
    inject(control, path_prefix="/threat_models", method="GET", status=500, times=1)
    client.threat_models.list()
    assert requests[1:] == ["GET /threat_models"] * 2 and len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5


def test_a_rate_limit_that_persists_is_raised(client_with, control):
    client, requests, _ = client_with(max_retries=2)
    inject(control, path_prefix="/threat_models", status=429, retry_after=1)
    with pytest.raises(RateLimited) as caught:
        client.threat_models.list()
    assert caught.value.retry_after == 1.0 and len(requests) == 3


def test_slow_responses_time_out_and_gets_are_retried(client_with, control):
    client, requests, sleeps = client_with(timeout=0.2, max_retries=1)
    inject(control, path_prefix="/threat_models", method="GET", latency_ms=700, times=2)
    with pytest.raises(APITimeoutError):
        client.threat_models.list()
    assert requests == ["GET /threat_models"] * 2 and len(sleeps) == 1


def test_a_slow_post_is_not_resent(client_with, control):
    client, requests, _ = client_with(timeout=0.2)
    inject(control, path_prefix="/threat_models", method="POST", latency_ms=700, times=1)
    with pytest.raises(APITimeoutError):
        client.threat_models.create(name="slow")
    assert requests == ["POST /threat_models"]


def test_one_slow_response_then_success(client_with, control):
    client, requests, _ = client_with(timeout=0.3)
    inject(control, path_prefix="/threat_models", method="GET", latency_ms=700, times=1)
    assert isinstance(client.threat_models.list(), Page)
    assert len(requests) == 2


def test_a_malformed_body_from_the_server_is_malformed_response(client_with, control):
    client, _, _ = client_with()
    inject(control, path_prefix="/threat_models", method="GET", status=200, body='{"threat_models": [', times=1)
    with pytest.raises(MalformedResponse, match="not JSON"):
        client.threat_models.list()


def test_a_refused_connection_is_retried_then_raised(alice_tokens):
    sleeps = Sleeps()
    # Port 9 on loopback: nothing listens, the connect is refused.
    with TMIClient("http://127.0.0.1:9", auth=alice_tokens, sleep=sleeps, generation="1.8", max_retries=2) as client:
        with pytest.raises(APIConnectionError) as caught:
            client.threat_models.create(name="x")
    assert not caught.value.connected and len(sleeps) == 2


async def test_async_client_retries_with_injected_sleep(sandbox, alice_tokens, control):
    sleeps = AsyncSleeps()
    inject(control, path_prefix="/threat_models", method="GET", status=502, times=1)
    async with AsyncTMIClient(sandbox.base_url, auth=alice_tokens, sleep=sleeps) as client:
        assert isinstance(await client.threat_models.list(), Page)
    assert len(sleeps) == 1
