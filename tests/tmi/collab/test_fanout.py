"""Fanout on its own: a text TMI sends a whole room is decoded once for the room's sockets in this process, kept
only until they have all read it, and what is made from it alone is made once; everything else is as before."""

from __future__ import annotations

import json
import uuid

import pytest

from portal.tmi.collab import fanout as fanout_module
from portal.tmi.collab.fanout import Fanout, Shared, frame_text, once
from portal.tmi.collab.translate import Emit, Send, translator_for
from portal.tmi.models import User

ALICE = {"principal_type": "user", "provider": "tmi", "provider_id": "alice", "display_name": "Alice", "email": "a@x"}


def event(sequence: int = 1, operation_id: str | None = None) -> str:
    """A diagram_operation_event as TMI 1.8 writes it: compact, the same text for every receiver."""
    cell = {"id": str(uuid.uuid4()), "shape": "process", "position": {"x": 1, "y": 2}}
    return json.dumps(
        {
            "message_type": "diagram_operation_event",
            "initiating_user": ALICE,
            "operation_id": operation_id or str(uuid.uuid4()),
            "sequence_number": sequence,
            "update_vector": sequence,
            "operation": {"type": "patch", "cells": [{"id": cell["id"], "operation": "update", "data": cell}]},
        },
        separators=(",", ":"),
    )


def room(readers: int, session: str = "s1") -> Fanout:
    fanout = Fanout()
    for _ in range(readers):
        fanout.joined(session)
    return fanout


def test_a_room_decodes_a_text_once_and_keeps_it_only_until_everyone_has_read_it():
    fanout, text = room(3), event()
    first = fanout.decode("s1", text)
    assert type(first) is Shared and first == json.loads(text)
    assert fanout.decode("s1", text) is first and fanout.decode("s1", text) is first  # the other two
    again = fanout.decode("s1", text)  # all three have read it: it was let go, and is decoded afresh
    assert again == first and again is not first


def test_a_socket_alone_in_its_session_decodes_as_json_does():
    fanout, text = room(1), event()
    one, two = fanout.decode("s1", text), fanout.decode("s1", text)
    assert type(one) is dict and one == two and one is not two
    assert type(Fanout().decode("unknown", text)) is dict  # a session nobody joined here


def test_only_what_tmi_sends_the_whole_room_is_shared():
    fanout = room(3)
    for text in (
        '{"message_type":"sync_status_response","update_vector":3}',  # one socket's own answer
        '{"message_type":"diagram_state","cells":[]}',
        '{"message_type":["participants_update"]}',  # hostile: not a name at all
        "[1,2]",
        '"text"',
    ):
        first, second = fanout.decode("s1", text), fanout.decode("s1", text)
        assert type(first) is not Shared and first == second == json.loads(text) and first is not second
    with pytest.raises(ValueError):
        fanout.decode("s1", '{"message_type":"participants_update"')  # as json.loads refuses it
    big = event()[:-1] + ',"note":"' + "x" * fanout_module.LARGEST + '"}'
    assert fanout.decode("s1", big) is not fanout.decode("s1", big)  # too large to keep
    assert fanout.decode("s1", event().encode()) is not None  # bytes are decoded, never kept


def test_a_room_keeps_a_few_unread_texts_at_most_and_rooms_are_by_session():
    fanout = room(5)
    texts = [event(i) for i in range(fanout_module.KEPT + 1)]
    kept = [fanout.decode("s1", text) for text in texts]
    assert fanout.decode("s1", texts[0]) is not kept[0]  # the oldest was let go for the newest
    assert fanout.decode("s1", texts[-1]) is kept[-1]
    fanout.joined("s2")
    fanout.joined("s2")
    text = event()
    assert fanout.decode("s2", text) is not fanout.decode("s1", text)
    for _ in range(5):
        fanout.left("s1")
    assert "s1" not in fanout._rooms and "s2" in fanout._rooms


def test_what_is_made_from_a_shared_message_is_made_once():
    made = []
    shared, plain = Shared({"a": 1}), {"a": 1}
    assert once(shared, "k", lambda: made.append(1) or "x") == once(shared, "k", lambda: made.append(2) or "y") == "x"
    assert once(shared, "none", lambda: None) is None and once(shared, "none", lambda: "later") is None
    assert once(plain, "k", lambda: made.append(3) or "z") == "z" and made == [1, 3]
    frame = Shared({"type": "cursor", "x": 1.5, "y": 2})
    assert frame_text(frame) == '{"type":"cursor","x":1.5,"y":2}' and frame_text(frame) is frame_text(frame)
    assert frame_text({"type": "ack"}) == '{"type":"ack"}'


def test_two_sockets_share_the_ops_frame_and_each_still_checks_it_against_their_own_history():
    fanout, text = room(2), event(sequence=5)
    bob = translator_for("1.8", User(provider_id="bob"))
    carol = translator_for("1.8", User(provider_id="carol"))
    bob.highest_sequence = 5  # bob has seen this sequence number already (an undo's replay, PROTOCOL.md 7.8)
    at_carol = carol.inbound(fanout.decode("s1", text))
    at_bob = bob.inbound(fanout.decode("s1", text))
    assert at_bob == [Send({"message_type": "sync_request"})]  # bob's own rule still applies: resync
    (emit,) = at_carol
    assert isinstance(emit, Emit) and emit.frame["type"] == "ops" and emit.frame["user"]["id"] == "alice"
    assert emit.frame == translator_for("1.8", User(provider_id="dave")).inbound(json.loads(text))[0].frame
    erin = translator_for("1.8", User(provider_id="erin"))
    fanout.joined("s1")
    again = event(sequence=6)
    assert erin.inbound(fanout.decode("s1", again))[0].frame is carol.inbound(fanout.decode("s1", again))[0].frame
