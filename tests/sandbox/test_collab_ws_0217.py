"""TMI 0.217's collaboration socket (PROTOCOL.md 9.5, 9.6): token auth, old message names, email identities."""

from __future__ import annotations

import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.sandbox.collab_world import (
    Client,
    add,
    join,
    make_world,
    node,
    operation_message,
    pair,
    patch,
    principal,
    socket_url,
    start_session,
    update,
)

EMPTY_USER = {"principal_type": "", "provider": "", "provider_id": "", "display_name": "", "email": ""}
SYSTEM_USER = {
    "principal_type": "user",
    "provider": "system",
    "provider_id": "system",
    "display_name": "System",
    "email": "system@tmi",
}


@pytest.fixture
def world(sandbox_factory):
    return make_world(sandbox_factory, "0.217")


def brief(world, name, permissions="writer"):
    user = world.users[name]
    return {"user_id": user.provider_id, "name": user.display_name, "email": user.email}, permissions


async def test_join_sequence(world):
    world.diagram["cells"] = [node("Existing")]
    alice = await join(world, "alice", drain=False)
    assert await alice.recv() == {
        "message_type": "diagram_state_sync",
        "diagram_id": world.diagram_id,
        "update_vector": 0,
        "cells": world.diagram["cells"],
    }
    # The presenter's email is looked up among subs, so the new client sees an empty User.
    assert await alice.recv() == {"message_type": "current_presenter", "current_presenter": EMPTY_USER}
    first, again = await alice.recv_types(2)
    assert first == again and first["message_type"] == "participants_update"
    assert (first["host"], first["current_presenter"]) == ("alice@test.tmi", "alice@test.tmi")

    carol = await join(world, "carol", drain=False)
    types = [m["message_type"] for m in await carol.recv_types(4)]
    assert types == ["diagram_state_sync", "current_presenter", "participants_update", "participants_update"]
    joined = await alice.expect("participant_joined")
    assert joined["joined_user"] == principal(world, "carol") and joined["timestamp"]
    update = await alice.expect("participants_update")
    assert [(p["user"], p["permissions"]) for p in update["participants"]] == [
        brief(world, "alice"),
        brief(world, "carol", "reader"),
    ]  # permissions come from the ACL at 0.217
    await alice.expect_silence()


async def test_operations_pass_initiating_user_through_and_drop_unknown_keys(world):
    alice, bob = await pair(world)
    claimed = {"provider_id": "someone", "email": "someone@else"}
    message = operation_message(world, patch(add(node())), initiating_user=claimed, user_id="bob")
    await bob.send(message)
    event = await alice.expect("diagram_operation")
    assert event == {
        "message_type": "diagram_operation",
        "initiating_user": claimed,
        "operation_id": message["operation_id"],
        "sequence_number": 1,
        "operation": message["operation"],
    }
    await bob.send(operation_message(world, patch(add(node()))))
    assert (await alice.expect("diagram_operation"))["initiating_user"] == EMPTY_USER
    await bob.expect_silence()


async def test_readers_can_edit(world):
    alice, carol = await pair(world, "carol")
    await carol.send(operation_message(world, patch(add(node("By a reader")))))
    assert (await alice.expect("diagram_operation"))["sequence_number"] == 1
    assert world.diagram["cells"][0]["attrs"]["text"]["text"] == "By a reader"


async def test_conflicts_get_a_state_correction_and_no_update_vector(world):
    alice, bob = await pair(world)
    world.diagram["update_vector"] = 5
    cell = node()
    await bob.send(operation_message(world, patch(add(cell))))
    await alice.expect("diagram_operation")
    for operation, reason in (
        (patch(add(cell)), "cell_already_exists"),
        (patch(update(node())), "update_nonexistent_cell"),
    ):
        await bob.send(operation_message(world, operation))
        rejected = await bob.expect("operation_rejected")
        assert rejected["reason"] == reason and rejected["requires_resync"] is True
        assert "update_vector" not in rejected
        assert await bob.recv() == {"message_type": "state_correction", "update_vector": 5}
    await bob.send(operation_message(world, patch(add(node()), op_type="merge")))
    assert (await bob.expect("operation_rejected"))["reason"] == "invalid_operation_type"
    await bob.expect_silence()  # no correction for a malformed request


