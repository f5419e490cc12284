"""Translation between the portal's browser protocol (docs/live-protocol.md) and the collaboration
messages of TMI 1.8 (PROTOCOL.md 7) and TMI 0.217 (9.5, 9.6).

A `Translator` holds one connection's view (participants, operations in flight, an announced ending)
and turns each message into `Effect`s that the caller carries out: frames for the browser (`Emit`),
messages for TMI (`Send`), or a re-read of the diagram over REST (`FetchState`). It does no I/O.

Identity is the portal's: a browser frame keeps only its documented fields (frames.parse); people it
names are resolved against the latest participants list; where 0.217 wants `initiating_user`, it is
the connection's own user, given at construction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from portal.tmi.cells import EDGE_SHAPES, is_edge
from portal.tmi.collab import frames
from portal.tmi.collab.endings import TERMINAL_ERRORS
from portal.tmi.collab.fanout import Shared, once
from portal.tmi.collab.ledger import OperationLedger
from portal.tmi.collab.participants import Person, Roster, person_from_user
from portal.tmi.generations import profile_for
from portal.tmi.models import User


@dataclass(frozen=True)
class Emit:
    frame: dict[str, Any]


@dataclass(frozen=True)
class Send:
    message: dict[str, Any]


@dataclass(frozen=True)
class FetchState:
    """Re-read the diagram over REST and emit it as `state` (0.217 has no full state on demand)."""


@dataclass(frozen=True)
class FetchRoles:
    """Find out who may edit, then emit `participants` with `roles_known`. TMI's own lists cannot be
    trusted for anyone but the caller: 1.8's socket reports everyone as a writer (PROTOCOL.md 7.6), and
    its REST session works out every participant's role with the groups of whoever asks, so a reader
    can be listed as a writer. The caller's own entry there is right; others' roles come from their own
    sessions (the people the portal bridges) or stay unknown."""


Effect = Emit | Send | FetchState | FetchRoles

# TMI's rejection reasons (PROTOCOL.md 7.4) in words for people.
REJECTIONS: dict[str, str] = {
    "cell_already_exists": "Someone else already added that element. The diagram has been refreshed.",
    "update_nonexistent_cell": "That element no longer exists. The diagram has been refreshed.",
    "cell_not_found_in_diagram": "The diagram changed under you. It has been refreshed.",
    "no_state_change": "Nothing changed: those elements were already gone.",
    "insufficient_permissions": "You can view this diagram but not change it.",
    "empty_cell_operations": "The change was empty.",
    "invalid_cell_operation": "The change was not understood.",
    "invalid_operation_type": "The change was not understood.",
    "add_requires_cell_data": "A new element needs its content.",
    "update_requires_cell_data": "A changed element needs its content.",
    "save_failed": "TMI could not save the change. The diagram has been refreshed.",
    "diagram_not_found": "The diagram could not be found. It has been refreshed.",
}
CORRECTED_REASONS = ("cell_already_exists", "update_nonexistent_cell")
HISTORY_RESULTS = {
    "no_operations_to_undo": "nothing_to_undo",
    "no_operations_to_redo": "nothing_to_redo",
    "resync_required": "resync_required",
}


def _rejected(operation_id: str, reason: str, message: str, resync: bool) -> Emit:
    return Emit(
        {
            "type": "rejected",
            "operation_id": operation_id,
            "reason": reason,
            "message": REJECTIONS.get(reason, message or "TMI refused the change."),
            "resync": resync,
        }
    )


def _ops_frame(message: dict[str, Any], operation_id: str, user: Any, version: Any) -> Shared:
    """The `ops` frame of a change someone made: the same for everyone who receives it (fanout.py)."""
    operation = message.get("operation") if isinstance(message.get("operation"), dict) else {}
    cells = [
        {k: op[k] for k in ("id", "operation", "data") if k in op}
        for op in operation.get("cells") or []
        if isinstance(op, dict)
    ]
    sender = person_from_user(user)
    return Shared(
        {
            "type": "ops",
            "operation_id": operation_id,
            "user": sender.frame() if sender else None,
            "cells": cells,
            "version": version if isinstance(version, int) else None,
        }
    )


class Translator:
    """What both generations share. Subclasses name the messages and shapes that differ."""

    generation: str
    operation_type: str  # the client->server operation message
    fence_request: str  # a request whose reply marks "everything before has been handled" (ledger.py)
    fence_reply: str  # that reply; the bridge sends the request for nothing else

    def __init__(self, me: User) -> None:
        self.me = me
        self.edge_shape = profile_for(self.generation).edge_shape
        self.roster = Roster()
        self.ledger = OperationLedger()
        self.announced: str | None = None  # an ending TMI announced before closing (one of endings.REASONS)
        self.joined = False  # the full state of this socket has arrived
        self.history_pending: str | None = None  # "undo"/"redo" this browser asked for
        self.highest_sequence = 0  # 1.8: the highest operation sequence number seen on this socket
        self.roster_sent = 0  # a digest of the last `participants` frame (roles_known)

    def connected(self) -> None:
        """A new upstream socket: its join brings the full state, which supersedes everything in flight."""
        self.ledger.settle()
        self.announced = None
        self.joined = False
        self.history_pending = None
        self.highest_sequence = 0
        self.roster_sent = 0

    # -- browser -> TMI -------------------------------------------------------------------------
    def outbound(self, raw: Any) -> list[Effect]:
        """Effects for one browser frame; raises frames.FrameError for a frame that goes nowhere."""
        return self.translate(frames.parse(raw))

    def translate(self, frame: dict[str, Any]) -> list[Effect]:
        """Effects for a frame already validated by frames.parse."""
        kind = frame["type"]
        if kind == "ops":
            cells = [self._outbound_cell(op) for op in frame["cells"]]
            self.ledger.sent(frame["operation_id"])
            return [Send(self.operation(frame["operation_id"], cells)), Send({"message_type": self.fence_request})]
        if kind == "request_presenter":
            return [Send({"message_type": "presenter_request"})]
        if kind in ("grant_presenter", "deny_presenter", "remove_participant"):
            target = self.roster.find(frame["user_id"])
            if target is None:
                raise frames.FrameError("unknown_participant", "That person is not in the live session.")
            return [Send(getattr(self, kind)(target))]
        if kind == "cursor":
            return [Send({"message_type": "presenter_cursor", "cursor_position": {"x": frame["x"], "y": frame["y"]}})]
        if kind == "selection":
            return [Send({"message_type": "presenter_selection", "selected_cells": frame["cell_ids"]})]
        if kind in ("undo", "redo"):
            self.history_pending = kind
            return [Send(self.history_request(kind))]
        return self.resync()  # "resync"

    def _outbound_cell(self, op: dict[str, Any]) -> dict[str, Any]:
        data = op.get("data")
        # A new edge takes the generation's shape; existing cells keep theirs, exactly as stored.
        if op["operation"] == "add" and is_edge(data) and data.get("shape") in EDGE_SHAPES:
            return {**op, "data": {**data, "shape": self.edge_shape}}
        return op

    def operation(self, operation_id: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "message_type": self.operation_type,
            "operation_id": operation_id,
            "operation": {"type": "patch", "cells": cells},
        }

    def history_request(self, kind: str) -> dict[str, Any]:
        return {"message_type": f"{kind}_request"}

    def grant_presenter(self, target: Person) -> dict[str, Any]:
        raise NotImplementedError

    def deny_presenter(self, target: Person) -> dict[str, Any]:
        raise NotImplementedError

    def remove_participant(self, target: Person) -> dict[str, Any]:
        raise NotImplementedError

    def resync(self) -> list[Effect]:
        raise NotImplementedError

    # -- TMI -> browser -------------------------------------------------------------------------
    def inbound(self, message: Any) -> list[Effect]:
        """Effects for one message from TMI; unknown or malformed messages give none."""
        if not isinstance(message, dict) or not isinstance(message.get("message_type"), str):
            return []
        if message["message_type"] == self.fence_reply:
            return self.fence_returned()
        handler = getattr(self, f"on_{message['message_type']}", None)
        return handler(message) if handler is not None else []

    def state_frame(self, diagram_id: Any, cells: Any, version: Any) -> list[Effect]:
        self.joined = True
        return [
            Emit(
                frames.state(
                    diagram_id if isinstance(diagram_id, str) else None,
                    cells if isinstance(cells, list) else [],
                    version if isinstance(version, int) and not isinstance(version, bool) else None,
                )
            )
        ]

    def state_from_rest(self, diagram: Any) -> list[Effect]:
        """`state` from a diagram read over REST (portal.tmi.models.Diagram)."""
        return self.state_frame(diagram.id, [cell.raw for cell in diagram.cells], diagram.update_vector)

    def remote_operation(self, message: dict[str, Any], user: Any, version: Any) -> list[Effect]:
        operation_id = message.get("operation_id") if isinstance(message.get("operation_id"), str) else ""
        if not self.ledger.remember(operation_id):
            return self.repeated_operation()
        return [Emit(once(message, "ops", lambda: _ops_frame(message, operation_id, user, version)))]

    def repeated_operation(self) -> list[Effect]:
        """An operation id already delivered or sent: never applied twice."""
        return []

    def rejection(self, message: dict[str, Any]) -> list[Effect]:
        operation_id = message.get("operation_id") if isinstance(message.get("operation_id"), str) else ""
        self.ledger.reject(operation_id)
        resync = message.get("requires_resync") is True
        effects: list[Effect] = [
            _rejected(operation_id, str(message.get("reason") or ""), str(message.get("message") or ""), resync)
        ]
        return effects + (self.resync() if resync else [])

    def on_operation_rejected(self, message: dict[str, Any]) -> list[Effect]:
        return self.rejection(message)

    def on_authorization_denied(self, message: dict[str, Any]) -> list[Effect]:
        # It names no operation (original_operation_id is ""): it is about the one TMI is handling now.
        operation_id = self.ledger.current()
        if operation_id:
            self.ledger.reject(operation_id)
            return [_rejected(operation_id, "insufficient_permissions", "", False)]
        if self.history_pending:
            kind, self.history_pending = self.history_pending, None
            return [Emit({"type": "history", "action": kind, "result": "not_allowed"})]
        return [Emit(frames.error("not_allowed", REJECTIONS["insufficient_permissions"]))]

    def fence_returned(self) -> list[Effect]:
        operation_id = self.ledger.fence_returned()
        return [Emit({"type": "ack", "operation_id": operation_id})] if operation_id else []

    def roles_known(self, can_edit: dict[str, bool]) -> list[Effect]:
        """`participants`, with `can_edit` from {user id: may edit} for the people it names; anyone
        else's role is unknown (None), whatever TMI said of them."""
        roster = self.roster
        roster.people = [replace(p, can_edit=can_edit.get(p.id)) for p in roster.people]
        # A room of ten joining together reads the roles some fifty times, mostly to the same answer: only a
        # change goes to the browser.
        digest = hash(
            (
                tuple((p.id, p.name, p.email, p.can_edit) for p in roster.people),
                roster.host.id if roster.host else None,
                roster.presenter.id if roster.presenter else None,
            )
        )
        if digest == self.roster_sent:
            return []
        self.roster_sent = digest
        return [Emit(roster.frame())]

    def on_presenter_cursor(self, message: dict[str, Any]) -> list[Effect]:
        frame = once(message, "cursor", lambda: _cursor_frame(message))
        return [Emit(frame)] if frame is not None else []

    def on_presenter_selection(self, message: dict[str, Any]) -> list[Effect]:
        return [Emit(once(message, "selection", lambda: _selection_frame(message)))]

    def on_history_operation(self, message: dict[str, Any]) -> list[Effect]:
        result = HISTORY_RESULTS.get(str(message.get("message")), "resync_required")
        action = message.get("operation_type") if message.get("operation_type") in ("undo", "redo") else None
        self.history_pending = None
        effects: list[Effect] = [Emit({"type": "history", "action": action, "result": result})]
        return effects + (self.resync() if result == "resync_required" else [])

    def on_error(self, message: dict[str, Any]) -> list[Effect]:
        code, text = str(message.get("error") or ""), str(message.get("message") or "")
        if code in TERMINAL_ERRORS:
            self.announced = TERMINAL_ERRORS[code]
            return []
        if code == "unauthorized" and not self.joined:  # refused right after the upgrade (7.1)
            self.announced = "no_access"
            return []
        return [Emit(frames.error(code or "tmi_error", text or "TMI reported an error."))]


