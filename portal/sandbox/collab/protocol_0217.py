"""TMI 0.217's collaboration protocol (PROTOCOL.md 9.4-9.6): `?token=`, email identities, old names."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from portal.sandbox.auth import unauthorized
from portal.sandbox.collab.cells import Rejection
from portal.sandbox.collab.history import Entry
from portal.sandbox.collab.protocol import Handler, Protocol
from portal.sandbox.collab.session import Connection, Session
from portal.sandbox.errors import tmi_error
from portal.sandbox.state import SandboxUser

USER_KEYS = ("principal_type", "provider", "provider_id", "display_name", "email")
EMPTY_USER = dict.fromkeys(USER_KEYS, "")
SYSTEM_USER = {
    "principal_type": "user",
    "provider": "system",
    "provider_id": "system",
    "display_name": "System",
    "email": "system@tmi",
}
CORRECTED_REASONS = ("cell_already_exists", "update_nonexistent_cell")


class Protocol0217(Protocol):
    generation = "0.217"
    socket_groups = True  # the JWT carries the groups
    session_list_path = "/collaboration/sessions"
    uses_tickets = False

    def key_of(self, user: SandboxUser) -> str:
        return user.email

    # -- REST ---------------------------------------------------------------------------
    def session_view(self, session: Session, caller: SandboxUser | None = None) -> dict[str, Any]:
        view = self.hub.session_view_base(session)
        view["host"] = session.host.email
        if session.presenter:
            view["presenter"] = session.presenter
        return view

    def no_session_view(self, tm_id: str, diagram_id: str) -> dict[str, Any] | None:
        return {
            "session_id": None,
            "threat_model_id": tm_id,
            "diagram_id": diagram_id,
            "participants": [],
            "websocket_url": self.hub.websocket_url(tm_id, diagram_id, None),
        }

    # -- connect --------------------------------------------------------------------------
    def authenticate_socket(self, websocket: WebSocket) -> SandboxUser | JSONResponse:
        token = websocket.query_params.get("token", "")
        user = self.state.user_from_access_token(token) if token else None
        return user if user is not None else unauthorized(self.state)

    def forbidden(self) -> JSONResponse:
        return tmi_error(self.state, 403, "forbidden", "Insufficient permissions to access this threat model")

    def collaborate_denied(self) -> JSONResponse:
        # 0.217's collaborate handlers answer 401 where the threat-model gate says 403 (PROTOCOL.md 9.4).
        return tmi_error(
            self.state,
            401,
            "unauthorized",
            "You don't have sufficient permissions to access this threat model",
            headers={"WWW-Authenticate": "Bearer"},  # as the real 0.217.8 sends it here
        )

    def is_denied(self, session: Session, user: SandboxUser) -> bool:
        return user.provider_id in session.denied

    # -- messages -----------------------------------------------------------------------
    def participants_update(self, session: Session) -> dict[str, Any]:
        return {
            "message_type": "participants_update",
            "participants": [
                {
                    "user": {"user_id": c.user.provider_id, "name": c.user.display_name, "email": c.user.email},
                    "permissions": c.permissions,
                    "last_activity": c.last_activity,
                }
                for c in session.participants()
            ],
            "host": session.host.email,
            "current_presenter": session.presenter or "",
        }

    def announce_presenter(self, session: Session, presenter: dict[str, Any]) -> None:
        session.broadcast({"message_type": "current_presenter", "current_presenter": presenter})
        self.broadcast_participants(session)

    def join(self, session: Session, conn: Connection) -> None:
        conn.send(self.cells_message(session, "diagram_state_sync"))
        # TMI looks the presenter's email up among connection subs, so this is often an empty User.
        presenter = next(
            (c.user.principal() for c in session.connections_where(provider_id=session.presenter or "")), EMPTY_USER
        )
        conn.send({"message_type": "current_presenter", "current_presenter": presenter})
        conn.send(self.participants_update(session))
        session.broadcast(
            {
                "message_type": "participant_joined",
                "joined_user": conn.user.principal(),
                "timestamp": self.state.timestamp(),
            },
            exclude=conn,
        )
        self.broadcast_participants(session)

    def announce_leave(self, session: Session, conn: Connection) -> None:
        session.broadcast(
            {
                "message_type": "participant_left",
                "departed_user": conn.user.principal(),
                "timestamp": self.state.timestamp(),
            }
        )
        self.broadcast_participants(session)

    def generation_handlers(self) -> dict[str, Handler]:
        return {
            # No write check at 0.217: readers can edit (PROTOCOL.md 9.5).
            "diagram_operation": self.apply_operation,
            "presenter_request": self.on_presenter_request,
            "change_presenter": self.on_change_presenter,
            "presenter_denied": self.on_presenter_denied,
            "remove_participant": self.on_remove_participant,
            "resync_request": self.on_resync,
        }

    def operation_event(
        self, session: Session, conn: Connection, message: dict[str, Any], sequence_number: int, diagram: dict[str, Any]
    ) -> dict[str, Any]:
        # The parsed message re-serialised: unknown keys dropped, initiating_user as the client sent it.
        initiating = message.get("initiating_user")
        operation = message["operation"]
        return {
            "message_type": "diagram_operation",
            "initiating_user": initiating if isinstance(initiating, dict) else EMPTY_USER,
            "operation_id": message.get("operation_id", ""),
            "sequence_number": sequence_number,
            "operation": {
                "type": operation.get("type"),
                "cells": [
                    {k: op[k] for k in ("id", "operation", "data") if k in op} for op in operation.get("cells", [])
                ],
            },
        }

    def after_rejection(
        self, session: Session, conn: Connection, rejection: Rejection, diagram: dict[str, Any] | None
    ) -> None:
        if rejection.reason in CORRECTED_REASONS:
            conn.send({"message_type": "state_correction", "update_vector": (diagram or {}).get("update_vector")})

    def history_applied(
        self, session: Session, conn: Connection, entry: Entry, kind: str, diagram: dict[str, Any]
    ) -> None:
        session.broadcast(self.history_message(kind, "resync_required"))

    def on_resync(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        conn.send(
            {
                "message_type": "resync_response",
                "method": "rest_api",
                "diagram_id": session.diagram_id,
                "threat_model_id": session.threat_model_id,
            }
        )

    # -- presenter and participants (PROTOCOL.md 9.5) ------------------------------------------
    def on_presenter_request(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        if self.is_host(session, conn.user):
            session.presenter = self.key_of(conn.user)
            self.announce_presenter(session, conn.user.principal())
            return
        hosts = session.connections_where(email=session.host.email)
        for host in hosts:
            host.send(message)  # forwarded raw: the host cannot tell who asked
        if not hosts:
            conn.send({"message_type": "presenter_denied", "current_presenter": SYSTEM_USER})

    def on_change_presenter(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        claimed = message.get("initiating_user")
        if isinstance(claimed, dict) and any(
            claimed.get(k) and claimed[k] != getattr(conn.user, k) for k in ("provider_id", "email", "display_name")
        ):
            self.security_violation(session, conn)
            return
        new_presenter = message.get("new_presenter")
        if not self.is_host(session, conn.user) or not isinstance(new_presenter, dict):
            return
        # TMI stores the provider_id where it compares emails (PROTOCOL.md 9.5's quirk).
        session.presenter = str(new_presenter.get("provider_id", ""))
        self.announce_presenter(session, new_presenter)

    def on_presenter_denied(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        target = message.get("current_presenter")
        if not self.is_host(session, conn.user) or not isinstance(target, dict):
            return
        for c in session.connections_where(provider_id=target.get("provider_id")):
            c.send(message)

    def on_remove_participant(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        removed = message.get("removed_user")
        removed_id = str(removed.get("provider_id", "")) if isinstance(removed, dict) else ""
        if not self.is_host(session, conn.user):
            conn.send(self.error("unauthorized", "Only the host can remove participants from the session"))
            return
        if removed_id == session.host.email:
            conn.send(self.error("invalid_request", "Host cannot remove themselves from the session"))
            return
        session.denied.add(removed_id)  # works even when the target is offline
        targets = session.connections_where(provider_id=removed_id)
        was_presenter = any(self.is_presenter(session, c.user) for c in targets)
        self.hub.eject(
            session,
            targets,
            self.error("removed_from_session", "You have been removed from this collaboration session by the host"),
        )
        if was_presenter:
            session.presenter = self.key_of(session.host)
            self.announce_presenter(session, session.host.principal())
        else:
            self.broadcast_participants(session)
