"""The refreshing auth hook, against respx: before expiry, once on a 401, once under concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
import respx

from portal.tmi import AsyncTMIClient, RefreshFailed, TMIClient, TokenAuth, TokenPair, Unauthorized

BASE = "http://tmi.test"
TM = {"id": "tm1", "name": "Shop"}


def pair(n: int, *, expires_in: int = 3600, issued_at: float | None = None) -> TokenPair:
    return TokenPair(
        access_token=f"access-{n}",
        refresh_token=f"refresh-{n}",
        expires_in=expires_in,
        issued_at=time.time() if issued_at is None else issued_at,
    )


@pytest.fixture
def router():
    router = respx.Router(base_url=BASE, assert_all_called=False)
    # A server that rotates refresh tokens once each, like TMI (single use).
    used: set[str] = set()
    lock = threading.Lock()

    def refresh(request):
        token = json.loads(request.content)["refresh_token"]
        time.sleep(0.05)  # long enough for concurrent requests to pile up behind the lock
        with lock:
            if token in used:
                return httpx.Response(400, json={"error": "invalid_grant"})
            used.add(token)
        n = int(token.split("-")[1]) + 1
        return httpx.Response(
            200,
            json={
                "access_token": f"access-{n}",
                "refresh_token": f"refresh-{n}",
                "expires_in": 3600,
                "token_type": "bearer",
            },
        )

    def threat_model(request):
        if request.headers.get("authorization") == "Bearer access-1":
            return httpx.Response(401, json={"error": "unauthorized", "error_description": "Authentication required"})
        return httpx.Response(200, json={**TM, "seen": request.headers["authorization"]})

    router.post("/oauth2/refresh").mock(side_effect=refresh)
    router.get("/threat_models/tm1").mock(side_effect=threat_model)
    return router


def refreshes(router) -> int:
    return sum(1 for call in router.calls if call.request.url.path == "/oauth2/refresh")


def sync_client(router, auth, **kwargs) -> TMIClient:
    return TMIClient(BASE, auth=auth, generation="1.8", transport=httpx.MockTransport(router.handler), **kwargs)


def test_refreshes_before_expiry_and_persists_the_new_pair(router):
    stored: list[TokenPair] = []
    expiring = pair(1, expires_in=30)  # inside the 60 s skew
    with sync_client(router, expiring, on_refresh=stored.append) as client:
        tm = client.threat_models.get("tm1")
    assert tm.model_extra["seen"] == "Bearer access-2"
    assert [p.refresh_token for p in stored] == ["refresh-2"] and client.tokens.access_token == "access-2"
    assert [c.request.url.path for c in router.calls] == ["/oauth2/refresh", "/threat_models/tm1"]
    assert "authorization" not in router.calls[0].request.headers


def test_refreshes_once_on_a_401_then_replays(router):
    with sync_client(router, pair(1)) as client:
        assert client.threat_models.get("tm1").model_extra["seen"] == "Bearer access-2"
    assert [c.request.url.path for c in router.calls] == ["/threat_models/tm1", "/oauth2/refresh", "/threat_models/tm1"]


def test_a_second_401_is_raised_not_looped(router):
    router.get("/threat_models/tm2").respond(401, json={"error": "unauthorized"})
    with sync_client(router, pair(5)) as client, pytest.raises(Unauthorized) as caught:
        client.threat_models.get("tm2")
    assert refreshes(router) == 1 and not isinstance(caught.value, RefreshFailed)


def test_a_refused_refresh_raises_refresh_failed(router):
    router.post("/oauth2/refresh").respond(
        400, json={"error": "invalid_grant", "error_description": "The refresh token is invalid"}
    )
    with sync_client(router, pair(1)) as client, pytest.raises(RefreshFailed) as caught:
        client.threat_models.get("tm1")
    assert caught.value.error == "invalid_grant"


def test_without_a_refresh_token_the_401_stands(router):
    with sync_client(router, "access-1") as client, pytest.raises(Unauthorized):
        client.threat_models.get("tm1")
    assert refreshes(router) == 0


def test_an_injected_refresher_replaces_the_clients(router):
    seen: list[TokenPair] = []

    def refresher(current: TokenPair) -> TokenPair:
        seen.append(current)
        return pair(9)

    auth = TokenAuth(pair(1, expires_in=10), refresh=refresher, skew=60)
    with sync_client(router, auth) as client:
        assert client.threat_models.get("tm1").model_extra["seen"] == "Bearer access-9"
    assert [p.access_token for p in seen] == ["access-1"] and refreshes(router) == 0


def test_the_clock_is_injectable():
    now = [1000.0]
    auth = TokenAuth(
        pair(1, expires_in=100, issued_at=1000.0), refresh=lambda p: pair(2), skew=10, clock=lambda: now[0]
    )
    assert not auth._must_refresh(None)
    now[0] = 1091.0
    assert auth._must_refresh(None)


def test_concurrent_threads_refresh_once(router):
    with sync_client(router, pair(1, expires_in=1)) as client:
        results: list[str] = []

        def fetch():
            results.append(client.threat_models.get("tm1").model_extra["seen"])

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == ["Bearer access-2"] * 8
    assert refreshes(router) == 1


async def test_concurrent_tasks_refresh_once(router):
    stored: list[TokenPair] = []

    async def persist(tokens: TokenPair) -> None:
        stored.append(tokens)

    async with AsyncTMIClient(
        BASE, auth=pair(1), generation="1.8", on_refresh=persist, transport=httpx.MockTransport(router.async_handler)
    ) as client:
        results = await asyncio.gather(*(client.threat_models.get("tm1") for _ in range(8)))
    assert {tm.model_extra["seen"] for tm in results} == {"Bearer access-2"}
    assert refreshes(router) == 1 and [p.access_token for p in stored] == ["access-2"]
