"""UpstreamSession against the running sandbox, over real sockets, for both TMI generations."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from portal.tmi import AddressGuard, AsyncTMIClient, User
from portal.tmi.collab import UpstreamSession, frames
from portal.tmi.collab.fanout import Fanout
from portal.tmi.collab.joins import JoinShare
from portal.tmi.collab.limits import TokenBucket
from portal.tmi.collab.upstream import CURSOR_INTERVAL, Latch
from portal.tmi.errors import TMIError
from portal.tmi.failures import Failure, failure_of
from tests.sandbox.collab_world import World, eventually, make_world, node
from tests.tmi.collab.live import Peer, open_peer, shut
from tests.tmi.test_http import established_to


@pytest.fixture
def world(sandbox_factory, generation) -> World:
    # Pings every 0.2 s so 1.8's access re-check (4403) happens quickly.
    return make_world(sandbox_factory, generation, ws_ping_interval_seconds=0.2)


@pytest.fixture
async def peers(world):
    opened: list[Peer] = []

    async def open_(name: str, **options) -> Peer:
        peer = await open_peer(world, name, **options)
        opened.append(peer)
        return peer

    yield open_
    for peer in opened:
        await shut(peer)


async def joined(peers, *names: str) -> list[Peer]:
    """Open each user's session in turn and read each one's join up to its first state."""
    opened = []
    for name in names:
        peer = await peers(name)
        await peer.until("state")
        opened.append(peer)
    await opened[0].roster(*names)
    return opened


def ops(operation_id: str | None = None, *cells: dict) -> dict:
    return {"type": "ops", "operation_id": operation_id or str(uuid.uuid4()), "cells": list(cells)}


def add(cell: dict) -> dict:
    return {"id": cell["id"], "operation": "add", "data": cell}


def edge(source: str, target: str, shape: str) -> dict:
    return {"id": str(uuid.uuid4()), "shape": shape, "source": {"cell": source}, "target": {"cell": target}}


async def shared_box(alice: Peer, bob: Peer, label: str) -> dict:
    """alice adds a node; bob has received it and alice's add is acknowledged."""
    box = node(label)
    await alice.send(ops(None, add(box)))
    await bob.until("ops")
    await alice.until("ack")
    return box


async def drop_sockets(world: World) -> int:
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        return (await http.post("/_sandbox/sockets/drop", json={"diagram_id": world.diagram_id})).json()["dropped"]


def presenter_id(frame: dict) -> str | None:
    return frame["presenter"]["id"] if frame["presenter"] else None


async def test_join_gives_connection_state_and_participants(world, peers):
    alice = await peers("alice")
    assert [await alice.next(), await alice.next()] == [frames.connection("connecting"), frames.connection("live")]
    state = await alice.until("state")
    assert state["diagram_id"] == world.diagram_id and state["cells"] == []
    roster = await alice.roster("alice")
    assert roster["host"]["id"] == "alice" and presenter_id(roster) == "alice"

    bob = await peers("bob")
    assert (await bob.until("state"))["diagram_id"] == world.diagram_id
    seen_by_bob = await bob.roster("alice", "bob")
    assert seen_by_bob["host"]["email"] == world.users["alice"].email
    await alice.roster("alice", "bob", roles={"alice": True, "bob": True})


