"""Collaboration socket behaviour both TMI generations share (PROTOCOL.md 7, 9.5)."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect

from portal.sandbox.collab.hub import Hub
from tests.sandbox.collab_world import (
    Client,
    add,
    drain_joined,
    event_type,
    eventually,
    join,
    make_world,
    node,
    operation_message,
    pair,
    patch,
    remove,
    socket_url,
    start_session,
    update,
)


@pytest.fixture
def world(sandbox_factory, generation):
    return make_world(sandbox_factory, generation)


async def test_edits_reach_the_others_without_echo_and_show_in_rest(world):
    alice, bob = await pair(world)
    first, second = node("Web App"), node("Database", x=400)
    await bob.send(operation_message(world, patch(add(first), add(second))))
    added = await alice.expect(event_type(world))
    assert [c["data"] for c in added["operation"]["cells"]] == [first, second]
    assert added["sequence_number"] == 1

    renamed = {**first, "attrs": {"text": {"text": "Portal"}}}
    del renamed["zIndex"]  # an update replaces the whole cell, so zIndex goes away
    await bob.send(operation_message(world, patch(update(renamed))))
    assert (await alice.expect(event_type(world)))["operation"]["cells"] == [update(renamed)]

    await bob.send(operation_message(world, patch(remove(second["id"]))))
    assert (await alice.expect(event_type(world)))["operation"]["cells"] == [remove(second["id"])]
    await bob.expect_silence()  # no echo, no ack

    assert world.diagram["cells"] == [renamed]
    async with world.http() as http:
        response = await http.get(
            f"/threat_models/{world.tm_id}/diagrams/{world.diagram_id}", headers=world.headers("carol")
        )
    assert response.status_code == 200
    assert response.json()["cells"] == [renamed]


async def test_update_vector_does_not_advance_through_socket_edits(world):
    """PROTOCOL.md 7.4: TMI writes back the pre-operation vector (reproduced on purpose)."""
    world.diagram["update_vector"] = 7
    alice, bob = await pair(world)
    await bob.send(operation_message(world, patch(add(node()))))
    event = await alice.expect(event_type(world))
    assert event.get("update_vector", 7) == 7
    assert world.diagram["update_vector"] == 7


async def test_remove_is_idempotent_and_partial_batches_stay_applied(world):
    alice, bob = await pair(world)
    kept, clash = node("Kept"), node("Clash")
    await bob.send(operation_message(world, patch(add(clash))))
    await alice.expect(event_type(world))

    await bob.send(operation_message(world, patch(remove("5a0c8c2e-0000-4000-8000-000000000000"))))
    rejected = await bob.expect("operation_rejected")
    assert (rejected["reason"], rejected["requires_resync"]) == ("no_state_change", False)

    await bob.send(operation_message(world, patch(add(kept), add(clash))))
    rejected = await bob.expect("operation_rejected")
    assert rejected["reason"] == "cell_already_exists"
    assert rejected["affected_cells"] == [clash["id"]]
    assert [c["id"] for c in world.diagram["cells"]] == [clash["id"], kept["id"]]
    await alice.expect_silence()


async def test_duplicate_cell_ids_in_one_message_count_once(world):
    alice, bob = await pair(world)
    cell = node("Once")
    await bob.send(operation_message(world, patch(add(cell), add({**cell, "zIndex": 9}))))
    await alice.expect(event_type(world))
    await bob.expect_silence()
    assert world.diagram["cells"] == [cell]


async def test_non_json_frames_are_dropped(world):
    alice, bob = await pair(world)
    await bob.ws.send("this is not json")
    await bob.ws.send(b"\x00\x01")
    await bob.ws.send("[1, 2, 3]")
    await bob.expect_silence()
    await bob.send(operation_message(world, patch(add(node()))))
    await alice.expect(event_type(world))


async def test_oversized_frame_closes_with_1009(world):
    alice, bob = await pair(world)
    await bob.ws.send("x" * (64 * 1024 + 1))
    code, _ = await bob.closed()
    assert code == 1009


async def test_presenter_views_are_relayed_only_from_the_presenter(world):
    alice, bob = await pair(world)
    await alice.send({"message_type": "presenter_cursor", "cursor_position": {"x": 10, "y": 20}})
    assert await bob.recv() == {"message_type": "presenter_cursor", "cursor_position": {"x": 10, "y": 20}}
    selection = [node()["id"]]
    await alice.send({"message_type": "presenter_selection", "selected_cells": selection})
    assert await bob.recv() == {"message_type": "presenter_selection", "selected_cells": selection}
    await bob.send({"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 1}})
    await alice.expect_silence()
    await alice.expect_silence()  # the presenter gets no echo of its own cursor either


async def test_host_leaving_terminates_the_session(world):
    alice, bob = await pair(world)
    await alice.close()
    error = await bob.expect("error")
    assert (error["error"], error["message"]) == (
        "session_terminated",
        "Collaboration session has been terminated: Host has disconnected",
    )
    assert await bob.closed() == (1000, "Session terminated: host disconnected")
    assert not world.state.has_active_session(world.diagram_id)


async def test_last_non_host_leaving_removes_the_session(world):
    await start_session(world, "alice")  # alice hosts but never connects
    bob = await join(world, "bob")
    assert world.state.has_active_session(world.diagram_id)
    await bob.close()
    await eventually(lambda: not world.state.has_active_session(world.diagram_id))


def make_presenter(world, name):
    session = world.state.sessions[world.diagram_id]
    session.presenter = Hub.of(world.state).protocol.key_of(world.users[name])


def presenter_of(world, name):
    """The participants_update value that names `name` as presenter (None: nobody)."""
    if world.legacy:
        return world.users[name].email if name else ""
    return world.users[name].principal() if name else None


async def test_presenter_leaving_hands_over_to_the_host(world):
    alice, bob = await pair(world)
    make_presenter(world, "bob")
    erin = await join(world, "erin")
    await drain_joined(world, alice, bob)
    await bob.close()
    update = (await alice.recv_types(2 if world.legacy else 1))[-1]
    assert update["current_presenter"] == presenter_of(world, "alice")
    assert (await erin.recv_types(2 if world.legacy else 1))[-1] == update


async def test_without_the_host_the_first_writer_presents_then_nobody(world):
    await start_session(world, "alice")  # the host never connects
    carol = await join(world, "carol")  # a reader: never chosen
    bob = await join(world, "bob")
    await drain_joined(world, carol)
    erin = await join(world, "erin")
    await drain_joined(world, carol, bob)
    make_presenter(world, "bob")
    await bob.close()
    update = (await carol.recv_types(2 if world.legacy else 1))[-1]
    assert update["current_presenter"] == presenter_of(world, "erin")
    await erin.recv_types(2 if world.legacy else 1)
    await erin.close()
    update = (await carol.recv_types(2 if world.legacy else 1))[-1]
    assert update["current_presenter"] == presenter_of(world, None)


async def test_a_client_that_stops_answering_pings_is_dropped(sandbox_factory, generation):
    world = make_world(sandbox_factory, generation, ws_ping_interval_seconds=0.05)
    url = urlsplit(await socket_url(world, "alice"))
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        (
            f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    received = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 3):  # EOF: the server hung up
        received += chunk
    writer.close()
    assert received.startswith(b"HTTP/1.1 101")
    assert b"\x89\x04" in received  # it was pinged (unmasked ping, 4-byte payload) and never answered
    await eventually(lambda: not world.state.has_active_session(world.diagram_id))  # the host left


async def test_delete_by_host_closes_every_socket_without_status(world):
    alice, bob = await pair(world)
    async with world.http() as http:
        response = await http.delete(world.collaborate_path, headers=world.headers("alice"))
    assert response.status_code == 204
    assert (await alice.closed())[0] == 1005
    assert (await bob.closed())[0] == 1005
    assert not world.state.has_active_session(world.diagram_id)


async def test_fault_hook_drops_every_socket_abruptly(world):
    alice, bob = await pair(world)
    async with world.http() as http:
        elsewhere = await http.post("/_sandbox/sockets/drop", json={"diagram_id": str(uuid.uuid4())})
        response = await http.post("/_sandbox/sockets/drop", json={"diagram_id": world.diagram_id})
        nothing_left = await http.post("/_sandbox/sockets/drop")
    assert elsewhere.json() == {"dropped": 0}
    assert response.json() == {"dropped": 2}
    assert nothing_left.json() == {"dropped": 0}
    assert (await alice.closed())[0] == 1006
    assert (await bob.closed())[0] == 1006


async def test_sockets_without_a_valid_credential_are_refused_before_the_upgrade(world):
    bad = f"{world.ws_url}?{'token' if world.legacy else 'ticket'}=not-valid"
    with pytest.raises(Exception) as refused:
        await connect(bad)
    response = refused.value.response
    assert response.status_code == 401
    assert b'"unauthorized"' in response.body


async def test_unknown_threat_model_and_forbidden_users_are_refused_before_the_upgrade(world):
    url = await socket_url(world, "alice")
    with pytest.raises(Exception) as missing:
        await connect(url.replace(world.tm_id, "00000000-0000-4000-8000-000000000000"))
    assert missing.value.response.status_code == 404
    assert b"Threat model not found" in missing.value.response.body

    if world.legacy:  # 0.217 has no tickets: a token of a user without access
        forbidden_url = f"{world.ws_url}?token={world.tokens['dave']}"
    else:  # 1.8: access only through a group works for the ticket (REST) but not on the socket
        world.users["dave"].groups = ["auditors"]
        world.tokens["dave"] = world.state.issue_tokens(world.users["dave"])["access_token"]
        world.tm["authorization"].append(
            {"principal_type": "group", "provider": "tmi", "provider_id": "auditors", "role": "reader"}
        )
        forbidden_url = await socket_url(world, "dave")
    with pytest.raises(Exception) as forbidden:
        await connect(forbidden_url)
    assert forbidden.value.response.status_code == 403
    assert b'"forbidden"' in forbidden.value.response.body


async def test_idle_sessions_are_cleaned_up(sandbox_factory, generation):
    world = make_world(sandbox_factory, generation, ws_cleanup_interval_seconds=0.1)
    if world.legacy:
        url = await socket_url(world, "alice")
    else:  # a POSTed session could be swept before its ticket is fetched; a connect creates one instead
        ticket = Hub.of(world.state).tickets.issue(world.users["alice"], str(uuid.uuid4()))
        url = f"{world.ws_url}?ticket={ticket}"
    alice = Client(await connect(url), "alice")
    await alice.recv_types(2 if not world.legacy else 4)
    await asyncio.sleep(0.3)
    assert world.state.has_active_session(world.diagram_id)  # a joined session survives the sweeps
    world.state.clock_offset += world.state.config.ws_inactivity_timeout_seconds + 1
    assert (await alice.closed())[0] == 1005
    assert not world.state.has_active_session(world.diagram_id)


async def test_sessions_nobody_joins_are_cleaned_up(sandbox_factory, generation):
    # A sweep every 0.5 s: time for the session to be seen before the first one, even on a loaded machine
    # (at 0.1 s a slow POST let the sweep run before the check, once in CI).
    world = make_world(sandbox_factory, generation, ws_cleanup_interval_seconds=0.5)
    await start_session(world, "alice")
    assert world.state.has_active_session(world.diagram_id)
    await eventually(lambda: not world.state.has_active_session(world.diagram_id), timeout=5)


async def test_pings_keep_the_socket_alive(sandbox_factory, generation):
    world = make_world(sandbox_factory, generation, ws_ping_interval_seconds=0.1)
    alice = await join(world, "alice")
    await asyncio.sleep(0.6)  # several ping rounds, answered automatically by the client
    assert alice.ws.close_code is None
    await alice.send({"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 2}})
    await alice.expect_silence(0.1)


async def test_the_socket_never_agrees_to_compression(world):
    # TMI's upgrader (gorilla/websocket) leaves EnableCompression off: a client offering permessage-deflate
    # (as websockets does by default) gets an uncompressed socket.
    await start_session(world, "alice")
    async with connect(await socket_url(world, "alice"), compression="deflate") as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert ws.protocol.extensions == []


async def test_frames_are_compact_json_as_go_writes_them(world):
    await start_session(world, "alice")
    async with connect(await socket_url(world, "alice")) as ws:
        first = await asyncio.wait_for(ws.recv(), 5)
    assert json.loads(first)["message_type"] in ("diagram_state", "diagram_state_sync")
    assert first == json.dumps(json.loads(first), separators=(",", ":"))  # no space after ':' or ','
