"""/_sandbox/reset (not part of TMI): a running sandbox back to how it started, so tests can share one, and
/_sandbox/requests, the most TMI calls it had open at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.sandbox import helpers
from tests.sandbox.collab_world import build_world, eventually, pair


async def test_reset_puts_back_the_seed_and_forgets_the_run(sandbox_factory, generation):
    server = sandbox_factory(generation)  # seeded with the demo data
    state = server.state
    seeded = {tm_id: tm["name"] for tm_id, tm in state.threat_models.items()}
    world = build_world(server)  # a threat model of the test's own, users and tokens
    alice, bob = await pair(world)
    helpers.add_fault(server.base_url, status=503, path_prefix="/threat_models")
    helpers.advance_clock(server.base_url, 3600)
    with httpx.Client(base_url=server.base_url, timeout=10) as http:  # a sign-in halfway: a code not yet used
        idp = helpers.find_test_idp(http)
        verifier, challenge = helpers.pkce_pair()
        code = helpers.code_from_redirect(helpers.authorize(http, idp, "carol", challenge=challenge))
    assert state.sessions and state.clock_offset == 3600

    server.reset()

    assert {tm_id: tm["name"] for tm_id, tm in state.threat_models.items()} == seeded
    assert world.tm_id not in state.threat_models
    assert state.clock_offset == 0 and state.sessions == {} and state.refresh_tokens == {}
    for client in (alice, bob):  # the live sockets were cut
        await asyncio.wait_for(client.ws.wait_closed(), 3)
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert helpers.exchange(http, idp, code, verifier).status_code == 400  # the code died with the reset
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        assert (await http.get("/_sandbox/faults")).json() == {"faults": []}
        assert (await http.get("/_sandbox/sockets")).json() == {"sockets": []}
        fresh = helpers.login(server.base_url, "alice")  # sign-in works as on a new server
        listed = await http.get("/threat_models", headers=helpers.bearer(fresh))
    assert listed.status_code == 200 and listed.json()


async def test_requests_counts_the_most_calls_open_at_once(sandbox):
    helpers.add_fault(sandbox.base_url, latency_ms=200, path_prefix="/oauth2/providers")
    helpers.count_requests_afresh(sandbox.base_url)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as http:
        await asyncio.gather(*(http.get("/oauth2/providers") for _ in range(4)))
        assert helpers.requests_at_once(sandbox.base_url) == 4
        helpers.count_requests_afresh(sandbox.base_url)
        for _ in range(3):
            await http.get("/oauth2/providers")
    assert helpers.requests_at_once(sandbox.base_url) == 1


@pytest.mark.parametrize("run", [1, 2])
def test_the_shared_sandbox_starts_each_test_as_new(sandbox, run):
    """The `sandbox` fixture's promise (tests/conftest.py): whatever the test before did is gone."""
    assert sandbox.state.clock_offset == 0
    assert httpx.get(f"{sandbox.base_url}/_sandbox/faults").json() == {"faults": []}
    helpers.add_fault(sandbox.base_url, status=500)  # left behind for the next run of this test
    helpers.advance_clock(sandbox.base_url, 60)


async def test_after_a_reset_empty_sessions_are_swept_one_interval_later_as_on_a_new_server(sandbox_factory):
    server = sandbox_factory("1.8", seed=None, ws_cleanup_interval_seconds=2.0)
    await asyncio.sleep(1.5)
    server.reset()
    world = build_world(server)
    async with world.http() as http:
        started = await http.post(world.collaborate_path, headers=world.headers("alice"))
    assert started.status_code == 201, started.text
    await asyncio.sleep(1.0)  # past the sweep the server would have made 2 s after it started
    assert world.diagram_id in server.state.sessions
    await eventually(lambda: world.diagram_id not in server.state.sessions, timeout=4)  # no client ever joined
