"""TMI 1.8's collaboration socket (PROTOCOL.md 7): tickets, join sequence, presenter flow, sync, undo."""

from __future__ import annotations

import asyncio
import socket
import uuid
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.sandbox.collab_world import (
    Client,
    add,
    eventually,
    join,
    make_world,
    node,
    operation_message,
    pair,
    patch,
    principal,
    remove,
    socket_url,
    start_session,
    ticket,
    update,
)

EVENT = "diagram_operation_event"


@pytest.fixture
def world(sandbox_factory):
    return make_world(sandbox_factory, "1.8")


async def test_join_sequence_is_diagram_state_then_participants_update_to_all(world):
    world.diagram["cells"] = [node("Existing")]
    world.diagram["update_vector"] = 4
    world.diagram["color_palette"] = [{"position": 1, "color": "#aabbcc"}]
    alice = await join(world, "alice", drain=False)
    state = await alice.expect("diagram_state")
    assert state == {
        "message_type": "diagram_state",
        "diagram_id": world.diagram_id,
        "update_vector": 4,
        "cells": world.diagram["cells"],
        "color_palette": world.diagram["color_palette"],
    }
    first = await alice.expect("participants_update")
    assert first["host"] == first["current_presenter"] == principal(world, "alice")

    carol = await join(world, "carol", drain=False)
    await carol.expect("diagram_state")
    update_to_carol = await carol.expect("participants_update")
    assert await alice.recv() == update_to_carol
    assert [(p["user"], p["permissions"]) for p in update_to_carol["participants"]] == [
        (principal(world, "alice"), "writer"),
        (principal(world, "carol"), "writer"),
    ]  # always "writer" at 1.8
    await alice.expect_silence()


async def test_a_reader_edit_is_refused_without_using_a_sequence_number(world):
    alice, carol = await pair(world, "carol")
    await carol.send(operation_message(world, patch(add(node()))))
    assert await carol.recv() == {
        "message_type": "authorization_denied",
        "original_operation_id": "",
        "reason": "insufficient_permissions",
    }
    await alice.send(operation_message(world, patch(add(node()))))
    assert (await carol.expect(EVENT))["sequence_number"] == 1
    assert world.diagram["cells"] and len(world.diagram["cells"]) == 1


async def test_the_event_carries_the_authenticated_user_not_the_claimed_one(world):
    alice, bob = await pair(world)
    message = operation_message(
        world, patch(add(node())), initiating_user=principal(world, "alice"), user_id="alice", base_vector=99
    )
    await bob.send(message)
    event = await alice.expect(EVENT)
    assert event["initiating_user"] == principal(world, "bob")
    assert set(event) == {
        "message_type",
        "initiating_user",
        "operation_id",
        "sequence_number",
        "update_vector",
        "operation",
    }
    assert event["operation_id"] == message["operation_id"]


REJECTIONS = [
    (patch(add(node()), op_type="merge"), "invalid_operation_type", False),
    (patch(), "empty_cell_operations", False),
    (patch({"id": str(uuid.uuid4()), "operation": "move", "data": node()}), "invalid_cell_operation", False),
    (patch({"id": str(uuid.uuid4()), "operation": "add"}), "add_requires_cell_data", False),
    (patch({"id": str(uuid.uuid4()), "operation": "update"}), "update_requires_cell_data", False),
    (patch(update(node())), "update_nonexistent_cell", True),
    (patch(remove(str(uuid.uuid4()))), "no_state_change", False),
]


async def test_rejections_go_to_the_sender_only_and_use_up_sequence_numbers(world):
    alice, bob = await pair(world)
    existing = node("Existing")
    await bob.send(operation_message(world, patch(add(existing))))
    await alice.expect(EVENT)
    cases = [*REJECTIONS, (patch(add(existing)), "cell_already_exists", True)]
    for number, (operation, reason, resync) in enumerate(cases, start=2):
        message = operation_message(world, operation)
        await bob.send(message)
        rejected = await bob.expect("operation_rejected")
        assert rejected["reason"] == reason
        assert rejected["requires_resync"] is resync
        assert rejected["sequence_number"] == number
        assert rejected["operation_id"] == message["operation_id"]
        assert rejected["update_vector"] == 0
        assert rejected["message"] == f"Operation validation failed: {reason}"
        if reason == "invalid_operation_type":
            assert rejected["details"] == "Operation type must be 'patch', got: merge"
    await alice.expect_silence()
    await bob.send(operation_message(world, patch(add(node()))))
    assert (await alice.expect(EVENT))["sequence_number"] == len(cases) + 2


