"""How a live session ends, in words for people, and which upstream closes are worth a reconnect.

TMI ends a socket for cause with an `error` frame and then a close (PROTOCOL.md 7.6, 7.10, 7.11, 9.5);
the error frame may be lost in the race, so the close code is read as well.
"""

from __future__ import annotations

from typing import Any

WORDS: dict[str, str] = {
    "host_left": "The host left, so the live session has ended. You can start a new one from the diagram.",
    "removed": "The host removed you from this live session.",
    "access_revoked": "Your access to this threat model was withdrawn, so you were disconnected.",
    "no_access": "You do not have access to collaborate on this diagram.",
    "session_closed": "The host closed the live session.",
    "security_violation": "TMI disconnected you because a message described another person inaccurately.",
    "not_found": "This diagram no longer exists, or you can no longer see it.",
    "connection_lost": "The connection to TMI was lost and could not be restored.",
    # Before the session starts (the portal's bridge, not TMI, ends these).
    "sign_in_required": "Your sign-in at TMI has expired. Sign in again to join the live session.",
    "tmi_unavailable": "TMI could not be reached, so the live session could not start. Try again in a moment.",
    "too_many_errors": "This page sent too many messages the portal could not accept, so it was disconnected.",
}

# TMI error codes that announce the end of this socket (the close follows).
TERMINAL_ERRORS = {
    "session_terminated": "host_left",
    "removed_from_session": "removed",
    "access_denied": "removed",  # on the deny-list: rejoining is refused
    "SECURITY_VIOLATION": "security_violation",
}

# A close with no status: the host's DELETE, the cleanup timer, or a removal (PROTOCOL.md 6.2, 6.5).
MAYBE_CLOSED = "maybe_closed"
RECONNECT = "reconnect"


def ended(reason: str) -> dict[str, Any]:
    return {"type": "ended", "reason": reason, "message": WORDS[reason]}


def classify_close(code: int | None, reason: str, announced: str | None) -> str:
    """An ending reason (a key of WORDS), MAYBE_CLOSED, or RECONNECT, for an upstream socket that closed
    with `code`/`reason` after TMI `announced` an ending (or None)."""
    if announced:
        return announced
    if code == 4403:
        return "access_revoked"
    if code == 1000:
        if "mismatch" in reason.lower():
            # The session we were given ended before the socket arrived and another took its place:
            # starting or joining again finds the live one.
            return RECONNECT
        if "terminated" in reason.lower():
            return "host_left"
        return "session_closed"
    if code == 1005:
        return MAYBE_CLOSED
    return RECONNECT  # 1006 abnormal, 1001 going away (a TMI restart), 1011, network errors, 4401
