"""The translation between the portal's browser protocol and both TMI generations: pure, no sockets."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from portal.tmi import User
from portal.tmi.collab import frames
from portal.tmi.collab.ledger import MAX_REMEMBERED, OperationLedger
from portal.tmi.collab.translate import (
    Emit,
    FetchRoles,
    FetchState,
    Send,
    Translator,
    Translator0217,
    Translator18,
    translator_for,
)

ALICE = {
    "principal_type": "user",
    "provider": "tmi",
    "provider_id": "alice",
    "display_name": "Alice",
    "email": "alice@example.com",
}
BOB = {
    "principal_type": "user",
    "provider": "tmi",
    "provider_id": "bob",
    "display_name": "Bob",
    "email": "bob@example.com",
}
BOB_0217 = {"user_id": "bob", "name": "Bob", "email": "bob@example.com"}
ALICE_0217 = {"user_id": "alice", "name": "Alice", "email": "alice@example.com"}
PERSON_BOB = frames.person("bob", "Bob", "bob@example.com")


def translator(generation: str) -> Translator:
    return translator_for(generation, User(**ALICE))


@pytest.fixture(params=["1.8", "0.217"], ids=lambda g: f"tmi-{g}")
def t(request) -> Translator:
    return translator(request.param)


def emitted(effects: list[Any]) -> list[dict[str, Any]]:
    return [e.frame for e in effects if isinstance(e, Emit)]


def sent(effects: list[Any]) -> list[dict[str, Any]]:
    return [e.message for e in effects if isinstance(e, Send)]


def cell(shape: str = "process") -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "shape": shape, "position": {"x": 1, "y": 2}}


def ops_frame(*cell_ops: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "ops", "operation_id": str(uuid.uuid4()), "cells": list(cell_ops), **extra}


def with_roster(t: Translator) -> Translator:
    if isinstance(t, Translator18):
        t.inbound(
            {
                "message_type": "participants_update",
                "host": ALICE,
                "current_presenter": ALICE,
                "participants": [{"user": ALICE, "permissions": "writer"}, {"user": BOB, "permissions": "writer"}],
            }
        )
    else:
        t.inbound(
            {
                "message_type": "participants_update",
                "host": "alice@example.com",
                "current_presenter": "",
                "participants": [
                    {"user": ALICE_0217, "permissions": "writer"},
                    {"user": BOB_0217, "permissions": "reader"},
                ],
            }
        )
    return t


def test_translator_for_knows_both_generations_only():
    assert isinstance(translator("1.8"), Translator18) and isinstance(translator("0.217"), Translator0217)
    with pytest.raises(ValueError):
        translator("2.0")


# -- browser -> TMI ------------------------------------------------------------------------------
def test_ops_become_the_generations_operation_followed_by_a_fence(t):
    node = cell()
    frame = ops_frame({"id": node["id"], "operation": "add", "data": node})
    message, fence = sent(t.outbound(frame))
    assert message["operation_id"] == frame["operation_id"]
    assert message["operation"] == {"type": "patch", "cells": frame["cells"]}
    if t.generation == "1.8":
        assert message["message_type"] == "diagram_operation_request" and "initiating_user" not in message
        assert fence == {"message_type": "sync_status_request"}
    else:
        assert message["message_type"] == "diagram_operation" and message["initiating_user"] == ALICE
        assert fence == {"message_type": "resync_request"}


def test_identity_fields_from_the_browser_are_dropped(t):
    node = cell()
    spoof = {"user": PERSON_BOB, "initiating_user": BOB, "user_id": "bob"}
    message = sent(t.outbound(ops_frame({"id": node["id"], "operation": "add", "data": node}, **spoof)))[0]
    assert set(message) <= {"message_type", "operation_id", "operation", "initiating_user"}
    assert message.get("initiating_user", ALICE) == ALICE  # the connection's own identity, never the browser's
    for kind in ("undo", "redo", "request_presenter"):
        out = sent(t.outbound({"type": kind, "initiating_user": BOB, "user": PERSON_BOB}))[0]
        assert out.get("initiating_user", ALICE) == ALICE and "user" not in out


def test_a_new_edge_takes_the_generations_shape_and_existing_cells_keep_theirs(t):
    own, foreign = t.edge_shape, ("edge" if t.edge_shape == "flow" else "flow")
    new_edge = {**cell(foreign), "source": {"cell": str(uuid.uuid4())}, "target": {"cell": str(uuid.uuid4())}}
    changed = {**new_edge, "id": str(uuid.uuid4())}
    frame = ops_frame(
        {"id": new_edge["id"], "operation": "add", "data": new_edge},
        {"id": changed["id"], "operation": "update", "data": changed},
    )
    cells = sent(t.outbound(frame))[0]["operation"]["cells"]
    assert cells[0]["data"]["shape"] == own
    assert cells[1]["data"] == changed  # an update is sent as it came


def test_presenter_frames(t):
    with_roster(t)
    assert sent(t.outbound({"type": "request_presenter"})) == [{"message_type": "presenter_request"}]
    grant = sent(t.outbound({"type": "grant_presenter", "user_id": "bob"}))[0]
    deny = sent(t.outbound({"type": "deny_presenter", "user_id": "bob"}))[0]
    remove = sent(t.outbound({"type": "remove_participant", "user_id": "bob"}))[0]
    if t.generation == "1.8":  # exactly the User TMI gave: TMI checks every field (PROTOCOL.md 7.5)
        assert grant == {"message_type": "change_presenter_request", "new_presenter": BOB}
        assert deny == {"message_type": "presenter_denied_request", "denied_user": BOB}
        assert remove == {"message_type": "remove_participant_request", "removed_user": BOB}
    else:
        bob = {"principal_type": "user", "provider_id": "bob", "display_name": "Bob", "email": "bob@example.com"}
        # provider_id carries the email: 0.217 compares presenters by email (PROTOCOL.md 9.5).
        assert grant == {
            "message_type": "change_presenter",
            "initiating_user": ALICE,
            "new_presenter": {**bob, "provider_id": "bob@example.com"},
        }
        assert deny == {"message_type": "presenter_denied", "current_presenter": bob}
        assert remove == {"message_type": "remove_participant", "removed_user": bob}


def test_people_are_resolved_against_the_latest_participants_only(t):
    with pytest.raises(frames.FrameError) as refused:
        t.outbound({"type": "grant_presenter", "user_id": "bob"})
    assert refused.value.code == "unknown_participant"


def test_cursor_selection_history_and_resync(t):
    assert sent(t.outbound({"type": "cursor", "x": 1.5, "y": -2})) == [
        {"message_type": "presenter_cursor", "cursor_position": {"x": 1.5, "y": -2}}
    ]
    ids = [str(uuid.uuid4())]
    assert sent(t.outbound({"type": "selection", "cell_ids": ids})) == [
        {"message_type": "presenter_selection", "selected_cells": ids}
    ]
    for kind in ("undo", "redo"):
        assert sent(t.outbound({"type": kind}))[0]["message_type"] == f"{kind}_request"
        assert t.history_pending == kind
    expected = [Send({"message_type": "sync_request"})] if t.generation == "1.8" else [FetchState()]
    assert t.outbound({"type": "resync"}) == expected


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "invalid_frame"),
        ("[1, 2]", "invalid_frame"),
        (b"\xff\xfe", "invalid_frame"),
        (42, "invalid_frame"),
        ({"type": "diagram_operation"}, "unknown_type"),
        ({"no": "type"}, "unknown_type"),
        ({"type": "ops", "operation_id": "1", "cells": []}, "invalid_field"),
        ({"type": "ops", "operation_id": str(uuid.uuid4()), "cells": []}, "invalid_field"),
        (
            {"type": "ops", "operation_id": str(uuid.uuid4()), "cells": [{"id": "x", "operation": "add", "data": {}}]},
            "invalid_field",
        ),
        (
            {
                "type": "ops",
                "operation_id": str(uuid.uuid4()),
                "cells": [{"id": str(uuid.uuid4()), "operation": "move", "data": {}}],
            },
            "invalid_field",
        ),
        (
            {
                "type": "ops",
                "operation_id": str(uuid.uuid4()),
                "cells": [{"id": str(uuid.uuid4()), "operation": "add"}],
            },
            "invalid_field",
        ),
        (
            {
                "type": "ops",
                "operation_id": str(uuid.uuid4()),
                "cells": [{"id": str(uuid.uuid4()), "operation": "update", "data": {"id": str(uuid.uuid4())}}],
            },
            "invalid_field",
        ),
        (
            {
                "type": "ops",
                "operation_id": str(uuid.uuid4()),
                "cells": [{"id": str(uuid.uuid4()), "operation": "remove"}] * (frames.MAX_CELLS + 1),
            },
            "too_many_cells",
        ),
        ({"type": "cursor", "x": "1", "y": 2}, "invalid_field"),
        ({"type": "cursor", "x": True, "y": 2}, "invalid_field"),
        ({"type": "cursor", "x": float("inf"), "y": 2}, "invalid_field"),
        ({"type": "selection", "cell_ids": ["nope"]}, "invalid_field"),
        ({"type": "grant_presenter", "user_id": ""}, "invalid_field"),
        ({"type": "grant_presenter", "user_id": "x" * (frames.MAX_USER_ID + 1)}, "invalid_field"),
        (json.dumps({"type": "resync", "pad": "x" * frames.MAX_FRAME_BYTES}), "frame_too_large"),
    ],
)
def test_bad_browser_frames_are_refused_with_an_error_frame(t, raw, code):
    with pytest.raises(frames.FrameError) as refused:
        t.outbound(raw)
    assert refused.value.code == code
    assert refused.value.frame == {"type": "error", "code": code, "message": refused.value.message}
    assert not t.ledger.awaiting  # nothing recorded as sent


# -- TMI -> browser ------------------------------------------------------------------------------
def test_full_state_of_either_generation(t):
    kind = "diagram_state" if t.generation == "1.8" else "diagram_state_sync"
    cells = [cell()]
    assert emitted(t.inbound({"message_type": kind, "diagram_id": "d", "update_vector": 3, "cells": cells})) == [
        {"type": "state", "diagram_id": "d", "cells": cells, "version": 3}
    ]
    assert emitted(t.inbound({"message_type": kind, "diagram_id": "d", "update_vector": None, "cells": None})) == [
        {"type": "state", "diagram_id": "d", "cells": [], "version": None}
    ]
    assert t.joined


def test_remote_operations_are_delivered_once(t):
    node = cell()
    message = {
        "operation_id": str(uuid.uuid4()),
        "sequence_number": 5,
        "operation": {
            "type": "patch",
            "cells": [{"id": node["id"], "operation": "add", "data": node, "extra": "dropped"}],
        },
    }
    if t.generation == "1.8":
        message.update(message_type="diagram_operation_event", initiating_user=BOB, update_vector=7)
    else:
        message.update(message_type="diagram_operation", initiating_user=BOB)
    assert emitted(t.inbound(message)) == [
        {
            "type": "ops",
            "operation_id": message["operation_id"],
            "user": PERSON_BOB,
            "cells": [{"id": node["id"], "operation": "add", "data": node}],
            "version": 7 if t.generation == "1.8" else None,
        }
    ]
    again = t.inbound(message)
    assert not [f for f in emitted(again) if f["type"] == "ops"]


def test_18_undo_and_redo_events_trigger_a_resync_not_an_apply():
    t = translator("1.8")
    mine = ops_frame({"id": str(uuid.uuid4()), "operation": "remove"})
    t.outbound(mine)
    t.outbound({"type": "undo"})
    replay = {
        "message_type": "diagram_operation_event",
        "initiating_user": ALICE,
        "operation_id": mine["operation_id"],
        "sequence_number": 1,
        "update_vector": 1,
        "operation": {"type": "patch", "cells": mine["cells"]},
    }
    assert t.inbound(replay) == [
        Emit({"type": "history", "action": "undo", "result": "applied"}),
        Send({"message_type": "sync_request"}),
    ]
    # Someone else's undo: an old sequence number under a new-looking id.
    t.inbound({**replay, "operation_id": str(uuid.uuid4()), "sequence_number": 9})
    other = {**replay, "operation_id": str(uuid.uuid4()), "sequence_number": 4}
    assert t.inbound(other) == [Send({"message_type": "sync_request"})]


def test_a_rejection_is_reported_in_words_and_resyncs_when_tmi_says_so(t):
    frame = ops_frame({"id": str(uuid.uuid4()), "operation": "remove"})
    t.outbound(frame)
    effects = t.inbound(
        {
            "message_type": "operation_rejected",
            "operation_id": frame["operation_id"],
            "sequence_number": 1,
            "reason": "update_nonexistent_cell",
            "message": "Operation failed",
            "requires_resync": True,
        }
    )
    assert emitted(effects) == [
        {
            "type": "rejected",
            "operation_id": frame["operation_id"],
            "reason": "update_nonexistent_cell",
            "message": "That element no longer exists. The diagram has been refreshed.",
            "resync": True,
        }
    ]
    assert effects[1:] == ([Send({"message_type": "sync_request"})] if t.generation == "1.8" else [FetchState()])
    fence_reply = "sync_status_response" if t.generation == "1.8" else "resync_response"
    assert t.inbound({"message_type": fence_reply}) == []  # a rejected operation is never acknowledged
    unknown = t.inbound(
        {
            "message_type": "operation_rejected",
            "operation_id": "",
            "reason": "mystery",
            "message": "Something TMI said",
            "requires_resync": False,
        }
    )
    assert emitted(unknown)[0]["message"] == "Something TMI said" and len(unknown) == 1


def test_0217_state_correction_after_a_rejection_does_not_resync_twice():
    t = translator("0.217")
    effects = t.inbound(
        {
            "message_type": "operation_rejected",
            "operation_id": "x",
            "reason": "cell_already_exists",
            "requires_resync": True,
        }
    )
    assert FetchState() in effects
    assert t.inbound({"message_type": "state_correction", "update_vector": 2}) == []
    assert t.inbound({"message_type": "state_correction", "update_vector": 2}) == [FetchState()]


def test_fences_acknowledge_operations_in_order(t):
    first, second = (
        ops_frame({"id": str(uuid.uuid4()), "operation": "remove"}),
        ops_frame({"id": str(uuid.uuid4()), "operation": "remove"}),
    )
    t.outbound(first)
    t.outbound(second)
    reply = {"message_type": "sync_status_response" if t.generation == "1.8" else "resync_response"}
    assert emitted(t.inbound(reply)) == [{"type": "ack", "operation_id": first["operation_id"]}]
    assert emitted(t.inbound(reply)) == [{"type": "ack", "operation_id": second["operation_id"]}]
    assert t.inbound(reply) == []
    t.outbound(first)
    t.connected()  # a new socket: its full state settles what was in flight
    assert t.inbound(reply) == []


def test_authorization_denied_refers_to_what_tmi_is_handling(t):
    denied = {"message_type": "authorization_denied", "original_operation_id": "", "reason": "insufficient_permissions"}
    frame = ops_frame({"id": str(uuid.uuid4()), "operation": "remove"})
    t.outbound(frame)
    assert emitted(t.inbound(denied)) == [
        {
            "type": "rejected",
            "operation_id": frame["operation_id"],
            "reason": "insufficient_permissions",
            "message": "You can view this diagram but not change it.",
            "resync": False,
        }
    ]
    t.ledger.settle()
    t.outbound({"type": "redo"})
    assert emitted(t.inbound(denied)) == [{"type": "history", "action": "redo", "result": "not_allowed"}]
    assert emitted(t.inbound(denied))[0]["code"] == "not_allowed"


def participants_frame(t: Translator, message: dict[str, Any]) -> dict[str, Any]:
    """The `participants` frame for a participants_update, once the roles are known (none at first:
    whatever the update says of permissions is not trusted; then alice may edit and bob may not)."""
    effects = t.inbound(message)
    assert effects == [FetchRoles()]
    first = emitted(t.roles_known({}))
    assert [p["can_edit"] for p in first[0]["participants"]] == [None] * len(t.roster.people)
    known = emitted(t.roles_known({"bob": False, "alice": True}))
    return (known or first)[0]  # nothing new (nobody to know the role of): no second frame


def test_roles_in_a_participants_update_are_not_trusted(t):
    """TMI works out participants' roles from the caller's access (1.8 REST) or says writer for all
    (1.8 socket): only roles from the people's own sessions are shown."""
    message = {
        "message_type": "participants_update",
        "host": ALICE if t.generation == "1.8" else "alice@example.com",
        "current_presenter": None,
        "participants": [{"user": BOB if t.generation == "1.8" else BOB_0217, "permissions": "writer"}],
    }
    assert with_roster(t).inbound(message) == [FetchRoles()]
    assert [p["can_edit"] for p in emitted(t.roles_known({"alice": True}))[0]["participants"]] == [None]