async def test_edits_to_a_vanished_diagram_are_rejected(world):
    alice, bob = await pair(world)
    world.tm["diagrams"] = []
    await bob.send(operation_message(world, patch(add(node()))))
    rejected = await bob.expect("operation_rejected")
    assert (rejected["reason"], rejected["requires_resync"]) == ("diagram_not_found", True)


async def test_sync_status_and_sync_request(world):
    alice = await join(world, "alice")
    world.diagram["update_vector"] = 3
    await alice.send({"message_type": "sync_status_request"})
    assert await alice.recv() == {"message_type": "sync_status_response", "update_vector": 3}
    await alice.send({"message_type": "sync_request", "update_vector": 3})
    assert await alice.recv() == {"message_type": "sync_status_response", "update_vector": 3}
    await alice.send({"message_type": "sync_request", "update_vector": 1})
    assert (await alice.expect("diagram_state"))["update_vector"] == 3
    await alice.send({"message_type": "sync_request"})
    assert (await alice.expect("diagram_state"))["cells"] == []


async def test_undo_and_redo_send_the_forward_operation_to_everyone(world):
    alice, bob = await pair(world)
    cell = node("Undoable")
    message = operation_message(world, patch(add(cell)))
    await bob.send(message)
    await alice.expect(EVENT)

    await alice.send({"message_type": "undo_request"})
    for client in (alice, bob):
        event = await client.expect(EVENT)
        assert event["operation"] == message["operation"]  # not the inverse
        assert (event["operation_id"], event["sequence_number"]) == (message["operation_id"], 1)
        assert event["initiating_user"] == principal(world, "alice")
        assert event["update_vector"] == 1
    assert world.diagram["cells"] == [] and world.diagram["update_vector"] == 1

    await alice.send({"message_type": "undo_request"})
    assert await alice.recv() == {
        "message_type": "history_operation",
        "operation_type": "undo",
        "message": "no_operations_to_undo",
    }
    await bob.send({"message_type": "redo_request"})
    assert (await bob.expect(EVENT))["update_vector"] == 1  # a redo does not count (the real 1.8.22)
    await alice.expect(EVENT)
    assert world.diagram["cells"] == [cell] and world.diagram["update_vector"] == 1
    await bob.send({"message_type": "redo_request"})
    assert (await bob.expect("history_operation"))["message"] == "no_operations_to_redo"


async def test_a_history_gap_makes_undo_ask_for_a_resync(world):
    alice, bob = await pair(world)
    kept = node("Kept")
    await bob.send(operation_message(world, patch(add(node()))))
    await bob.send(operation_message(world, patch(update(kept))))  # rejected: uses sequence number 2
    await bob.expect("operation_rejected")
    await bob.send(operation_message(world, patch(add(kept))))
    await alice.recv_types(2)
    await bob.send({"message_type": "undo_request"})
    await bob.expect(EVENT)
    await alice.expect(EVENT)
    await bob.send({"message_type": "undo_request"})
    assert await bob.recv() == {
        "message_type": "history_operation",
        "operation_type": "undo",
        "message": "resync_required",
    }


async def test_readers_cannot_undo(world):
    alice, carol = await pair(world, "carol")
    await carol.send({"message_type": "undo_request"})
    assert (await carol.expect("authorization_denied"))["reason"] == "insufficient_permissions"


