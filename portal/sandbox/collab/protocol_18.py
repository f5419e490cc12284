"""TMI 1.8's collaboration protocol (PROTOCOL.md 6, 7): tickets, User objects, *_request/_event names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.websockets import WebSocket

from portal.sandbox.auth import unauthorized
from portal.sandbox.collab.cells import Rejection
from portal.sandbox.collab.history import Entry
from portal.sandbox.collab.protocol import AUTHORIZATION_DENIED, Handler, Protocol
from portal.sandbox.collab.session import Connection, Session
from portal.sandbox.errors import bare_error, tmi_error
from portal.sandbox.state import SandboxUser

MAX_SOCKETS_PER_USER = 5
MAX_CLIENTS_PER_SESSION = 50

SERVER_ONLY = frozenset(
    {
        "participants_update",
        "diagram_operation_event",
        "presenter_denied_event",
        "presenter_request_event",
        "authorization_denied",
        "state_correction",
        "diagram_state_sync",
        "resync_response",
        "error",
        "operation_rejected",
    }
)


class Protocol18(Protocol):
    generation = "1.8"
    socket_groups = False
    session_list_path = "/me/sessions"
    uses_tickets = True

    def key_of(self, user: SandboxUser) -> str:
        return user.internal_uuid

    def _user(self, key: str | None) -> dict[str, Any] | None:
        user = self.state.users.get(key) if key else None
        return user.principal() if user else None

    # -- REST ---------------------------------------------------------------------------
    def session_view(self, session: Session, caller: SandboxUser | None = None) -> dict[str, Any]:
        view = self.hub.session_view_base(session)
        if caller is not None:
            view["participants"] = self._participants_seen_by(session, caller)
        view["host"] = session.host.principal()
        presenter = self._user(session.presenter)
        if presenter is not None:
            view["presenter"] = presenter
        return view

    def _participants_seen_by(self, session: Session, caller: SandboxUser) -> list[dict[str, Any]]:
        """What 1.8's collaborate handlers list: every socket (a user with two appears twice), each
        one's role worked out from their own ACL entries but with the *caller's* groups. Then the handler
        adds the caller under their email (it passes the email where the socket list is keyed by
        provider_id), as a user whose provider_id is that email: no user entry or owner matches it, so
        it is listed only when one of the caller's groups gives it a role. So to a member of a group that
        may write (the security reviewers own every model), a reader is a writer and the caller appears
        twice; seen on the real 1.8.22 with no groups: neither happens."""
        tm = self.state.get_threat_model(session.threat_model_id) or {}
        listed, seen = [], set()
        for conn in session.connections:
            seen.add(conn.user.provider_id)
            role = self.state.role_of(conn.user, tm, groups=caller.groups)
            if role is not None:
                listed.append(self._participant(conn.user.principal(), role, conn.last_activity))
        as_email = replace(caller, provider_id=caller.email, internal_uuid="")
        role = self.state.role_of(as_email, tm, groups=caller.groups)
        if caller.email not in seen and role is not None:
            user = {**caller.principal(), "provider_id": caller.email, "display_name": caller.email}
            listed.append(self._participant(user, role, self.state.timestamp()))
        return listed

    @staticmethod
    def _participant(user: dict[str, Any], role: str, last_activity: str) -> dict[str, Any]:
        return {"user": user, "permissions": "reader" if role == "reader" else "writer", "last_activity": last_activity}

    def no_session_view(self, tm_id: str, diagram_id: str) -> dict[str, Any] | None:
        return None

    # -- connect --------------------------------------------------------------------------
    def authenticate_socket(self, websocket: WebSocket) -> SandboxUser | JSONResponse:
        ticket = self.hub.tickets.redeem(websocket.query_params.get("ticket", ""))
        user = self.state.users.get(ticket.user_uuid) if ticket else None
        requested = websocket.query_params.get("session_id")
        if ticket is None or user is None or (requested and requested != ticket.session_id):
            return unauthorized(self.state)
        return user

    def forbidden(self) -> JSONResponse:
        return tmi_error(self.state, 403, "forbidden", "You don't have sufficient permissions to perform this action")

    def admit(self, websocket: WebSocket, user: SandboxUser, session: Session | None) -> JSONResponse | None:
        if self.hub.socket_count(user) >= MAX_SOCKETS_PER_USER:
            return bare_error(429, {"error": "too_many_connections"}, headers={"Retry-After": "60"})
        if session is not None and len(session.connections) >= MAX_CLIENTS_PER_SESSION:
            return bare_error(429, {"error": "session_full"}, headers={"Retry-After": "30"})
        if not self._origin_allowed(websocket):
            return PlainTextResponse("websocket: request origin not allowed by Upgrader.CheckOrigin", 403)
        return None

    def _origin_allowed(self, websocket: WebSocket) -> bool:
        origin = websocket.headers.get("origin")
        if not origin or self.state.config.build_mode == "dev":
            return True
        parts = urlsplit(origin)
        return parts.hostname in ("localhost", "127.0.0.1") or parts.netloc == websocket.headers.get("host")

    def is_denied(self, session: Session, user: SandboxUser) -> bool:
        return user.internal_uuid in session.denied

    def access_revoked(self, session: Session, conn: Connection) -> bool:
        return self.permissions(conn.user, session.threat_model_id) is None

    # -- messages -----------------------------------------------------------------------
    def participants_update(self, session: Session) -> dict[str, Any]:
        return {
            "message_type": "participants_update",
            # TMI reports every participant as a writer on the socket (PROTOCOL.md 7.6).
            "participants": [
                {"user": c.user.principal(), "permissions": "writer", "last_activity": c.last_activity}
                for c in session.participants()
            ],
            "host": session.host.principal(),
            "current_presenter": self._user(session.presenter),
        }

    def diagram_state(self, session: Session) -> dict[str, Any]:
        message = self.cells_message(session, "diagram_state")
        message["update_vector"] = int(message["update_vector"] or 0)
        diagram = self.state.get_diagram(session.threat_model_id, session.diagram_id) or {}
        if diagram.get("color_palette"):
            message["color_palette"] = diagram["color_palette"]
        return message

    def join(self, session: Session, conn: Connection) -> None:
        conn.send(self.diagram_state(session))
        self.broadcast_participants(session)

    def announce_leave(self, session: Session, conn: Connection) -> None:
        self.broadcast_participants(session)

    def generation_handlers(self) -> dict[str, Handler]:
        return {
            "diagram_operation_request": self.on_operation,
            "presenter_request": self.on_presenter_request,
            "change_presenter_request": self.on_change_presenter,
            "presenter_denied_request": self.on_presenter_denied,
            "remove_participant_request": self.on_remove_participant,
            "sync_status_request": self.on_sync_status,
            "sync_request": self.on_sync,
        }

    def unknown_message(self, session: Session, conn: Connection, message_type: str) -> None:
        if message_type in SERVER_ONLY:
            conn.send(
                self.error(
                    "invalid_message_type",
                    f"Message type '{message_type}' is server-only and cannot be sent by clients",
                )
            )
        else:
            conn.send(self.error("unsupported_message_type", f"Message type '{message_type}' is not supported"))

    def on_operation(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        if self.permissions(conn.user, session.threat_model_id) != "writer":
            conn.send(AUTHORIZATION_DENIED)
            return
        self.apply_operation(session, conn, message)

    def rejection(
        self,
        session: Session,
        message: dict[str, Any],
        sequence_number: int,
        rejection: Rejection,
        diagram: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body = super().rejection(session, message, sequence_number, rejection, diagram)
        body["update_vector"] = int((diagram or {}).get("update_vector") or 0)
        return body

    def operation_event(
        self, session: Session, conn: Connection, message: dict[str, Any], sequence_number: int, diagram: dict[str, Any]
    ) -> dict[str, Any]:
        return self._event(conn.user, message.get("operation_id", ""), sequence_number, message["operation"], diagram)

    def _event(
        self,
        user: SandboxUser,
        operation_id: str,
        sequence_number: int,
        operation: dict[str, Any],
        diagram: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "message_type": "diagram_operation_event",
            "initiating_user": user.principal(),
            "operation_id": operation_id,
            "sequence_number": sequence_number,
            "update_vector": int(diagram.get("update_vector") or 0),
            "operation": operation,
        }

    def history_applied(
        self, session: Session, conn: Connection, entry: Entry, kind: str, diagram: dict[str, Any]
    ) -> None:
        # TMI sends the entry's forward operation for undo as well as redo (PROTOCOL.md 7.8).
        session.broadcast(self._event(conn.user, entry.operation_id, entry.sequence_number, entry.operation, diagram))

    def on_sync_status(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        conn.send(
            {"message_type": "sync_status_response", "update_vector": self.diagram_state(session)["update_vector"]}
        )

    def on_sync(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        state = self.diagram_state(session)
        if message.get("update_vector") is not None and message.get("update_vector") == state["update_vector"]:
            conn.send({"message_type": "sync_status_response", "update_vector": state["update_vector"]})
        else:
            conn.send(state)

    # -- presenter and participants (PROTOCOL.md 7.5, 7.6) ------------------------------------
    def on_presenter_request(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        if self.is_presenter(session, conn.user):
            return
        if self.is_host(session, conn.user):
            session.presenter = self.key_of(conn.user)
            self.broadcast_participants(session)
            return
        hosts = session.connections_where(internal_uuid=session.host.internal_uuid)
        for host in hosts:
            host.send({"message_type": "presenter_request_event", "requesting_user": conn.user.principal()})
        if not hosts:
            conn.send({"message_type": "presenter_denied_event", "denied_user": conn.user.principal()})

    def _target(self, session: Session, conn: Connection, claimed: Any, missing: str | None) -> Connection | None:
        """The connected user a host message names, after TMI's identity check; None when the
        message must go no further (errors already sent). `missing=None` ignores an absent target."""
        claimed = claimed if isinstance(claimed, dict) else {}
        targets = session.connections_where(provider_id=claimed.get("provider_id"))
        if not targets:
            if missing:
                conn.send(self.error("invalid_participant", missing))
            return None
        real = targets[0].user
        if any(
            claimed.get(key) and claimed[key] != getattr(real, key) for key in ("provider_id", "email", "display_name")
        ):
            self.security_violation(session, conn)
            return None
        return targets[0]

    def on_change_presenter(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        target = self._target(
            session, conn, message.get("new_presenter"), "Cannot change presenter to user not in session"
        )
        if target is None or not self.is_host(session, conn.user):
            return
        session.presenter = self.key_of(target.user)
        self.broadcast_participants(session)

    def on_presenter_denied(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        if not self.is_host(session, conn.user):
            return
        target = self._target(session, conn, message.get("denied_user"), None)
        if target is not None:
            for c in session.connections_where(internal_uuid=target.user.internal_uuid):
                c.send({"message_type": "presenter_denied_event", "denied_user": target.user.principal()})

    def on_remove_participant(self, session: Session, conn: Connection, message: dict[str, Any]) -> None:
        target = self._target(session, conn, message.get("removed_user"), "Cannot remove user not in session")
        if target is None:
            return
        if not self.is_host(session, conn.user):
            conn.send(self.error("unauthorized", "Only the host can remove participants from the session"))
            return
        if target.user.internal_uuid == conn.user.internal_uuid:
            conn.send(self.error("invalid_request", "Cannot remove yourself"))
            return
        session.denied.add(target.user.internal_uuid)
        was_presenter = self.is_presenter(session, target.user)
        # The real 1.8.22 closes the socket before its queued removed_from_session frame is written: the
        # removed person gets no frame, only the cut (seen every time, 2026-12-04).
        self.hub.eject(session, session.connections_where(internal_uuid=target.user.internal_uuid), None)
        if was_presenter:
            session.presenter = self.key_of(session.host)
        self.broadcast_participants(session)
        self.broadcast_participants(session)  # again when the cut socket unregisters, as the real server does
