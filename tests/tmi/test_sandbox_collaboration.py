"""Collaboration REST and the WebSocket URL, against the sandbox of each generation (PROTOCOL.md 6, 7.1, 9.4,
9.5). Connecting proves the URL's credentials work; the socket protocol itself is the live bridge's business."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.client import connect

from portal.tmi import Forbidden, NotFound, NotSupported, TMIClient
from tests.tmi.helpers import sign_in

FIRST_MESSAGE = {"1.8": "diagram_state", "0.217": "diagram_state_sync"}


@pytest.fixture
def diagram(alice):
    tm = alice.threat_models.create(name="Live")
    return tm.id, alice.diagrams.create(tm.id, "Live DFD").id


def test_session_lifecycle(alice, diagram):
    tm_id, diagram_id = diagram
    assert alice.collaboration.get(tm_id, diagram_id) is None  # 1.8: 404; 0.217: 200 with session_id null

    started = alice.collaboration.start_or_join(tm_id, diagram_id)
    assert started.created and started.session_id
    assert started.host.email == alice.auth.me().email
    joined = alice.collaboration.start_or_join(tm_id, diagram_id)
    assert not joined.created and joined.session_id == started.session_id

    current = alice.collaboration.get(tm_id, diagram_id)
    assert current.session_id == started.session_id and current.diagram_id == diagram_id
    assert started.session_id in {s.session_id for s in alice.collaboration.sessions()}

    alice.collaboration.leave(tm_id, diagram_id)  # the host leaving ends it
    assert alice.collaboration.get(tm_id, diagram_id) is None
    assert started.session_id not in {s.session_id for s in alice.collaboration.sessions()}


def test_a_wrong_diagram_is_not_found(alice, diagram):
    tm_id, _ = diagram
    with pytest.raises(NotFound):
        alice.collaboration.get(tm_id, "6f0c1e5a-0000-4000-8000-0000000000ff")


def test_ticket_exists_only_at_1_8(alice, diagram, generation):
    session = alice.collaboration.start_or_join(*diagram)
    if generation == "1.8":
        ticket = alice.collaboration.ticket(session.session_id)
        assert len(ticket) >= 32 and ticket != alice.collaboration.ticket(session.session_id)
    else:
        with pytest.raises(NotSupported):
            alice.collaboration.ticket(session.session_id)


def test_websocket_url_connects(alice, diagram, generation):
    session = alice.collaboration.start_or_join(*diagram)
    url = alice.collaboration.websocket_url(session)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.scheme == "ws" and parts.path.endswith(f"/diagrams/{diagram[1]}/ws")
    assert query["session_id"] == [session.session_id]
    credential = "ticket" if generation == "1.8" else "token"
    assert list(query) == ["session_id", credential]
    if generation == "0.217":
        assert query["token"] == [alice.tokens.access_token]
    with connect(url, open_timeout=5, close_timeout=1) as socket:
        first = json.loads(socket.recv(timeout=5))
    assert first["message_type"] == FIRST_MESSAGE[generation]
    assert first["diagram_id"] == diagram[1]


def test_another_user_joins_the_same_session(alice, diagram, anonymous, sandbox):
    tm_id, diagram_id = diagram
    tm = alice.threat_models.get(tm_id)
    bob_tokens = sign_in(anonymous, "bob")
    with TMIClient(sandbox.base_url, auth=bob_tokens) as bob:
        bob_email = bob.auth.me().email
        bob_id = bob_email if sandbox.config.is_legacy else "bob"  # 0.217 matches the email (PROTOCOL.md 9.3)
        acl = [a.model_dump(include={"principal_type", "provider", "provider_id", "role"}) for a in tm.authorization]
        alice.threat_models.update(
            tm_id,
            name=tm.name,
            threat_model_framework="STRIDE",
            authorization=[
                *acl,
                {
                    "principal_type": "user",
                    "provider": bob.auth.test_provider().id,
                    "provider_id": bob_id,
                    "role": "writer",
                },
            ],
        )
        started = alice.collaboration.start_or_join(tm_id, diagram_id)
        joined = bob.collaboration.start_or_join(tm_id, diagram_id)
        assert joined.session_id == started.session_id and not joined.created
        assert joined.host.email == alice.auth.me().email
        bob.collaboration.leave(tm_id, diagram_id)  # a non-host leaving is a no-op for the session
        assert alice.collaboration.get(tm_id, diagram_id).session_id == started.session_id


def test_no_read_access_is_forbidden_in_both_generations(alice, diagram, anonymous, sandbox):
    # 0.217 answers 401 "You don't have sufficient permissions" here (PROTOCOL.md 9.4); the client says 403.
    with TMIClient(sandbox.base_url, auth=sign_in(anonymous, "mallory")) as mallory:
        with pytest.raises(Forbidden):
            mallory.collaboration.start_or_join(*diagram)
        with pytest.raises(Forbidden):
            mallory.collaboration.get(*diagram)


async def test_async_collaboration(async_alice):
    tm = await async_alice.threat_models.create(name="Async live")
    diagram = await async_alice.diagrams.create(tm.id, "D")
    session = await async_alice.collaboration.start_or_join(tm.id, diagram.id)
    assert session.created
    url = await async_alice.collaboration.websocket_url(session)
    assert url.startswith("ws://") and session.session_id in url
    await async_alice.collaboration.leave(tm.id, diagram.id)
    assert await async_alice.collaboration.get(tm.id, diagram.id) is None
