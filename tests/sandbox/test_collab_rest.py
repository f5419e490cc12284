"""Collaboration over REST (PROTOCOL.md 6.1-6.4 for 1.8, 9.4 for 0.217)."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox.collab_world import join, make_world, start_session


@pytest.fixture
def world(sandbox_factory, generation):
    return make_world(sandbox_factory, generation)


def expected_host(world, name):
    user = world.users[name]
    return user.email if world.legacy else user.principal()


async def test_get_without_a_session(world):
    async with world.http() as http:
        response = await http.get(world.collaborate_path, headers=world.headers("carol"))
    if world.legacy:
        assert response.status_code == 200
        assert response.json() == {
            "session_id": None,
            "threat_model_id": world.tm_id,
            "diagram_id": world.diagram_id,
            "participants": [],
            "websocket_url": world.ws_url,
        }
    else:
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "error_description": "No active collaboration session for this diagram",
        }


async def test_post_creates_then_returns_the_session(world):
    async with world.http() as http:
        created = await http.post(world.collaborate_path, headers=world.headers("carol"))
        again = await http.post(world.collaborate_path, headers=world.headers("alice"))
        fetched = await http.get(world.collaborate_path, headers=world.headers("bob"))
    assert (created.status_code, again.status_code, fetched.status_code) == (201, 200, 200)
    session = created.json()
    assert again.json() == fetched.json() == session
    assert session["host"] == session["presenter"] == expected_host(world, "carol")  # a reader may host
    assert session["participants"] == []  # POST does not join (seen on the real 1.8.22 too)
    assert {k: session[k] for k in ("threat_model_id", "threat_model_name", "diagram_id", "diagram_name")} == {
        "threat_model_id": world.tm_id,
        "threat_model_name": "Collaboration TM",
        "diagram_id": world.diagram_id,
        "diagram_name": "Live DFD",
    }
    assert session["websocket_url"] == f"{world.ws_url}?session_id={session['session_id']}"
    assert world.state.has_active_session(world.diagram_id)


def listed_again_by_email(world, name, role):
    """1.8 adds the caller once more under their email (its handler passes the email where the socket
    list is keyed by provider_id)."""
    user = world.users[name]
    return ({**user.principal(), "provider_id": user.email, "display_name": user.email}, role)


async def test_participants_show_acl_permissions(world):
    alice = await join(world, "alice")
    carol = await join(world, "carol")
    async with world.http() as http:
        session = (await http.get(world.collaborate_path, headers=world.headers("alice"))).json()
    assert [(p["user"], p["permissions"]) for p in session["participants"]] == [
        (world.users["alice"].principal(), "writer"),
        (world.users["carol"].principal(), "reader"),
    ]
    assert all(p["last_activity"] for p in session["participants"])
    await carol.close()
    await alice.close()


async def test_participant_roles_are_worked_out_with_the_callers_groups(sandbox_factory):
    """1.8 checks each participant against the ACL with the groups of whoever asks: asked by a member of
    a group that may write, a reader is listed as a writer, and the caller appears twice (issue 14: seen on
    the real 1.8.22 with an auto-promoted first user, a security reviewer). The portal must not trust
    these roles."""
    world = make_world(sandbox_factory, "1.8")
    world.users["alice"].groups = ["architects"]
    world.tokens["alice"] = world.state.issue_tokens(world.users["alice"])["access_token"]  # with the group
    world.tm["authorization"].append(
        {"principal_type": "group", "provider": "tmi", "provider_id": "architects", "role": "writer"}
    )
    alice, carol = await join(world, "alice"), await join(world, "carol")  # carol: a reader
    async with world.http() as http:
        by_alice = (await http.get(world.collaborate_path, headers=world.headers("alice"))).json()
        by_carol = (await http.get(world.collaborate_path, headers=world.headers("carol"))).json()
    alice_user, carol_user = world.users["alice"].principal(), world.users["carol"].principal()
    assert [(p["user"], p["permissions"]) for p in by_alice["participants"]] == [
        (alice_user, "writer"),
        (carol_user, "writer"),  # through alice's group
        listed_again_by_email(world, "alice", "writer"),  # the caller again, through the group
    ]
    assert [(p["user"], p["permissions"]) for p in by_carol["participants"]] == [
        (alice_user, "writer"),
        (carol_user, "reader"),
    ]
    await carol.close()
    await alice.close()


async def test_put_is_not_allowed(world):
    async with world.http() as http:
        response = await http.put(world.collaborate_path, headers=world.headers("alice"), json={})
    # 405 at 1.8; the real 0.217.8 answers a wrong method 400 invalid_input "method not allowed"
    assert response.status_code == (400 if world.legacy else 405)
    assert response.json()["error"] == ("invalid_input" if world.legacy else "method_not_allowed")
    assert {"GET", "POST", "DELETE"} <= set(response.headers["Allow"].split(", "))
    assert "PUT" not in response.headers["Allow"]


async def test_delete_is_204_and_only_the_host_ends_the_session(world):
    async with world.http() as http:
        assert (await http.delete(world.collaborate_path, headers=world.headers("alice"))).status_code == 204
        await http.post(world.collaborate_path, headers=world.headers("alice"))
        assert (await http.delete(world.collaborate_path, headers=world.headers("bob"))).status_code == 204
        assert world.state.has_active_session(world.diagram_id)
        assert (await http.delete(world.collaborate_path, headers=world.headers("alice"))).status_code == 204
    assert not world.state.has_active_session(world.diagram_id)


async def test_gate_errors(world):
    other_diagram = str(uuid.uuid4())
    async with world.http() as http:
        anonymous = await http.post(world.collaborate_path)
        outsider = await http.get(world.collaborate_path, headers=world.headers("dave"))
        missing_tm = await http.get(
            world.collaborate_path.replace(world.tm_id, str(uuid.uuid4())), headers=world.headers("alice")
        )
        missing_diagram = await http.get(
            world.collaborate_path.replace(world.diagram_id, other_diagram), headers=world.headers("alice")
        )
        bad_id = await http.get(
            world.collaborate_path.replace(world.diagram_id, "not-a-uuid"), headers=world.headers("alice")
        )
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "unauthorized")
    if world.legacy:
        assert outsider.status_code == 401 and outsider.headers["www-authenticate"] == "Bearer"  # real 0.217.8
        assert "www-authenticate" not in anonymous.headers
        assert (
            outsider.json()["error_description"] == "You don't have sufficient permissions to access this threat model"
        )
    else:
        assert (outsider.status_code, outsider.json()["error"]) == (403, "forbidden")
    assert (missing_tm.status_code, missing_tm.json()["error_description"]) == (404, "Threat model not found")
    assert (missing_diagram.status_code, missing_diagram.json()["error_description"]) == (
        404,
        "Diagram not found in this threat model",
    )
    assert (bad_id.status_code, bad_id.json()["error"]) == (400, "invalid_id")


async def test_session_list_shows_readable_sessions(world):
    path = "/collaboration/sessions" if world.legacy else "/me/sessions"
    await start_session(world, "alice")
    async with world.http() as http:
        mine = await http.get(path, headers=world.headers("carol"))
        outsider = await http.get(path, headers=world.headers("dave"))
        anonymous = await http.get(path)
        other_era = await http.get(
            "/me/sessions" if world.legacy else "/collaboration/sessions", headers=world.headers("carol")
        )
    assert [s["diagram_id"] for s in mine.json()] == [world.diagram_id]
    assert outsider.json() == []
    # 401 in both (the real 1.8.22 too, though PROTOCOL.md 6.4 said it answers [] to a caller without a token)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert other_era.status_code == 404


async def test_ws_ticket(sandbox_factory):
    world = make_world(sandbox_factory, "1.8")
    session = await start_session(world, "alice")
    async with world.http() as http:
        issued = await http.get(
            "/ws/ticket", params={"session_id": session["session_id"]}, headers=world.headers("carol")
        )
        outsider = await http.get(
            "/ws/ticket", params={"session_id": session["session_id"]}, headers=world.headers("dave")
        )
        unknown = await http.get("/ws/ticket", params={"session_id": str(uuid.uuid4())}, headers=world.headers("alice"))
        missing = await http.get("/ws/ticket", headers=world.headers("alice"))
        malformed = await http.get("/ws/ticket", params={"session_id": "nope"}, headers=world.headers("alice"))
        anonymous = await http.get("/ws/ticket", params={"session_id": session["session_id"]})
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    assert len(issued.json()["ticket"]) == 43
    for refused in (outsider, unknown):
        assert refused.status_code == 404
        assert refused.json()["error_description"] == "Collaboration session not found"
    assert (missing.status_code, malformed.status_code, anonymous.status_code) == (400, 400, 401)


async def test_a_live_session_blocks_diagram_writes_until_the_host_ends_it(world):
    diagram_path = f"/threat_models/{world.tm_id}/diagrams/{world.diagram_id}"
    body = {"name": "Live DFD", "type": "DFD-1.0.0", "cells": []}
    await start_session(world, "alice")
    async with world.http() as http:
        blocked = await http.put(diagram_path, json=body, headers=world.headers("alice"))
        await http.delete(world.collaborate_path, headers=world.headers("alice"))
        if world.legacy:  # 0.217.8 takes cells by JSON Patch only (PROTOCOL.md 12b.6)
            patch = [{"op": "replace", "path": "/cells", "value": []}]
            headers = {**world.headers("alice"), "Content-Type": "application/json-patch+json"}
            allowed = await http.patch(diagram_path, json=patch, headers=headers)
        else:
            allowed = await http.put(diagram_path, json=body, headers=world.headers("alice"))
    assert blocked.status_code == 409
    assert allowed.status_code == 200, allowed.text
