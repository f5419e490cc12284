"""1.8's WebSocket tickets (PROTOCOL.md 6.3): opaque, single use, short-lived, bound to user and session."""

from __future__ import annotations

from dataclasses import dataclass

from portal.sandbox.state import SandboxState, SandboxUser


@dataclass
class Ticket:
    user_uuid: str
    session_id: str
    expires_at: float


class TicketBook:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._tickets: dict[str, Ticket] = {}

    def issue(self, user: SandboxUser, session_id: str) -> str:
        ticket = self.state.new_opaque_token(32)  # 43 base64url characters
        self._tickets[ticket] = Ticket(
            user.internal_uuid, session_id, self.state.now() + self.state.config.ws_ticket_seconds
        )
        return ticket

    def clear(self) -> None:
        self._tickets.clear()

    def redeem(self, ticket: str) -> Ticket | None:
        """Deleted at the first look, even if the connection then fails another check."""
        record = self._tickets.pop(ticket, None)
        if record is None or record.expires_at <= self.state.now():
            return None
        return record