async def test_resync_request_points_at_the_rest_api(world):
    alice = await join(world, "alice")
    await alice.send({"message_type": "resync_request"})
    assert await alice.recv() == {
        "message_type": "resync_response",
        "method": "rest_api",
        "diagram_id": world.diagram_id,
        "threat_model_id": world.tm_id,
    }


async def test_undo_and_redo_ask_everyone_to_resync(world):
    alice, bob = await pair(world)
    cell = node()
    await bob.send(operation_message(world, patch(add(cell))))
    await alice.expect("diagram_operation")
    await bob.send({"message_type": "undo_request", "initiating_user": principal(world, "bob")})
    for client in (alice, bob):
        assert await client.recv() == {
            "message_type": "history_operation",
            "operation_type": "undo",
            "message": "resync_required",
        }
    assert world.diagram["cells"] == [] and world.diagram["update_vector"] == 1
    await bob.send({"message_type": "undo_request"})
    assert (await bob.expect("history_operation"))["message"] == "no_operations_to_undo"
    await alice.send({"message_type": "redo_request"})
    for client in (alice, bob):
        assert (await client.expect("history_operation"))["operation_type"] == "redo"
    assert world.diagram["cells"] == [cell]


async def test_readers_cannot_undo(world):
    alice, carol = await pair(world, "carol")
    await carol.send({"message_type": "undo_request"})
    assert await carol.recv() == {
        "message_type": "authorization_denied",
        "original_operation_id": "",
        "reason": "insufficient_permissions",
    }


async def test_presenter_request_is_forwarded_raw_and_the_host_takes_over(world):
    alice, bob = await pair(world)
    await bob.send({"message_type": "presenter_request"})
    assert await alice.recv() == {"message_type": "presenter_request"}  # no requester identity
    await alice.send({"message_type": "presenter_request"})
    for client in (alice, bob):
        assert await client.recv() == {
            "message_type": "current_presenter",
            "current_presenter": principal(world, "alice"),
        }
        assert (await client.expect("participants_update"))["current_presenter"] == "alice@test.tmi"


async def test_presenter_request_without_the_host_is_denied_by_system(world):
    await start_session(world, "alice")
    bob = await join(world, "bob")
    await bob.send({"message_type": "presenter_request"})
    assert await bob.recv() == {"message_type": "presenter_denied", "current_presenter": SYSTEM_USER}