def _cursor_frame(message: dict[str, Any]) -> Shared | None:
    position = message.get("cursor_position")
    if not isinstance(position, dict):
        return None
    try:
        x, y = frames.number("x", position.get("x")), frames.number("y", position.get("y"))
    except frames.FrameError:
        return None
    return Shared({"type": "cursor", "x": x, "y": y})


def _selection_frame(message: dict[str, Any]) -> Shared:
    cells = message.get("selected_cells")
    ids = [c for c in cells if isinstance(c, str)] if isinstance(cells, list) else []
    return Shared({"type": "selection", "cell_ids": ids})


class Translator18(Translator):
    """TMI 1.8 (PROTOCOL.md 7)."""

    generation = "1.8"
    operation_type = "diagram_operation_request"
    fence_request = "sync_status_request"
    fence_reply = "sync_status_response"

    def grant_presenter(self, target: Person) -> dict[str, Any]:
        return {"message_type": "change_presenter_request", "new_presenter": target.tmi}

    def deny_presenter(self, target: Person) -> dict[str, Any]:
        return {"message_type": "presenter_denied_request", "denied_user": target.tmi}

    def remove_participant(self, target: Person) -> dict[str, Any]:
        return {"message_type": "remove_participant_request", "removed_user": target.tmi}

    def resync(self) -> list[Effect]:
        # Without a vector TMI always answers with the full diagram_state (7.7).
        return [Send({"message_type": "sync_request"})]

    def repeated_operation(self) -> list[Effect]:
        # Undo and redo arrive as the undone entry's original forward operation, id and all (7.8):
        # the cells cannot be trusted, so the state is fetched again.
        effects: list[Effect] = []
        if self.history_pending:
            effects.append(Emit({"type": "history", "action": self.history_pending, "result": "applied"}))
            self.history_pending = None
        return effects + self.resync()

    def on_diagram_state(self, message: dict[str, Any]) -> list[Effect]:
        return self.state_frame(message.get("diagram_id"), message.get("cells"), message.get("update_vector"))

    def on_diagram_operation_event(self, message: dict[str, Any]) -> list[Effect]:
        # A new operation takes the next sequence number; undo/redo replay an old entry's (7.8).
        sequence = message.get("sequence_number")
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            if sequence <= self.highest_sequence:
                return self.repeated_operation()
            self.highest_sequence = sequence
        return self.remote_operation(message, message.get("initiating_user"), message.get("update_vector"))

    def on_operation_rejected(self, message: dict[str, Any]) -> list[Effect]:
        sequence = message.get("sequence_number")  # rejected operations use up sequence numbers too
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            self.highest_sequence = max(self.highest_sequence, sequence)
        return self.rejection(message)

    def on_participants_update(self, message: dict[str, Any]) -> list[Effect]:
        entries = message.get("participants") if isinstance(message.get("participants"), list) else []
        people = [p for p in (person_from_user(e.get("user")) for e in entries if isinstance(e, dict)) if p]
        self.roster = Roster(
            people, person_from_user(message.get("host")), person_from_user(message.get("current_presenter"))
        )
        return [FetchRoles()]

    def on_presenter_request_event(self, message: dict[str, Any]) -> list[Effect]:
        requester = person_from_user(message.get("requesting_user"))
        return [Emit({"type": "presenter_requested", "user": requester.frame() if requester else None})]

    def on_presenter_denied_event(self, message: dict[str, Any]) -> list[Effect]:
        return [Emit({"type": "presenter_denied"})]


