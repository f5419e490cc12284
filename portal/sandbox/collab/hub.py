"""The sandbox's collaboration hub: live sessions, their lifecycle and the cleanup loop (PROTOCOL.md 6.5, 7.10).

Sessions are kept in `state.sessions` (diagram id -> Session) so the REST routes can refuse to
change a diagram while one is live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from portal.sandbox.collab.protocol import Protocol
from portal.sandbox.collab.protocol_0217 import Protocol0217
from portal.sandbox.collab.protocol_18 import Protocol18
from portal.sandbox.collab.session import Connection, Session
from portal.sandbox.collab.tickets import TicketBook
from portal.sandbox.state import SandboxState, SandboxUser

log = logging.getLogger(__name__)

TERMINATION_CLOSE_DELAY = 0.1  # TMI closes ~100 ms after the session_terminated error


class Hub:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.tickets = TicketBook(state)
        self.protocol: Protocol = Protocol0217(self) if state.config.is_legacy else Protocol18(self)
        state.on_reset(self.reset)
        # The first sweep comes one interval after the start, as in a new server; a reset starts it again.
        self._next_sweep = time.monotonic() + state.config.ws_cleanup_interval_seconds

    @classmethod
    def of(cls, state: SandboxState) -> Hub:
        if state.collab is None:
            state.collab = cls(state)
        return state.collab

    # -- sessions -----------------------------------------------------------------------
    def session_for(self, diagram_id: str) -> Session | None:
        return self.state.sessions.get(diagram_id)

    def sessions(self) -> list[Session]:
        return list(self.state.sessions.values())

    def create_session(self, tm_id: str, diagram_id: str, host: SandboxUser) -> Session:
        """A new session with `host` as host and presenter."""
        session = Session(tm_id, diagram_id, host, self.protocol.key_of(host), self.state.now())
        self.state.sessions[diagram_id] = session
        return session

    def attach(self, session: Session, conn: Connection) -> None:
        session.connections.append(conn)
        session.last_activity = self.state.now()
        self.protocol.join(session, conn)

    def socket_count(self, user: SandboxUser) -> int:
        return sum(1 for s in self.sessions() for c in s.connections if c.user.internal_uuid == user.internal_uuid)

    def remove(self, session: Session) -> None:
        session.terminating = True
        if self.state.sessions.get(session.diagram_id) is session:
            del self.state.sessions[session.diagram_id]

    def close(self, session: Session) -> None:
        """DELETE by the host, or cleanup: close frames with no status, no error message."""
        self.remove(session)
        for conn in session.connections:
            conn.close(None)

    def terminate(self, session: Session) -> None:
        """The host disconnected (PROTOCOL.md 7.10)."""
        self.remove(session)
        error = self.protocol.error(
            "session_terminated", "Collaboration session has been terminated: Host has disconnected"
        )
        for conn in session.connections:
            conn.send(error)
            conn.close(1000, "Session terminated: host disconnected", delay=TERMINATION_CLOSE_DELAY)

    def eject(self, session: Session, targets: list[Connection], error: dict[str, Any] | None) -> None:
        """Removed by the host: told (when `error`), then cut off at once. The real 1.8.22 queues its
        removed_from_session frame and closes the socket before writing it, so the frame never arrives
        (`error` None); the portal learns the removal when it tries to rejoin (access_denied)."""
        for conn in targets:
            session.connections.remove(conn)
            if error is not None:
                conn.send(error)
            conn.abort()

    def drop_sockets(self, diagram_id: str | None = None) -> int:
        """Fault injection: cut every live socket (of one diagram) without a close frame."""
        dropped = 0
        for session in self.sessions():
            if diagram_id in (None, session.diagram_id):
                for conn in session.connections:
                    if not conn.ending:
                        conn.abort(now=True)
                        dropped += 1
        return dropped

    def reset(self) -> None:
        """The sandbox is reset: every live socket is cut and no session or ticket is left."""
        self.drop_sockets()
        self.state.sessions.clear()
        self.tickets.clear()
        self._next_sweep = time.monotonic() + self.state.config.ws_cleanup_interval_seconds

    # -- REST views -----------------------------------------------------------------------
    def websocket_url(self, tm_id: str, diagram_id: str, session_id: str | None) -> str:
        base = self.state.config.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url = f"{base.rstrip('/')}/threat_models/{tm_id}/diagrams/{diagram_id}/ws"
        return f"{url}?session_id={session_id}" if session_id else url

    def session_view_base(self, session: Session) -> dict[str, Any]:
        tm = self.state.get_threat_model(session.threat_model_id) or {}
        diagram = self.state.get_diagram(session.threat_model_id, session.diagram_id) or {}
        return {
            "session_id": session.id,
            "threat_model_id": session.threat_model_id,
            "threat_model_name": tm.get("name", ""),
            "diagram_id": session.diagram_id,
            "diagram_name": diagram.get("name", ""),
            "participants": [
                {"user": c.user.principal(), "permissions": c.permissions, "last_activity": c.last_activity}
                for c in session.participants()
            ],
            "websocket_url": self.websocket_url(session.threat_model_id, session.diagram_id, session.id),
        }

    # -- cleanup (PROTOCOL.md 6.5) ------------------------------------------------------------
    def sweep(self) -> None:
        """Remove sessions with no clients, or idle past the inactivity timeout."""
        idle_limit = self.state.config.ws_inactivity_timeout_seconds
        for session in self.sessions():
            if not session.connections or self.state.now() - session.last_activity > idle_limit:
                self.close(session)

    async def cleanup_loop(self) -> None:
        while True:
            wait = self._next_sweep - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._next_sweep = time.monotonic() + self.state.config.ws_cleanup_interval_seconds
            try:
                self.sweep()
            except Exception:  # one bad session must not stop the loop
                log.exception("collaboration cleanup failed")