def test_participants_in_portal_terms(t):
    frame = participants_frame(
        with_roster(t),
        {
            "message_type": "participants_update",
            "host": ALICE if t.generation == "1.8" else "alice@example.com",
            "current_presenter": BOB if t.generation == "1.8" else "bob",
            "participants": [
                {"user": ALICE if t.generation == "1.8" else ALICE_0217, "permissions": "writer"},
                {"user": BOB if t.generation == "1.8" else BOB_0217, "permissions": "reader"},
            ],
        },
    )
    alice = frames.person("alice", "Alice", "alice@example.com")
    assert frame == {
        "type": "participants",
        "participants": [{"user": alice, "can_edit": True}, {"user": PERSON_BOB, "can_edit": False}],
        "host": alice,
        "presenter": PERSON_BOB,
    }


def test_participants_without_a_presenter_and_with_an_unknown_host(t):
    if t.generation == "1.8":
        message = {"message_type": "participants_update", "participants": [], "host": ALICE, "current_presenter": None}
    else:
        message = {
            "message_type": "participants_update",
            "participants": [],
            "host": "gone@example.com",
            "current_presenter": "",
        }
    frame = participants_frame(t, message)
    assert frame["presenter"] is None and frame["participants"] == []
    assert frame["host"]["email"] == ("alice@example.com" if t.generation == "1.8" else "gone@example.com")


