"""What both generations' WebSocket protocols share (PROTOCOL.md 7 and 9.5).

`Protocol` holds the common handling: operations, undo/redo, presenter views, departures and the
presenter hand-over. protocol_18.py and protocol_0217.py add only what differs: message names and
shapes, identities, and the connect-time checks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from portal.sandbox.auth import unauthorized
from portal.sandbox.collab.cells import Rejection, apply_patch, parse_operation, restore
from portal.sandbox.collab.history import Entry, HistoryGap
from portal.sandbox.collab.session import Connection, Session
from portal.sandbox.state import SandboxUser

if TYPE_CHECKING:
    from portal.sandbox.collab.hub import Hub

Handler = Callable[[Session, Connection, dict[str, Any]], None]

AUTHORIZATION_DENIED = {
    "message_type": "authorization_denied",
    "original_operation_id": "",
    "reason": "insufficient_permissions",
}


class Protocol:
    generation: str
    # Whether socket-side ACL checks see the caller's groups: 1.8 tickets carry none (PROTOCOL.md 4).
    socket_groups: bool

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.state = hub.state

    # -- identities ----------------------------------------------------------------------
    def key_of(self, user: SandboxUser) -> str:
        """How the generation identifies the host and presenter."""
        raise NotImplementedError

    def is_host(self, session: Session, user: SandboxUser) -> bool:
        return self.key_of(user) == self.key_of(session.host)

    def is_presenter(self, session: Session, user: SandboxUser) -> bool:
        return session.presenter is not None and session.presenter == self.key_of(user)

    def permissions(self, user: SandboxUser, tm_id: str) -> str | None:
        """ "writer" (owner included), "reader" or None, from the ACL as the socket sees it."""
        tm = self.state.get_threat_model(tm_id)
        role = self.state.role_of(user, tm, with_groups=self.socket_groups) if tm else None
        return None if role is None else ("reader" if role == "reader" else "writer")

    # -- REST views and connect-time hooks (per generation) -----------------------------
    def session_view(self, session: Session, caller: SandboxUser | None = None) -> dict[str, Any]:
        """The CollaborationSession body; `caller` is who asked over REST (None: a list entry)."""
        raise NotImplementedError

    def no_session_view(self, tm_id: str, diagram_id: str) -> dict[str, Any] | None:
        """GET /collaborate when there is no session; None means 404."""
        raise NotImplementedError

    def authenticate_socket(self, websocket: WebSocket) -> SandboxUser | JSONResponse:
        """The caller, or the 401 to send."""
        raise NotImplementedError

    session_list_path: str
    uses_tickets: bool  # 1.8's /ws/ticket; 0.217 puts the access token in the socket URL

    def forbidden(self) -> JSONResponse:
        """The threat-model gate's 403 (sockets, and 1.8's /collaborate)."""
        raise NotImplementedError

    def collaborate_denied(self) -> JSONResponse:
        return self.forbidden()

    def anonymous_session_list(self) -> JSONResponse:
        """The session list for a caller without a valid token."""
        return unauthorized(self.state)

    def admit(self, websocket: WebSocket, user: SandboxUser, session: Session | None) -> JSONResponse | None:
        """Extra pre-upgrade checks (1.8's connection caps and Origin rule)."""
        return None

    def is_denied(self, session: Session, user: SandboxUser) -> bool:
        raise NotImplementedError

    def access_revoked(self, session: Session, conn: Connection) -> bool:
        """Checked at every ping (1.8 closes with 4403)."""
        return False

    # -- messages ------------------------------------------------------------------------
    def join(self, session: Session, conn: Connection) -> None:
        raise NotImplementedError

    def participants_update(self, session: Session) -> dict[str, Any]:
        raise NotImplementedError

    def broadcast_participants(self, session: Session) -> None:
        """participants_update to every client; these broadcasts also reset the idle clock (6.5)."""
        session.last_activity = self.state.now()
        session.broadcast(self.participants_update(session))

    def announce_leave(self, session: Session, conn: Connection) -> None:
        raise NotImplementedError

    @cached_property
    def handlers(self) -> dict[str, Handler]:
        """message_type -> handler: the shared ones plus the generation's own."""
        return {
            "presenter_cursor": self.relay_presenter_view,
            "presenter_selection": self.relay_presenter_view,
            "undo_request": lambda s, c, m: self.step_history(s, c, "undo"),
            "redo_request": lambda s, c, m: self.step_history(s, c, "redo"),
            **self.generation_handlers(),
        }

    def generation_handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    def unknown_message(self, session: Session, conn: Connection, message_type: str) -> None:
        """A message type the generation does not handle (0.217 ignores it)."""

    def handle(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        message_type = message.get("message_type")
        handler = self.handlers.get(message_type) if isinstance(message_type, str) else None
        if handler is None:
            self.unknown_message(session, conn, str(message_type or ""))
        else:
            handler(session, conn, message)

    def error(self, error: str, message: str) -> dict[str, Any]:
        return {"message_type": "error", "error": error, "message": message, "timestamp": self.state.timestamp()}

    def cells_message(self, session: Session, message_type: str) -> dict[str, Any]:
        diagram = self.state.get_diagram(session.threat_model_id, session.diagram_id) or {}
        return {
            "message_type": message_type,
            "diagram_id": session.diagram_id,
            "update_vector": diagram.get("update_vector"),
            "cells": diagram.get("cells", []),
        }

    # -- diagram operations (PROTOCOL.md 7.4) ------------------------------------------------
    def apply_operation(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        operation = parse_operation(message)
        if operation is None:  # TMI only logs a message it cannot decode
            return
        sequence_number = session.take_sequence_number()
        diagram = self.state.get_diagram(session.threat_model_id, session.diagram_id)
        try:
            if diagram is None:
                raise Rejection("diagram_not_found")
            change = apply_patch(diagram.setdefault("cells", []), operation)
        except Rejection as rejection:
            conn.send(self.rejection(session, message, sequence_number, rejection, diagram))
            self.after_rejection(session, conn, rejection, diagram)
            return
        # The stored update_vector deliberately stays put: TMI's handler writes back the copy it
        # read before the edit, undoing the central +1 (PROTOCOL.md 7.4, 11).
        self.state.touch(diagram)
        session.history.record(Entry(sequence_number, str(message.get("operation_id", "")), operation, change))
        session.broadcast(self.operation_event(session, conn, message, sequence_number, diagram), exclude=conn)

    def rejection(
        self,
        session: Session,
        message: dict[str, Any],
        sequence_number: int,
        rejection: Rejection,
        diagram: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_type": "operation_rejected",
            "operation_id": message.get("operation_id", ""),
            "sequence_number": sequence_number,
            "reason": rejection.reason,
            "message": f"Operation validation failed: {rejection.reason}",
            "requires_resync": rejection.requires_resync,
            "timestamp": self.state.timestamp(),
        }
        if rejection.details:
            body["details"] = rejection.details
        if rejection.affected_cells:
            body["affected_cells"] = rejection.affected_cells
        return body

    def after_rejection(
        self, session: Session, conn: Connection, rejection: Rejection, diagram: dict[str, Any] | None
    ) -> None:
        """0.217 follows some rejections with a state_correction."""

    def operation_event(
        self, session: Session, conn: Connection, message: dict[str, Any], sequence_number: int, diagram: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError

    # -- undo / redo (PROTOCOL.md 7.8) --------------------------------------------------------
    def step_history(self, session: Session, conn: Connection, kind: str) -> None:
        if self.permissions(conn.user, session.threat_model_id) != "writer":
            conn.send(AUTHORIZATION_DENIED)
            return
        history = session.history
        try:
            entry = history.undo_target() if kind == "undo" else history.redo_target()
        except HistoryGap:
            conn.send(self.history_message(kind, "resync_required"))
            return
        if entry is None:
            conn.send(self.history_message(kind, f"no_operations_to_{kind}"))
            return
        diagram = self.state.get_diagram(session.threat_model_id, session.diagram_id)
        if diagram is None:
            conn.send(self.history_message(kind, "resync_required"))
            return
        if kind == "undo":
            restore(diagram["cells"], entry.change.before)
            history.undone(entry)
            # an undo writes the cells through the server's central update, which counts (+1); a redo goes
            # through the operation processor, which, as for every operation, writes back the vector it
            # read (real 1.8.22: undo 1, then redo 1 again)
            diagram["update_vector"] = int(diagram.get("update_vector") or 0) + 1
        else:
            restore(diagram["cells"], entry.change.after)
            history.redone(entry)
        self.state.touch(diagram)
        self.history_applied(session, conn, entry, kind, diagram)

    @staticmethod
    def history_message(kind: str, outcome: str) -> dict[str, Any]:
        return {"message_type": "history_operation", "operation_type": kind, "message": outcome}

    def history_applied(
        self, session: Session, conn: Connection, entry: Entry, kind: str, diagram: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    # -- presenter (PROTOCOL.md 7.5) ----------------------------------------------------------
    def relay_presenter_view(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        """presenter_cursor / presenter_selection: only the presenter's, with no sender field."""
        if not self.is_presenter(session, conn.user):
            return
        field = "cursor_position" if message["message_type"] == "presenter_cursor" else "selected_cells"
        session.broadcast({"message_type": message["message_type"], field: message.get(field)}, exclude=conn)

    def hand_over_presenter(self, session: Session, leaving: Connection) -> None:
        """The presenter left: the host if connected, else the first writer, else nobody."""
        if not self.is_presenter(session, leaving.user) or session.connections_where(
            internal_uuid=leaving.user.internal_uuid
        ):
            return
        if session.connections_where(internal_uuid=session.host.internal_uuid):
            session.presenter = self.key_of(session.host)
            return
        writer = next((c for c in session.connections if c.permissions == "writer"), None)
        session.presenter = self.key_of(writer.user) if writer else None

    # -- leaving ---------------------------------------------------------------------------
    def depart(self, session: Session, conn: Connection) -> None:
        """A client is gone (closed, dropped, or disconnected for cause)."""
        if conn not in session.connections:
            return
        session.connections.remove(conn)
        if session.terminating:
            return
        if self.is_host(session, conn.user):
            self.hub.terminate(session)
            return
        session.last_activity = self.state.now()
        if not session.connections:  # the last non-host left
            self.hub.remove(session)
            return
        self.hand_over_presenter(session, conn)
        self.announce_leave(session, conn)

    def security_violation(self, session: Session, conn: Connection) -> None:
        """A client lied about another user: told, disconnected (no status), not deny-listed."""
        conn.send(self.error("SECURITY_VIOLATION", "Providing false information about other users"))
        conn.close(None)
        self.depart(session, conn)