async def test_presenter_request_is_forwarded_to_the_host_who_hands_over(world):
    alice, bob = await pair(world)
    await bob.send({"message_type": "presenter_request", "initiating_user": principal(world, "carol")})
    assert await alice.recv() == {"message_type": "presenter_request_event", "requesting_user": principal(world, "bob")}
    await alice.send({"message_type": "change_presenter_request", "new_presenter": principal(world, "bob")})
    for client in (alice, bob):
        assert (await client.expect("participants_update"))["current_presenter"] == principal(world, "bob")
    await bob.send({"message_type": "presenter_cursor", "cursor_position": {"x": 5, "y": 6}})
    assert await alice.recv() == {"message_type": "presenter_cursor", "cursor_position": {"x": 5, "y": 6}}
    await alice.send({"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 1}})
    await bob.expect_silence()

    await bob.send({"message_type": "presenter_request"})  # already presenter: ignored
    await alice.expect_silence()
    await alice.send({"message_type": "presenter_request"})  # the host takes it back
    for client in (alice, bob):
        assert (await client.expect("participants_update"))["current_presenter"] == principal(world, "alice")


async def test_host_denies_a_presenter_request(world):
    alice, bob = await pair(world)
    await alice.send({"message_type": "presenter_denied_request", "denied_user": principal(world, "bob")})
    assert await bob.recv() == {"message_type": "presenter_denied_event", "denied_user": principal(world, "bob")}
    await bob.send({"message_type": "presenter_denied_request", "denied_user": principal(world, "alice")})
    await alice.expect_silence()  # only the host may deny


async def test_presenter_request_without_a_connected_host_is_denied(world):
    await start_session(world, "alice")
    bob = await join(world, "bob")
    await bob.send({"message_type": "presenter_request"})
    assert await bob.recv() == {"message_type": "presenter_denied_event", "denied_user": principal(world, "bob")}


async def test_change_presenter_checks_target_and_identity(world):
    alice, bob = await pair(world)
    await alice.send({"message_type": "change_presenter_request", "new_presenter": principal(world, "carol")})
    error = await alice.expect("error")
    assert (error["error"], error["message"]) == (
        "invalid_participant",
        "Cannot change presenter to user not in session",
    )

    await bob.send({"message_type": "change_presenter_request", "new_presenter": principal(world, "alice")})
    await alice.expect_silence()  # a non-host: silently ignored

    forged = {**principal(world, "bob"), "email": "boss@tmi.local"}
    await alice.send({"message_type": "change_presenter_request", "new_presenter": forged})
    error = await alice.expect("error")
    assert (error["error"], error["message"]) == ("SECURITY_VIOLATION", "Providing false information about other users")
    assert (await alice.closed())[0] == 1005
    assert (await bob.expect("error"))["error"] == "session_terminated"  # the violator was the host


async def test_security_violation_by_a_guest_is_announced_and_not_deny_listed(world):
    alice, bob = await pair(world)
    forged = {**principal(world, "alice"), "display_name": "Someone Else"}
    await bob.send({"message_type": "change_presenter_request", "new_presenter": forged})
    assert (await bob.expect("error"))["error"] == "SECURITY_VIOLATION"
    assert (await bob.closed())[0] == 1005
    update_to_alice = await alice.expect("participants_update")
    assert [p["user"]["provider_id"] for p in update_to_alice["participants"]] == ["alice"]
    again = await join(world, "bob")
    assert again.ws.close_code is None


async def test_remove_participant_rules_and_deny_list(world):
    alice, bob = await pair(world)
    await bob.send({"message_type": "remove_participant_request", "removed_user": principal(world, "alice")})
    assert (await bob.expect("error"))["message"] == "Only the host can remove participants from the session"
    await alice.send({"message_type": "remove_participant_request", "removed_user": principal(world, "alice")})
    assert (await alice.expect("error"))["message"] == "Cannot remove yourself"
    await alice.send({"message_type": "remove_participant_request", "removed_user": principal(world, "carol")})
    assert (await alice.expect("error"))["message"] == "Cannot remove user not in session"

    session = world.state.sessions[world.diagram_id]
    session.presenter = world.users["bob"].internal_uuid
    await alice.send({"message_type": "remove_participant_request", "removed_user": principal(world, "bob")})
    update_to_alice = await alice.expect("participants_update")
    assert [p["user"]["provider_id"] for p in update_to_alice["participants"]] == ["alice"]
    assert update_to_alice["current_presenter"] == principal(world, "alice")
    # the real 1.8.22: the host hears it twice (the removal, then the cut socket's unregistration); bob
    # gets no removed_from_session frame, only the abrupt close
    assert (await alice.expect("participants_update"))["participants"] == update_to_alice["participants"]
    frames = []
    with pytest.raises(ConnectionClosed):
        while True:
            frames.append(await bob.recv())
    assert not any(f.get("error") == "removed_from_session" for f in frames), frames
    assert (await bob.closed())[0] == 1006

    denied = Client(await connect(await socket_url(world, "bob")), "bob")
    error = await denied.expect("error")
    assert (error["error"], error["message"]) == (
        "access_denied",
        "You have been removed from this collaboration session and cannot rejoin",
    )
    assert (await denied.closed())[0] == 1006


SERVER_ONLY = [
    "participants_update",
    "diagram_operation_event",
    "presenter_denied_event",
    "presenter_request_event",
    "authorization_denied",
    "state_correction",
    "diagram_state_sync",
    "resync_response",
    "error",
    "operation_rejected",
]
UNSUPPORTED = [
    "diagram_operation",
    "resync_request",
    "change_presenter",
    "remove_participant",
    "presenter_denied",
    "diagram_state",
    "history_operation",
    "no_such_thing",
]


async def test_server_only_and_unsupported_message_types_get_errors(world):
    alice = await join(world, "alice")
    for message_type in SERVER_ONLY:
        await alice.send({"message_type": message_type})
        error = await alice.expect("error")
        assert (error["error"], error["message"]) == (
            "invalid_message_type",
            f"Message type '{message_type}' is server-only and cannot be sent by clients",
        )
    for message_type in UNSUPPORTED:
        await alice.send({"message_type": message_type})
        error = await alice.expect("error")
        assert (error["error"], error["message"]) == (
            "unsupported_message_type",
            f"Message type '{message_type}' is not supported",
        )


async def test_tickets_are_single_use_and_expire(world):
    session = await start_session(world, "alice")
    first = await ticket(world, "alice", session["session_id"])
    assert len(first) == 43
    client = Client(await connect(f"{session['websocket_url']}&ticket={first}"), "alice")
    await client.expect("diagram_state")
    with pytest.raises(InvalidStatus) as reused:
        await connect(f"{session['websocket_url']}&ticket={first}")
    assert reused.value.response.status_code == 401

    late = await ticket(world, "alice", session["session_id"])
    world.state.clock_offset += world.state.config.ws_ticket_seconds + 1
    with pytest.raises(InvalidStatus) as expired:
        await connect(f"{session['websocket_url']}&ticket={late}")
    assert expired.value.response.status_code == 401


async def test_ticket_session_must_match_the_requested_session(world):
    session = await start_session(world, "alice")
    other = str(uuid.uuid4())
    issued = await ticket(world, "alice", session["session_id"])
    with pytest.raises(InvalidStatus) as mismatch:
        await connect(f"{world.ws_url}?session_id={other}&ticket={issued}")
    assert mismatch.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as spent:  # the failed attempt used the ticket up
        await connect(f"{session['websocket_url']}&ticket={issued}")
    assert spent.value.response.status_code == 401


async def test_session_id_of_another_diagram_closes_with_session_id_mismatch(world):
    """The ticket is not tied to the diagram in the path; the live session id is checked after the upgrade."""
    session = await start_session(world, "alice")
    second = {**world.diagram, "id": str(uuid.uuid4()), "cells": []}
    world.tm["diagrams"].append(second)
    issued = await ticket(world, "alice", session["session_id"])
    url = session["websocket_url"].replace(world.diagram_id, second["id"]) + f"&ticket={issued}"
    client = Client(await connect(url), "alice")
    assert await client.closed() == (1000, "Session ID mismatch")


async def test_more_than_five_sockets_per_user_are_refused(world):
    clients = [await join(world, "alice")]
    for _ in range(4):
        clients.append(await join(world, "alice"))
        for earlier in clients[:-1]:
            await earlier.expect("participants_update")
    with pytest.raises(InvalidStatus) as refused:
        await connect(await socket_url(world, "alice"))
    response = refused.value.response
    assert (response.status_code, response.headers["Retry-After"]) == (429, "60")
    assert response.body == b'{"error":"too_many_connections"}'


async def test_a_session_holds_at_most_fifty_clients(world):
    names = [f"user{i:02d}" for i in range(11)]
    for name in names:
        user = world.state.user_for_login(
            provider="tmi", provider_id=name, email=f"{name}@tmi.local", display_name=name
        )
        world.users[name] = user
        world.tokens[name] = world.state.issue_tokens(user)["access_token"]
        world.grant(name, "writer")
    clients = [
        Client(await connect(await socket_url(world, name), max_queue=None), name)
        for name in names[:10]
        for _ in range(5)
    ]
    for client in clients:
        await client.expect("diagram_state")  # joined, not only upgraded
    assert len(world.state.sessions[world.diagram_id].connections) == 50
    with pytest.raises(InvalidStatus) as refused:
        await connect(await socket_url(world, names[10]))
    response = refused.value.response
    assert (response.status_code, response.headers["Retry-After"]) == (429, "30")
    assert response.body == b'{"error":"session_full"}'
    for client in clients:
        await client.close()


async def test_origin_rule_outside_dev_mode(sandbox_factory):
    world = make_world(sandbox_factory, "1.8", build_mode="test")
    with pytest.raises(InvalidStatus) as refused:
        await connect(await socket_url(world, "alice"), origin="http://evil.example")
    assert refused.value.response.status_code == 403
    allowed = Client(await connect(await socket_url(world, "alice"), origin="http://localhost:4200"), "alice")
    await allowed.expect("diagram_state")
    same_host = world.server.base_url
    other = Client(await connect(await socket_url(world, "bob"), origin=same_host), "bob")
    await other.expect("diagram_state")


async def test_any_origin_is_allowed_in_dev_mode(world):
    client = Client(await connect(await socket_url(world, "alice"), origin="http://evil.example"), "alice")
    await client.expect("diagram_state")


async def test_revoked_read_access_closes_with_4403_at_the_next_ping(sandbox_factory):
    world = make_world(sandbox_factory, "1.8", ws_ping_interval_seconds=0.1)
    alice, bob = await pair(world)
    world.grant("bob", None)
    assert await bob.closed() == (4403, "access revoked")
    assert alice.ws.close_code is None


async def test_a_client_that_stops_reading_is_dropped_when_its_outbox_fills(world):
    """TMI keeps 256 messages per client and drops a client a broadcast cannot reach (PROTOCOL.md 7.11).
    Shared code: one generation is enough."""
    alice, bob = await pair(world)
    # alice (the host) and bob keep reading, and bob never gets more than 64 messages ahead of alice,
    # so only erin's backlog can grow: on a loaded machine an unthrottled bob filled alice's outbox
    # too, and the host's drop ended the session
    received = {"alice": 0, "bob": 0}
    readers = [asyncio.create_task(keep_reading(client, received)) for client in (alice, bob)]
    tiny = socket.socket()
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # so the kernel cannot absorb the backlog
    address = urlsplit(world.server.base_url)
    tiny.connect((address.hostname, address.port))
    await join(world, "erin", sock=tiny, max_queue=1, compression=None)  # then never reads again
    session = world.state.sessions[world.diagram_id]
    start = received["alice"]
    try:
        for number in range(400):  # 400 x 50 kB: beyond the socket buffers and the 256-message outbox
            cell = node(f"Bulky {number}") | {"data": {"blob": "x" * 50_000}}
            await bob.send(operation_message(world, patch(add(cell))))
            await eventually(lambda sent=number + 1: received["alice"] - start >= sent - 64, timeout=20)
        await eventually(lambda: [c.user.provider_id for c in session.connections] == ["alice", "bob"], timeout=20)
        assert world.state.sessions.get(world.diagram_id) is session  # the host stayed, so did the session
    finally:
        for reader in readers:
            reader.cancel()


async def keep_reading(client: Client, received: dict[str, int]) -> None:
    async for _ in client.ws:
        received[client.name] += 1