def test_presenter_messages(t):
    if t.generation == "1.8":
        assert emitted(t.inbound({"message_type": "presenter_request_event", "requesting_user": BOB})) == [
            {"type": "presenter_requested", "user": PERSON_BOB}
        ]
        assert emitted(t.inbound({"message_type": "presenter_denied_event", "denied_user": ALICE})) == [
            {"type": "presenter_denied"}
        ]
    else:
        assert emitted(t.inbound({"message_type": "presenter_request"})) == [
            {"type": "presenter_requested", "user": None}
        ]
        assert emitted(t.inbound({"message_type": "presenter_denied", "current_presenter": ALICE})) == [
            {"type": "presenter_denied"}
        ]
        for said_again in ("current_presenter", "participant_joined", "participant_left"):
            assert t.inbound({"message_type": said_again, "current_presenter": BOB}) == []
    assert emitted(t.inbound({"message_type": "presenter_cursor", "cursor_position": {"x": 3, "y": 4}})) == [
        {"type": "cursor", "x": 3, "y": 4}
    ]
    assert t.inbound({"message_type": "presenter_cursor", "cursor_position": {"x": "3", "y": 4}}) == []
    assert emitted(t.inbound({"message_type": "presenter_selection", "selected_cells": ["a", 1]})) == [
        {"type": "selection", "cell_ids": ["a"]}
    ]