async def test_ops_reach_the_other_user_exactly_and_are_acknowledged(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    first, second = node("Web"), node("DB", x=400)
    link = edge(first["id"], second["id"], "edge" if world.legacy else "flow")
    added = ops(None, add(first), add(second), add(link))
    assert await alice.send(added) is None
    received = await bob.until("ops")
    assert received["operation_id"] == added["operation_id"]
    assert received["cells"] == added["cells"]
    assert received["user"]["id"] == "alice"
    assert await alice.until("ack") == {"type": "ack", "operation_id": added["operation_id"]}

    moved = {**first, "position": {"x": 300, "y": 80}}
    for frame in (
        ops(None, {"id": first["id"], "operation": "update", "data": moved}),
        ops(None, {"id": link["id"], "operation": "remove"}),
    ):
        await alice.send(frame)
        assert (await bob.until("ops"))["cells"] == frame["cells"]
        await alice.until("ack", operation_id=frame["operation_id"])
    assert not [f for f in await alice.collect(0.3) if f["type"] == "ops"]  # TMI never echoes
    stored = {c["id"]: c for c in world.diagram["cells"]}
    assert stored[first["id"]]["position"] == {"x": 300, "y": 80} and link["id"] not in stored


async def test_a_new_edge_takes_the_generations_shape(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    a, b = node("A"), node("B", x=300)
    other_shape = "flow" if world.legacy else "edge"
    await alice.send(ops(None, add(a), add(b), add(edge(a["id"], b["id"], other_shape))))
    cells = (await bob.until("ops"))["cells"]
    assert cells[2]["data"]["shape"] == ("edge" if world.legacy else "flow")


async def test_a_rejected_op_is_reported_then_the_state_is_reloaded(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    ghost = node("Ghost")
    frame = ops(None, {"id": ghost["id"], "operation": "update", "data": ghost})
    await alice.send(frame)
    rejected = await alice.until("rejected")
    assert rejected["operation_id"] == frame["operation_id"]
    assert rejected["reason"] == "update_nonexistent_cell" and rejected["resync"] is True
    assert "no longer exists" in rejected["message"]
    assert (await alice.until("state"))["cells"] == []
    later = await alice.collect(0.3)
    assert not [f for f in later if f["type"] == "ack"]  # a rejected op is never acknowledged
    assert len([f for f in later if f["type"] == "state"]) == 0  # one resync, not two (0.217's state_correction)
    assert not [f for f in await bob.collect(0.2) if f["type"] == "ops"]


async def test_reader_edits(world, peers):
    alice, carol = await joined(peers, "alice", "carol")
    # 1.8's socket calls everyone a writer (PROTOCOL.md 7.6); each one's own REST session says their role.
    await carol.roster("alice", "carol", roles={"alice": True, "carol": False})
    frame = ops(None, add(node("Reader's box")))
    await carol.send(frame)
    if world.legacy:  # 0.217 has no write check on the socket (PROTOCOL.md 9.5)
        assert (await alice.until("ops"))["operation_id"] == frame["operation_id"]
        return
    rejected = await carol.until("rejected")
    assert rejected == {
        "type": "rejected",
        "operation_id": frame["operation_id"],
        "reason": "insufficient_permissions",
        "message": "You can view this diagram but not change it.",
        "resync": False,
    }
    assert not [f for f in await alice.collect(0.3) if f["type"] == "ops"]


async def test_identity_sent_by_the_browser_is_dropped(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    dave = world.users["dave"].principal()
    frame = {**ops(None, add(node("Spoofed"))), "user": {"id": "dave"}, "initiating_user": dave, "user_id": "dave"}
    assert await alice.send(frame) is None
    received = await bob.until("ops")
    assert received["user"] == frames.person("alice", world.users["alice"].display_name, world.users["alice"].email)


async def test_without_a_given_identity_the_session_asks_tmi_who_it_is(world, peers):
    alice = await peers("alice", me=None)
    await alice.until("state")
    bob = await peers("bob")
    await bob.until("state")
    assert alice.session.me.provider_id == "alice" and alice.session.me.email == world.users["alice"].email
    await alice.send(ops(None, add(node())))
    assert (await bob.until("ops"))["user"]["id"] == "alice"


async def test_bad_frames_get_an_error_and_go_nowhere(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    huge = ops(None, add({**node("Big"), "attrs": {"text": {"text": "x" * frames.MAX_FRAME_BYTES}}}))
    cases = {
        "frame_too_large": huge,
        "invalid_frame": "{not json",
        "unknown_type": {"type": "diagram_operation_request"},
        "invalid_field": ops("not-a-uuid", add(node())),
        "unknown_participant": {"type": "grant_presenter", "user_id": "nobody"},
    }
    for code, frame in cases.items():
        error = await alice.send(frame)
        assert error is not None and error["type"] == "error" and error["code"] == code, (code, error)
    assert not [f for f in await bob.collect(0.3) if f["type"] in ("ops", "presenter_requested")]
    assert world.diagram["cells"] == []


async def test_frames_over_the_rate_limit_are_refused(world, peers):
    alice = await peers("alice", bucket=TokenBucket(rate=0.001, burst=2))
    await alice.until("state")
    results = [await alice.send({"type": "request_presenter"}) for _ in range(3)]
    assert results[:2] == [None, None]
    assert results[2]["code"] == "rate_limited"


async def test_presenter_request_deny_grant_and_cursor(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    await bob.send({"type": "request_presenter"})
    requested = await alice.until("presenter_requested")
    # 0.217 forwards the request without saying who asked (PROTOCOL.md 9.5).
    assert requested["user"] == (
        None if world.legacy else frames.person("bob", world.users["bob"].display_name, world.users["bob"].email)
    )
    await alice.send({"type": "deny_presenter", "user_id": "bob"})
    assert await bob.until("presenter_denied") == {"type": "presenter_denied"}

    await alice.send({"type": "grant_presenter", "user_id": "bob"})
    roster = await bob.until("participants", timeout=3)
    while presenter_id(roster) != "bob":
        roster = await bob.until("participants")
    assert presenter_id(await alice.until("participants")) in ("bob", "alice")

    await bob.send({"type": "cursor", "x": 10, "y": 20})
    assert await alice.until("cursor") == {"type": "cursor", "x": 10, "y": 20}
    cell = str(uuid.uuid4())
    await bob.send({"type": "selection", "cell_ids": [cell]})
    assert await alice.until("selection") == {"type": "selection", "cell_ids": [cell]}
    await alice.send({"type": "cursor", "x": 1, "y": 1})  # alice is no longer the presenter
    assert not [f for f in await bob.collect(0.3) if f["type"] == "cursor"]


async def test_a_change_that_arrives_while_the_roles_reading_winds_up_still_reaches_the_browser(world, peers):
    """The roles reading ends by closing its REST connection; a participants_update arriving meanwhile (here
    the host handing over) only raises a flag, since the reading is not done. It must still be read and sent,
    or the new presenter never learns they present (seen once in CI, under load)."""
    alice, bob, _ = await joined(peers, "alice", "bob", "erin")
    everyone = {"alice": True, "bob": True, "erin": True}
    await bob.roster("alice", "bob", "erin", roles=everyone)  # no role left to read again later
    closing, release = asyncio.Event(), asyncio.Event()
    idle_close = bob.session.client.idle_close

    async def slow_idle_close() -> None:
        closing.set()
        await release.wait()
        await idle_close()

    bob.session.client.idle_close = slow_idle_close
    await alice.send({"type": "grant_presenter", "user_id": "erin"})  # bob reads the roles, then closes
    await asyncio.wait_for(closing.wait(), 3)
    await alice.send({"type": "grant_presenter", "user_id": "bob"})
    await eventually(lambda: bob.session._roles_wanted)  # bob's session has TMI's update, its reading not done
    release.set()
    roster = await bob.until("participants", timeout=3)
    while presenter_id(roster) != "bob":
        roster = await bob.until("participants", timeout=3)


async def test_cursor_positions_are_throttled_and_the_last_one_arrives(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    loop = asyncio.get_running_loop()
    began = loop.time()
    for x in range(40):
        await alice.send({"type": "cursor", "x": x, "y": 0})  # alice hosts, so she presents
    windows = (loop.time() - began) / CURSOR_INTERVAL  # one position per 50 ms window, plus the last
    cursors = [f for f in await bob.collect(0.4) if f["type"] == "cursor"]
    assert 1 <= len(cursors) <= min(windows + 2, 10)
    assert cursors[-1] == {"type": "cursor", "x": 39, "y": 0}


async def test_undo_reloads_the_state_for_everyone(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    await shared_box(alice, bob, "Undo me")
    await alice.send({"type": "undo"})
    history = await alice.until("history")
    assert history["action"] == "undo"
    assert history["result"] == ("resync_required" if world.legacy else "applied")
    assert (await alice.until("state"))["cells"] == []
    assert (await bob.until("state"))["cells"] == []
    assert not [f for f in await bob.collect(0.2) if f["type"] == "ops"]  # the replayed op is not applied

    await alice.send({"type": "undo"})
    assert (await alice.until("history"))["result"] == "nothing_to_undo"


async def test_a_dropped_socket_reconnects_resyncs_and_applies_nothing_twice(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    box = await shared_box(alice, bob, "Before the drop")
    assert await drop_sockets(world) == 2
    for peer in (alice, bob):
        reconnecting = await peer.until("connection", state="reconnecting")
        assert reconnecting["attempt"] == 1 and reconnecting["retry_in"] == 0.01
        await peer.until("connection", state="live")
        assert [c["id"] for c in (await peer.until("state"))["cells"]] == [box["id"]]
    await bob.until("participants")

    after = ops(None, add(node("After the drop", x=400)))
    await alice.send(after)
    delivered = [f for f in await bob.collect(0.5) if f["type"] == "ops"]
    assert [f["operation_id"] for f in delivered] == [after["operation_id"]]
    assert len(world.diagram["cells"]) == 2


async def test_a_stopped_server_is_retried_five_times_then_lost(world, peers):
    alice = await peers("alice")
    await alice.until("state")
    await asyncio.to_thread(world.server.stop)
    attempts = []
    while True:
        frame = await alice.next(timeout=10)
        if frame["type"] == "connection" and frame["state"] == "reconnecting":
            attempts.append(frame["attempt"])
        if frame["type"] == "connection" and frame["state"] == "lost":
            break
    assert attempts == [1, 2, 3, 4, 5]
    assert await alice.next() == {"type": "ended", "reason": "connection_lost"}
    with pytest.raises(StopAsyncIteration):
        await alice.next()


async def test_the_host_leaving_ends_the_session_with_its_reason(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    await alice.session.close()
    ended = await bob.until("ended")
    assert ended == {"type": "ended", "reason": "host_left"}
    assert bob.session.ended == "host_left"


async def test_removal_by_the_host_ends_the_session_for_that_person(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    await alice.send({"type": "remove_participant", "user_id": "bob"})
    ended = await bob.until("ended", timeout=5)
    assert ended == {"type": "ended", "reason": "removed"}  # a code; the words are the portal's
    await alice.roster("alice")


async def test_revoked_access_closes_with_4403(sandbox_factory):
    # 1.8 only: 0.217 has no per-ping access re-check (PROTOCOL.md 9.5).
    world = make_world(sandbox_factory, "1.8", ws_ping_interval_seconds=0.2)
    alice, bob = await open_peer(world, "alice"), await open_peer(world, "bob")
    try:
        await bob.until("state")
        world.grant("bob", None)
        ended = await bob.until("ended", timeout=5)
        assert ended == {"type": "ended", "reason": "access_revoked"}
    finally:
        await shut(bob)
        await shut(alice)


async def test_closing_every_session_leaves_nothing_behind(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    await bob.session.close()
    await alice.roster("alice")
    await alice.session.close()
    await eventually(lambda: not world.state.sessions)
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        response = await http.get(world.collaborate_path, headers=world.headers("alice"))
    if world.legacy:
        assert response.json()["session_id"] is None
    else:
        assert response.status_code == 404
    assert json.loads(response.text)  # a JSON body either way


async def test_the_hosts_delete_ends_the_session_for_the_others(world, peers):
    alice, bob = await joined(peers, "alice", "bob")
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        assert (await http.delete(world.collaborate_path, headers=world.headers("alice"))).status_code == 204
    before = []
    while (ended := await bob.next(timeout=5))["type"] != "ended":
        before.append(ended)
    # A close with no status (1005) and no words (PROTOCOL.md 6.2; the sandbox does the same at 0.217):
    # the bridge asks TMI whether the session is gone rather than reconnecting into a new one.
    assert ended["reason"] == "session_closed"
    assert not [f for f in before if f["type"] == "connection"]
    assert "message" not in ended  # the words are the portal's (portal/live/endings.py)


async def test_a_refused_origin_fails_start_and_close_deletes_the_unjoined_session(sandbox_factory):
    world = make_world(sandbox_factory, "1.8", build_mode="test")  # TMI checks Origin outside dev mode
    session = UpstreamSession(
        AsyncTMIClient(world.server.base_url, auth=world.tokens["alice"], max_retries=0),
        world.tm_id,
        world.diagram_id,
        User(**world.users["alice"].principal()),
        origin="http://evil.example",
    )
    with pytest.raises(InvalidStatus) as refused:
        await session.start()
    assert refused.value.response.status_code == 403
    assert world.state.sessions  # created by the POST, never joined
    await session.close()
    await session.client.aclose()
    assert not world.state.sessions


async def test_frames_sent_while_reconnecting_are_refused_until_live_again(world, peers):
    release = asyncio.Event()
    waits: list[float] = []

    async def held_sleep(seconds: float) -> None:  # the injected backoff: waits until the test says so
        waits.append(seconds)
        await release.wait()

    alice = await peers("alice", sleep=held_sleep, delays=(1.0, 2.0))
    await alice.until("state")
    assert await drop_sockets(world) == 1
    assert await alice.until("connection", state="reconnecting") == frames.connection(
        "reconnecting", attempt=1, retry_in=1.0
    )
    refused = await alice.send(ops(None, add(node("Too soon"))))
    assert refused is not None and refused["code"] == "not_live"
    release.set()
    await alice.until("connection", state="live")
    await alice.until("state")
    assert waits == [1.0]
    assert await alice.send(ops(None, add(node("In time")))) is None
    await alice.until("ack")


async def test_an_idle_session_removed_by_tmis_cleanup_ends_as_closed(sandbox_factory, generation):
    # The cleanup's close carries no status (1005), like the host's DELETE (PROTOCOL.md 6.5).
    # The first sweep (at 1 s) finds the session idle; joining takes well under that.
    world = make_world(sandbox_factory, generation, ws_inactivity_timeout_seconds=0.5, ws_cleanup_interval_seconds=1.0)
    alice = await open_peer(world, "alice")
    try:
        ended = await alice.until("ended", timeout=5)
        assert ended == {"type": "ended", "reason": "session_closed"}
    finally:
        await shut(alice)


async def test_each_reads_its_own_role_once_while_others_join(world, peers):
    """Each join tells everyone already there (participants_update), and each of them used to ask TMI for
    their own role again: N*(N+1)/2 REST calls for a room of N. One's own role is read once, then again only
    after OWN_ROLE_SECONDS or a refusal."""
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        await http.delete("/_sandbox/requests")
        await joined(peers, "alice", "bob", "erin", "carol")
        names = ("alice", "bob", "erin", "carol")
        seen = (await http.get("/_sandbox/requests")).json()["seen"]
    own_role_reads = sum(n for route, n in seen.items() if route.startswith("GET ") and route.endswith("/collaborate"))
    assert own_role_reads == len(names)


async def _seen(world: World) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        seen = (await http.get("/_sandbox/requests")).json()["seen"]
    # "POST collaborate", "GET ticket" (GET / and the others are not counted here)
    named = {"/ws/ticket": "ticket", "/collaborate": "collaborate"}
    return {
        f"{route.split(' ')[0]} {name}": n
        for route, n in seen.items()
        for suffix, name in named.items()
        if route.endswith(suffix)
    }


async def test_a_roomful_reads_what_tmi_sends_them_all_once(world, peers):
    """Everyone has their own socket, so a change reaches this process once per person in the room as the same
    text: it is decoded once and its frame made once for all of them (fanout.py), in both generations."""
    room = Fanout()
    alice, bob, carol = [await peers(name, fanout=room) for name in ("alice", "bob", "carol")]
    for peer in (alice, bob, carol):
        await peer.until("state")
    await alice.roster("alice", "bob", "carol")
    await bob.roster("alice", "bob", "carol")
    await carol.roster("alice", "bob", "carol")
    sent = ops(None, add(node("Shared")))
    await alice.send(sent)
    at_bob, at_carol = await bob.until("ops"), await carol.until("ops")
    assert at_bob is at_carol  # one frame for both (without the room, each decodes and builds their own)
    assert at_bob["cells"] == sent["cells"] and at_bob["user"]["id"] == "alice"
    await alice.until("ack", operation_id=sent["operation_id"])
    assert room._rooms[alice.session.session_id].readers == 3
    await shut(carol)
    assert room._rooms[alice.session.session_id].readers == 2


async def test_people_joining_together_make_one_post_and_each_asks_their_own_ticket(world, peers):
    """TMI has one session per diagram and answers every POST with it (PROTOCOL.md 6.2): a roomful joining
    at once asks once. Each still asks a ticket for themselves, where TMI checks their access (6.3). At 0.217
    the socket takes the token itself, checked nowhere before it: nothing is shared there."""
    names = ("alice", "bob", "erin", "carol")
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        await http.delete("/_sandbox/requests")
    share = JoinShare()
    opened = await asyncio.gather(*(peers(name, joins=share) for name in names))
    for peer in opened:
        await peer.until("state")
        await peer.roster(*names)
    seen = await _seen(world)
    posts = sum(n for route, n in seen.items() if route.startswith("POST"))
    assert posts == (len(names) if world.legacy else 1)
    assert seen.get("GET ticket", 0) == (0 if world.legacy else len(names))
    assert sum(1 for p in opened if p.session.created_session) == 1  # one host, who leaves as one


async def test_a_borrower_without_access_is_refused_as_if_alone(sandbox_factory):
    """dave may not read the model: the ticket for alice's session is refused (404, as TMI does for sessions
    one may not see), and dave's own POST then refuses him as it always did."""
    world = make_world(sandbox_factory, "1.8")
    share = JoinShare()
    alice = await open_peer(world, "alice", joins=share)
    dave = UpstreamSession(
        AsyncTMIClient(world.server.base_url, auth=world.tokens["dave"], max_retries=0),
        world.tm_id,
        world.diagram_id,
        User(**world.users["dave"].principal()),
        joins=share,
    )
    try:
        await alice.roster("alice", roles={"alice": True})  # her own role read: TMI is quiet now
        async with httpx.AsyncClient(base_url=world.server.base_url) as http:
            await http.delete("/_sandbox/requests")
        with pytest.raises(TMIError) as refused:
            await dave.start()
        assert failure_of(refused.value) in (Failure.FORBIDDEN, Failure.NOT_FOUND)
        assert await _seen(world) == {"GET ticket": 1, "POST collaborate": 1}
        assert len(world.state.sessions) == 1  # alice's, still lent to the next person
        bob = await open_peer(world, "bob", joins=share)
        await bob.until("state")
        await shut(bob)
    finally:
        await dave.close()
        await dave.client.aclose()
        await shut(alice)


async def test_after_the_host_leaves_the_next_joiner_starts_a_new_session(world, peers):
    share = JoinShare()
    alice = await peers("alice", joins=share)
    await alice.until("state")
    bob = await peers("bob", joins=share)
    await bob.roster("alice", "bob")
    await alice.session.close()
    assert (await bob.until("ended")) == {"type": "ended", "reason": "host_left"}
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        await http.delete("/_sandbox/requests")
    erin = await peers("erin", joins=share)
    await erin.until("state")
    await erin.roster("erin")
    assert erin.session.created_session  # a new session, hers, not the ended one borrowed
    assert (await _seen(world)).get("GET ticket", 0) == (0 if world.legacy else 1)  # no refused ticket first


async def test_a_refused_edit_reads_ones_own_role_again(world, peers):
    if world.legacy:  # 0.217 has no write check on the socket (PROTOCOL.md 9.5)
        pytest.skip("0.217 never refuses an edit for the role")
    alice, carol = await joined(peers, "alice", "carol")
    await carol.roster("alice", "carol", roles={"alice": True, "carol": False})
    await carol.send(ops(None, add(node("Reader's box"))))
    await carol.until("rejected")
    world.grant("carol", "writer")  # alice shares the model with carol, read as a reader moments ago
    await peers("bob")  # the next change of the roster reads carol's role again, though it was read just now
    await carol.roster("alice", "bob", "carol", roles={"alice": True, "bob": True, "carol": True})


async def test_joined_sessions_keep_their_sockets_and_share_one_rest_connection_to_tmi(world, peers):
    """A live diagram may stay open for hours and calls TMI over REST only now and then: the connection its
    join used belongs to the event loop, not to the session (about 8 KiB each), and the next join reuses it."""
    port = urlsplit(world.server.base_url).port
    before = established_to(port)
    alice = await peers("alice", address_guard=AddressGuard(["127.0.0.1"]))
    await alice.until("state")
    await alice.roster("alice", roles={"alice": True})  # the join's last REST call (its own role) is answered
    assert established_to(port) == before + 2  # the collaboration socket and the loop's REST connection
    bob = await peers("bob", address_guard=AddressGuard(["127.0.0.1"]))
    await bob.until("state")
    await bob.roster("alice", "bob", roles={"alice": True, "bob": True})  # his own role: his last REST call
    assert established_to(port) == before + 3  # bob's socket; his REST calls went over the same connection
    await alice.session.send(ops(None, add(node("Still live"))))
    await alice.until("ack")


async def test_an_open_socket_keeps_no_handshake_headers_and_still_relays(world, peers):
    """The handshake's request and answer would stay in memory as long as the socket (about 3 KiB each
    bridged session); nothing reads them once it is open."""
    alice, bob = await joined(peers, "alice", "bob")
    for peer in (alice, bob):
        assert peer.session.ws.request is None and not peer.session.ws.response.headers
    await alice.session.send(ops(None, add(node("After the handshake"))))
    await alice.until("ack")
    await bob.until("ops")


async def test_nothing_is_delivered_after_the_session_is_closed(world):
    delivered = []

    async def deliver(frame):
        delivered.append(frame)

    peer = await open_peer(world, "alice", deliver=deliver)
    peer.session.release()
    await eventually(lambda: any(f.get("type") == "state" for f in delivered))
    await shut(peer)
    count = len(delivered)
    peer.session._emit(frames.connection("live"))  # a late frame from work that outlived the session
    await asyncio.sleep(0.05)
    assert len(delivered) == count
    assert peer.session._courier is None or peer.session._courier.done()


async def test_the_finished_latch_wakes_every_waiter_but_one_cancelled():
    latch = Latch()
    first, second = asyncio.create_task(latch.wait()), asyncio.create_task(latch.wait())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    assert first.cancelled() and not second.done() and not latch.is_set()
    latch.set()
    await asyncio.wait_for(second, 1)  # the cancelled waiter did not cancel the shared future
    assert latch.is_set()
    await asyncio.wait_for(latch.wait(), 1)  # set already: returns at once