async def test_change_presenter_stores_the_provider_id(world):
    """Presenter checks compare emails, so a hand-over works only when provider_id is the email."""
    alice, bob = await pair(world)
    await alice.send(
        {
            "message_type": "change_presenter",
            "initiating_user": principal(world, "alice"),
            "new_presenter": principal(world, "bob"),
        }
    )
    for client in (alice, bob):
        assert (await client.expect("current_presenter"))["current_presenter"] == principal(world, "bob")
        assert (await client.expect("participants_update"))["current_presenter"] == "bob"
    await bob.send({"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 2}})
    await alice.expect_silence()  # "bob" is not bob's email
    erin = await join(world, "erin", drain=False)
    await erin.expect("diagram_state_sync")
    # ...but it is bob's sub, which is what the join-time lookup compares against.
    assert (await erin.expect("current_presenter"))["current_presenter"] == principal(world, "bob")
    await erin.close()
    await alice.recv_types(4)  # erin's joining and leaving
    await bob.recv_types(4)

    by_email = {**principal(world, "bob"), "provider_id": "bob@test.tmi"}
    await alice.send({"message_type": "change_presenter", "new_presenter": by_email})
    await alice.recv_types(2)
    await bob.recv_types(2)
    await bob.send({"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 2}})
    assert await alice.recv() == {"message_type": "presenter_cursor", "cursor_position": {"x": 1, "y": 2}}


async def test_change_presenter_from_a_guest_is_ignored(world):
    alice, bob = await pair(world)
    await bob.send({"message_type": "change_presenter", "new_presenter": principal(world, "bob")})
    await alice.expect_silence()
    await bob.expect_silence()


async def test_a_forged_initiating_user_is_a_security_violation(world):
    alice, bob = await pair(world)
    await bob.send(
        {
            "message_type": "change_presenter",
            "initiating_user": principal(world, "alice"),
            "new_presenter": principal(world, "bob"),
        }
    )
    error = await bob.expect("error")
    assert (error["error"], error["message"]) == ("SECURITY_VIOLATION", "Providing false information about other users")
    assert (await bob.closed())[0] == 1005
    assert (await alice.expect("participant_left"))["departed_user"] == principal(world, "bob")
    assert [p["user"]["user_id"] for p in (await alice.expect("participants_update"))["participants"]] == ["alice"]


async def test_presenter_denied_is_forwarded_verbatim_to_the_target(world):
    alice, bob = await pair(world)
    denial = {"message_type": "presenter_denied", "current_presenter": principal(world, "bob")}
    await alice.send(denial)
    assert await bob.recv() == denial
    await bob.send({"message_type": "presenter_denied", "current_presenter": principal(world, "alice")})
    await alice.expect_silence()  # host only


async def test_remove_participant_and_the_provider_id_deny_list(world):
    alice, bob = await pair(world)
    await bob.send({"message_type": "remove_participant", "removed_user": principal(world, "alice")})
    assert (await bob.expect("error"))["error"] == "unauthorized"
    await alice.send(
        {
            "message_type": "remove_participant",
            "removed_user": {**principal(world, "alice"), "provider_id": "alice@test.tmi"},
        }
    )
    error = await alice.expect("error")
    assert (error["error"], error["message"]) == ("invalid_request", "Host cannot remove themselves from the session")

    await alice.send({"message_type": "remove_participant", "removed_user": principal(world, "carol")})  # offline
    await alice.send({"message_type": "remove_participant", "removed_user": principal(world, "bob")})
    await alice.expect("participants_update")  # for the offline removal
    update = await alice.expect("participants_update")
    assert [p["user"]["user_id"] for p in update["participants"]] == ["alice"]
    assert (await bob.closed())[0] == 1006
    for name in ("bob", "carol"):
        denied = Client(await connect(await socket_url(world, name)), name)
        assert (await denied.expect("error"))["error"] == "access_denied"
        assert (await denied.closed())[0] == 1006


async def test_removing_the_presenter_gives_the_host_the_floor(world):
    alice, bob = await pair(world)
    world.state.sessions[world.diagram_id].presenter = "bob@test.tmi"
    await alice.send({"message_type": "remove_participant", "removed_user": principal(world, "bob")})
    assert await alice.recv() == {"message_type": "current_presenter", "current_presenter": principal(world, "alice")}
    assert (await alice.expect("participants_update"))["current_presenter"] == "alice@test.tmi"


async def test_unknown_and_newer_message_types_are_ignored(world):
    alice = await join(world, "alice")
    for message_type in (
        "diagram_operation_request",
        "sync_request",
        "participants_update",
        "participant_joined",
        "participant_left",
        "no_such_thing",
        None,
    ):
        await alice.send({"message_type": message_type})
    await alice.expect_silence()


async def test_token_auth(world):
    revoked = world.state.issue_tokens(world.users["bob"])["access_token"]
    world.state.revoke_access_token(revoked)
    for query in ("", "?token=garbage", f"?token={revoked}", f"?ticket={world.tokens['bob']}"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(world.ws_url + query)
        assert refused.value.response.status_code == 401
    client = Client(await connect(f"{world.ws_url}?token={world.tokens['bob']}"), "bob")
    assert (await client.recv())["message_type"] == "diagram_state_sync"


async def test_group_access_works_on_the_socket(world):
    """0.217's socket authenticates with the JWT, which carries the groups."""
    world.users["dave"].groups = ["auditors"]
    world.tokens["dave"] = world.state.issue_tokens(world.users["dave"])["access_token"]
    world.tm["authorization"].append(
        {"principal_type": "group", "provider": "*", "provider_id": "auditors", "role": "reader"}
    )
    dave = await join(world, "dave")
    assert dave.ws.close_code is None


async def test_no_connection_caps(world):
    clients = [await join(world, "alice")]
    for _ in range(6):
        clients.append(await join(world, "alice"))
    assert len(world.state.sessions[world.diagram_id].connections) == 7


async def test_session_id_mismatch_closes_with_1000(world):
    await start_session(world, "alice")
    client = Client(await connect(f"{world.ws_url}?session_id={uuid.uuid4()}&token={world.tokens['bob']}"), "bob")
    assert await client.closed() == (1000, "Session ID mismatch")


async def test_access_is_not_rechecked_at_pings(sandbox_factory):
    world = make_world(sandbox_factory, "0.217", ws_ping_interval_seconds=0.1)
    alice, bob = await pair(world)
    world.grant("bob", None)
    await bob.expect_silence(0.5)
    assert bob.ws.close_code is None