@pytest.mark.parametrize(
    "outcome, result",
    [
        ("no_operations_to_undo", "nothing_to_undo"),
        ("no_operations_to_redo", "nothing_to_redo"),
        ("resync_required", "resync_required"),
    ],
)
def test_history_outcomes(t, outcome, result):
    effects = t.inbound({"message_type": "history_operation", "operation_type": "undo", "message": outcome})
    assert emitted(effects) == [{"type": "history", "action": "undo", "result": result}]
    resync = [Send({"message_type": "sync_request"})] if t.generation == "1.8" else [FetchState()]
    assert effects[1:] == (resync if result == "resync_required" else [])


@pytest.mark.parametrize(
    "code, ending",
    [
        ("session_terminated", "host_left"),
        ("removed_from_session", "removed"),
        ("access_denied", "removed"),
        ("SECURITY_VIOLATION", "security_violation"),
    ],
)
def test_errors_that_announce_an_ending_are_held_for_the_close(t, code, ending):
    assert t.inbound({"message_type": "error", "error": code, "message": "..."}) == []
    assert t.announced == ending
    t.connected()
    assert t.announced is None


def test_other_errors_reach_the_browser(t):
    assert t.inbound({"message_type": "error", "error": "unauthorized", "message": "no"}) == []
    assert t.announced == "no_access"  # refused right after the upgrade
    t.connected()
    t.inbound({"message_type": "diagram_state", "diagram_id": "d", "cells": [], "update_vector": 0})
    t.inbound({"message_type": "diagram_state_sync", "diagram_id": "d", "cells": [], "update_vector": 0})
    message = {
        "message_type": "error",
        "error": "unauthorized",
        "message": "Only the host can remove participants from the session",
    }
    assert emitted(t.inbound(message)) == [frames.error("unauthorized", message["message"])]
    assert emitted(t.inbound({"message_type": "error"})) == [frames.error("tmi_error", "TMI reported an error.")]