class Translator0217(Translator):
    """TMI 0.217 (PROTOCOL.md 9.5, 9.6)."""

    generation = "0.217"
    operation_type = "diagram_operation"
    fence_request = "resync_request"
    fence_reply = "resync_response"

    def __init__(self, me: User) -> None:
        super().__init__(me)
        self.corrected = False  # a resync is already on its way for the last rejection

    def _me(self) -> dict[str, Any]:
        return self.me.model_dump(include={"principal_type", "provider", "provider_id", "display_name", "email"})

    def operation(self, operation_id: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
        # 0.217 relays `initiating_user` exactly as sent (9.5): the portal says who it is.
        return {**super().operation(operation_id, cells), "initiating_user": self._me()}

    def history_request(self, kind: str) -> dict[str, Any]:
        return {**super().history_request(kind), "initiating_user": self._me()}

    def grant_presenter(self, target: Person) -> dict[str, Any]:
        # 0.217 stores new_presenter.provider_id but compares presenters by email (9.5), so the email goes
        # in provider_id: otherwise the new presenter's cursor would never be relayed.
        new_presenter = {**target.tmi, "provider_id": target.email or target.id}
        return {"message_type": "change_presenter", "initiating_user": self._me(), "new_presenter": new_presenter}

    def deny_presenter(self, target: Person) -> dict[str, Any]:
        return {"message_type": "presenter_denied", "current_presenter": target.tmi}

    def remove_participant(self, target: Person) -> dict[str, Any]:
        return {"message_type": "remove_participant", "removed_user": target.tmi}

    def resync(self) -> list[Effect]:
        # resync_request only answers "use the REST API" (9.5): go there directly.
        return [FetchState()]

    def rejection(self, message: dict[str, Any]) -> list[Effect]:
        # For these TMI also sends state_correction (9.5); the rejection's own resync covers it.
        self.corrected = message.get("requires_resync") is True and message.get("reason") in CORRECTED_REASONS
        return super().rejection(message)

    def on_state_correction(self, message: dict[str, Any]) -> list[Effect]:
        if self.corrected:  # the rejection already asked for the state
            self.corrected = False
            return []
        return [FetchState()]

    def on_diagram_state_sync(self, message: dict[str, Any]) -> list[Effect]:
        return self.state_frame(message.get("diagram_id"), message.get("cells"), message.get("update_vector"))

    def on_diagram_operation(self, message: dict[str, Any]) -> list[Effect]:
        return self.remote_operation(message, message.get("initiating_user"), None)

    def on_participants_update(self, message: dict[str, Any]) -> list[Effect]:
        entries = message.get("participants") if isinstance(message.get("participants"), list) else []
        people = [p for p in (person_from_user(e.get("user")) for e in entries if isinstance(e, dict)) if p]
        roster = Roster(people)
        self.roster = Roster(
            people, roster.lookup(message.get("host")), roster.lookup(message.get("current_presenter"))
        )
        return [FetchRoles()]

    def on_presenter_request(self, message: dict[str, Any]) -> list[Effect]:
        # Forwarded raw to the host, without the requester's identity (9.5).
        return [Emit({"type": "presenter_requested", "user": None})]

    def on_presenter_denied(self, message: dict[str, Any]) -> list[Effect]:
        return [Emit({"type": "presenter_denied"})]

    # current_presenter, participant_joined and participant_left are always followed by a
    # participants_update that says the same, so they need no frame of their own.


TRANSLATORS: dict[str, type[Translator]] = {t.generation: t for t in (Translator18, Translator0217)}


def translator_for(generation: str, me: User) -> Translator:
    profile_for(generation)  # an unknown generation is a ValueError here
    return TRANSLATORS[generation](me)
