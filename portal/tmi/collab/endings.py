"""How a live session ends (a reason code; the words are the portal's), and which upstream closes are worth
a reconnect.

TMI ends a socket for cause with an `error` frame and then a close (PROTOCOL.md 7.6, 7.10, 7.11, 9.5);
the error frame may be lost in the race, so the close code is read as well.
"""

from __future__ import annotations

from typing import Any

# Why a live session ended: the `reason` of the `ended` frame. Codes only: the portal says them in words
# (portal/live/endings.py), in the person's language.
REASONS: frozenset[str] = frozenset(
    {
        "host_left",
        "removed",
        "access_revoked",
        "no_access",
        "session_closed",
        "security_violation",
        "not_found",
        "connection_lost",
        # Before the session starts (the portal's bridge, not TMI, ends these).
        "sign_in_required",
        "tmi_unavailable",
        "tmi_refused",
        "too_many_errors",
    }
)

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
    """The `ended` frame; the portal adds the `message` for people before the browser sees it."""
    if reason not in REASONS:
        raise ValueError(f"not an ending reason: {reason!r}")
    return {"type": "ended", "reason": reason}


def classify_close(code: int | None, reason: str, announced: str | None) -> str:
    """An ending reason (one of REASONS), MAYBE_CLOSED, or RECONNECT, for an upstream socket that closed
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
