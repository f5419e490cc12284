"""Real collaboration sessions against the sandbox: every frame, both ways, checked against the AsyncAPI of
the generation (the `contract` fixture fails the test on anything tests/contract/deviations.py does not excuse).

The message names differ by generation (PROTOCOL.md 9.6), so each scenario is written once per generation.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from portal.conformance.contract.violations import ViolationPattern
from tests.contract.rooms import Room, bearer, node, open_room

HEAD = pytest.mark.parametrize("generation", ["1.8"])
LEGACY = pytest.mark.parametrize("generation", ["0.217"])


@pytest.fixture
async def room(sandbox, contract, validating_transport) -> AsyncIterator[Room]:
    room = open_room(sandbox.base_url, contract, validating_transport, {"bob": "writer", "carol": "reader"})
    yield room
    await room.close()


def operation(*cells: dict, kind: str = "add") -> dict:
    return {
        "operation_id": str(uuid.uuid4()),
        "operation": {"type": "patch", "cells": [{"id": c["id"], "operation": kind, "data": c} for c in cells]},
    }


def new_cell(label: str = "Web App") -> dict:
    return node(str(uuid.uuid4()), label)


def big_operation() -> dict:
    """About 10 KB: over the AsyncAPI's 4 KB per message, within the code's 64 KiB read limit (7.11)."""
    return operation(*(new_cell(f"Process {n}") for n in range(50)))


# --- 1.8 -------------------------------------------------------------------------------------------------


async def join_18(room: Room, *hints: str):
    """Sockets for `hints` in order; each joiner gets diagram_state then participants_update (7.1), and the
    ones already in get a participants_update."""
    sockets = []
    for hint in hints:
        socket = await room.join(hint)
        await socket.receive_types("diagram_state", "participants_update")
        for earlier in sockets:
            await earlier.receive_until("participants_update")
        sockets.append(socket)
    return sockets


@HEAD
async def test_operations_and_rejections_1_8(room):
    alice, bob = await join_18(room, "alice", "bob")
    cell = new_cell()
    await alice.send({"message_type": "diagram_operation_request", "base_vector": 0, **operation(cell)})
    event = await bob.receive_until("diagram_operation_event")
    assert event["operation"]["cells"][0]["id"] == cell["id"]
    await alice.assert_quiet()  # no echo to the sender (7.4)

    moved = {**cell, "position": {"x": 300, "y": 80}}
    await alice.send({"message_type": "diagram_operation_request", **operation(moved, kind="update")})  # no base_vector
    await bob.receive_until("diagram_operation_event")

    await alice.send({"message_type": "diagram_operation_request", "base_vector": 0, **operation(cell)})
    rejected = await alice.receive_until("operation_rejected")
    assert (rejected["reason"], rejected["requires_resync"]) == ("cell_already_exists", True)

    await alice.send({"message_type": "diagram_operation_request", "base_vector": 0, **big_operation()})
    await bob.receive_until("diagram_operation_event")


@HEAD
async def test_presenter_flow_1_8(room):
    alice, bob = await join_18(room, "alice", "bob")
    await alice.send({"message_type": "presenter_cursor", "cursor_position": {"x": 10.5, "y": 20}})
    assert (await bob.receive())["cursor_position"] == {"x": 10.5, "y": 20}
    cell = new_cell()
    await alice.send({"message_type": "presenter_selection", "selected_cells": [cell["id"]]})
    assert (await bob.receive())["selected_cells"] == [cell["id"]]

    await bob.send({"message_type": "presenter_request"})
    request = await alice.receive_until("presenter_request_event")
    bob_user = request["requesting_user"]
    assert bob_user["provider_id"] == "bob"
    await alice.send({"message_type": "presenter_denied_request", "denied_user": bob_user})
    assert (await bob.receive_until("presenter_denied_event"))["denied_user"] == bob_user

    await alice.send({"message_type": "change_presenter_request", "new_presenter": bob_user})
    for socket in (alice, bob):
        assert (await socket.receive_until("participants_update"))["current_presenter"] == bob_user
    await bob.send({"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 2}})
    assert (await alice.receive())["message_type"] == "presenter_cursor"


@HEAD
async def test_sync_and_history_1_8(room):
    alice, bob = await join_18(room, "alice", "bob")
    await alice.send({"message_type": "undo_request"})
    nothing = await alice.receive_until("history_operation")  # not in the 1.8 AsyncAPI, sent by the code (7.8)
    assert nothing == {
        "message_type": "history_operation",
        "operation_type": "undo",
        "message": "no_operations_to_undo",
    }

    cell = new_cell()
    await alice.send({"message_type": "diagram_operation_request", "base_vector": 0, **operation(cell)})
    await bob.receive_until("diagram_operation_event")
    for request in ("undo_request", "redo_request"):
        await alice.send({"message_type": request})
        for socket in (alice, bob):  # undo and redo events go to everyone, the requester included (7.8)
            assert (await socket.receive_until("diagram_operation_event"))["initiating_user"]["provider_id"] == "alice"

    await bob.send({"message_type": "sync_status_request"})
    vector = (await bob.receive_until("sync_status_response"))["update_vector"]
    await bob.send({"message_type": "sync_request", "update_vector": vector})
    assert (await bob.receive())["message_type"] == "sync_status_response"
    await bob.send({"message_type": "sync_request"})
    state = await bob.receive_until("diagram_state")
    assert [c["id"] for c in state["cells"]] == [cell["id"]]


@HEAD
async def test_reader_denials_and_invalid_messages_1_8(room):
    alice, carol = await join_18(room, "alice", "carol")
    await carol.send({"message_type": "diagram_operation_request", "base_vector": 0, **operation(new_cell())})
    denied = await carol.receive_until("authorization_denied")
    assert denied["reason"] == "insufficient_permissions"
    await carol.send({"message_type": "undo_request"})
    await carol.receive_until("authorization_denied")

    server_only = ViolationPattern("ws-send", "unknown-message-type", "participants_update", "message_type")
    with room.recorder.expect_violation(server_only):
        await carol.send({"message_type": "participants_update", "participants": []})
    assert (await carol.receive_until("error"))["error"] == "invalid_message_type"
    renamed = ViolationPattern("ws-send", "unknown-message-type", "resync_request", "message_type")
    with room.recorder.expect_violation(renamed):
        await carol.send({"message_type": "resync_request"})  # the 0.217 name (9.6)
    assert (await carol.receive_until("error"))["error"] == "unsupported_message_type"


@HEAD
async def test_removal_and_session_end_1_8(room):
    alice, bob, carol = await join_18(room, "alice", "bob", "carol")
    await alice.send({"message_type": "remove_participant_request", "removed_user": _user_18(alice, "bob")})
    await bob.drain_until_closed()  # the removed_from_session error may be lost in the race (7.6)
    assert [p["user"]["provider_id"] for p in (await alice.receive_until("participants_update"))["participants"]] == [
        "alice",
        "carol",
    ]
    await carol.receive_until("participants_update")

    again = await room.join("bob")  # the deny-list holds: an error frame, then an abrupt close (7.1)
    assert (await again.receive())["error"] == "access_denied"
    assert await again.drain_until_closed() == 1006

    await alice.close()  # the host leaves: the others get session_terminated, then close 1000 (7.10)
    terminated = await carol.receive_until("error")
    assert terminated["error"] == "session_terminated"
    assert await carol.drain_until_closed() == 1000


@HEAD
async def test_host_ending_the_session_over_rest_1_8(room):
    alice, bob = await join_18(room, "alice", "bob")
    room.client.delete(room.collaborate_path, headers=bearer(room.tokens["alice"])).raise_for_status()
    for socket in (alice, bob):  # close frames with no status and no error message (6.2)
        assert await socket.drain_until_closed() == 1005


def _user_18(socket, hint: str) -> dict:
    """A participant's User as the server described it in the last participants_update `socket` received."""
    update = next(m for m in reversed(socket.received) if m["message_type"] == "participants_update")
    return next(p["user"] for p in update["participants"] if p["user"]["provider_id"] == hint)