def test_unknown_and_malformed_messages_are_ignored(t):
    for message in ({"message_type": "brand_new_thing"}, {"no": "type"}, [1, 2], None, {"message_type": 3}):
        assert t.inbound(message) == []


def test_state_from_rest():
    from portal.tmi.models import Diagram

    t = translator("0.217")
    node = cell()
    diagram = Diagram.model_validate({"id": "d", "name": "x", "cells": [node], "update_vector": None})
    assert emitted(t.state_from_rest(diagram)) == [
        {"type": "state", "diagram_id": "d", "cells": [node], "version": None}
    ]


def test_the_ledger_remembers_as_many_operations_as_tmi_can_replay():
    ledger = OperationLedger()
    ids = [str(uuid.uuid4()) for _ in range(MAX_REMEMBERED + 50)]
    assert all(ledger.remember(i) for i in ids)
    assert MAX_REMEMBERED == 100  # TMI's history length
    assert not ledger.remember(ids[-1]) and not ledger.remember(ids[-MAX_REMEMBERED])
    assert ledger.remember(ids[0])  # forgotten long ago: TMI no longer holds it either
    assert not ledger.remember(ids[0])
    assert ledger.remember("") and ledger.remember("")  # no id: nothing to compare, always applied


def test_the_roster_goes_to_the_browser_only_when_it_changed(t):
    message = (
        {"message_type": "participants_update", "participants": [{"user": ALICE}, {"user": BOB}], "host": ALICE}
        if t.generation == "1.8"
        else {
            "message_type": "participants_update",
            "participants": [{"user": ALICE_0217}, {"user": BOB_0217}],
            "host": "alice@example.com",
        }
    )
    t.inbound(message)
    assert len(emitted(t.roles_known({"alice": True}))) == 1
    assert emitted(t.roles_known({"alice": True})) == []  # read again, the same answer
    assert [p["can_edit"] for p in emitted(t.roles_known({"alice": True, "bob": False}))[0]["participants"]] == [
        True,
        False,
    ]
    t.inbound(message)  # the same people again: their roles are read again, and nothing has changed
    assert emitted(t.roles_known({"alice": True, "bob": False})) == []
    t.connected()  # a new socket: the browser hears the roster again, as after any join
    assert len(emitted(t.roles_known({"alice": True, "bob": False}))) == 1