# --- 0.217 -----------------------------------------------------------------------------------------------


async def join_0217(room: Room, *hints: str):
    """Sockets for `hints` in order (9.5): the joiner gets diagram_state_sync, current_presenter and
    participants_update; the others participant_joined and participants_update."""
    sockets = []
    for hint in hints:
        socket = await room.join(hint)
        await socket.receive_types("diagram_state_sync", "current_presenter", "participants_update")
        await socket.receive_until("participants_update")  # the broadcast copy: the joiner gets it twice
        for earlier in sockets:
            await earlier.receive_types("participant_joined", "participants_update")
        sockets.append(socket)
    return sockets


@LEGACY
async def test_operations_and_rejections_0_217(room):
    alice, bob = await join_0217(room, "alice", "bob")
    me = {"user_id": "alice", "email": "alice@test.tmi"}  # the AsyncAPI's User; relayed as sent (9.5)
    cell = new_cell()
    await alice.send({"message_type": "diagram_operation", "initiating_user": me, **operation(cell)})
    event = await bob.receive_until("diagram_operation")
    assert event["operation"]["cells"][0]["id"] == cell["id"] and "update_vector" not in event
    await alice.assert_quiet()

    await alice.send({"message_type": "diagram_operation", "initiating_user": me, **operation(cell)})
    rejected = await alice.receive_until("operation_rejected")
    assert rejected["reason"] == "cell_already_exists" and "update_vector" not in rejected
    await alice.receive_until("state_correction")

    await alice.send({"message_type": "diagram_operation", "initiating_user": me, **big_operation()})
    await bob.receive_until("diagram_operation")

    await bob.close()
    await alice.receive_types("participant_left", "participants_update")


@LEGACY
async def test_presenter_flow_0_217(room):
    alice, bob = await join_0217(room, "alice", "bob")
    await alice.send({"message_type": "presenter_cursor", "cursor_position": {"x": 3, "y": 4}})
    assert (await bob.receive())["cursor_position"] == {"x": 3, "y": 4}
    await alice.send({"message_type": "presenter_selection", "selected_cells": [new_cell()["id"]]})
    assert (await bob.receive())["message_type"] == "presenter_selection"

    await bob.send({"message_type": "presenter_request"})
    assert await alice.receive() == {"message_type": "presenter_request"}  # forwarded raw to the host (9.5)
    bob_user = joined_user(alice, "bob")
    await alice.send({"message_type": "presenter_denied", "current_presenter": bob_user})
    assert (await bob.receive_until("presenter_denied"))["current_presenter"] == bob_user
    await alice.send(
        {
            "message_type": "change_presenter",
            "initiating_user": {"user_id": "alice", "email": "alice@test.tmi"},
            "new_presenter": bob_user,
        }
    )
    for socket in (alice, bob):
        assert (await socket.receive_until("current_presenter"))["current_presenter"] == bob_user
        await socket.receive_until("participants_update")

    await alice.send({"message_type": "presenter_request"})  # from the host: the host presents again
    assert (await alice.receive_until("current_presenter"))["current_presenter"]["email"] == "alice@test.tmi"
    await bob.receive_until("participants_update")


def joined_user(socket, hint: str) -> dict:
    """The server's own User for `hint`, as participant_joined described it to `socket` (9.5)."""
    return next(
        m["joined_user"]
        for m in socket.received
        if m["message_type"] == "participant_joined" and m["joined_user"]["provider_id"] == hint
    )


@LEGACY
async def test_resync_history_and_denials_0_217(room):
    alice, carol = await join_0217(room, "alice", "carol")
    await carol.send({"message_type": "resync_request"})
    resync = await carol.receive_until("resync_response")
    assert (resync["method"], resync["diagram_id"]) == ("rest_api", room.diagram_id)

    me = {"user_id": "alice", "email": "alice@test.tmi"}
    await alice.send({"message_type": "undo_request", "initiating_user": me})
    assert (await alice.receive_until("history_operation"))["message"] == "no_operations_to_undo"
    await alice.send({"message_type": "diagram_operation", "initiating_user": me, **operation(new_cell())})
    await carol.receive_until("diagram_operation")
    await alice.send({"message_type": "undo_request", "initiating_user": me})
    for socket in (alice, carol):  # success is a resync signal to everyone (9.5)
        assert (await socket.receive_until("history_operation"))["message"] == "resync_required"

    carol_me = {"user_id": "carol", "email": "carol@test.tmi"}
    await carol.send({"message_type": "redo_request", "initiating_user": carol_me})
    assert (await carol.receive_until("authorization_denied"))["reason"] == "insufficient_permissions"


@LEGACY
async def test_removal_0_217(room):
    alice, bob = await join_0217(room, "alice", "bob")
    # removal is keyed by provider_id, which only the server's own User carries (9.5)
    await alice.send({"message_type": "remove_participant", "removed_user": joined_user(alice, "bob")})
    await bob.drain_until_closed()
    await alice.receive_until("participants_update")
