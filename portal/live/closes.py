"""How a live socket closes: the one table of close codes, used by the consumer, sent to the page's
script (portal/live/views.py puts it in the page's config) and documented in docs/live-protocol.md.

The portal closes only with 1000 or a code of its own in 4000-4999: RFC 6455 reserves the rest, and
autobahn (daphne's WebSocket layer) raises on any other code, which ended the application with 1011 and
skipped its cleanup. daphne itself may close with 1009 (a message over its size limit), 1011 (the
application failed) or 1001 (shutting down); the page is told what those mean too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from portal.live.endings import WORDS as ENDING_WORDS


@dataclass(frozen=True)
class Close:
    code: int
    reconnect: bool  # whether the page should open the socket again
    words: Any  # for people, translated when shown


# Closes the portal makes.
CLOSES: dict[str, Close] = {
    # After `ended` (its `message` says why): nothing to reconnect to.
    "ended": Close(1000, False, _("The live session has ended.")),
    # Too many refused frames: a page with a bug would only repeat them.
    "policy": Close(
        4008,
        False,
        _(
            "This page sent too many messages the portal could not accept, so it was "
            "disconnected. Reload the page to join again."
        ),
    ),
    "sign_in_required": Close(4401, False, ENDING_WORDS["sign_in_required"]),
    # Not signed in, not a member, another organisation: refused before the socket opens (a browser sees
    # a failed handshake, not this code) and the page asks the server whether it may still see it.
    "not_found": Close(4404, True, _("You cannot open this live diagram.")),
    # A fault in the portal while relaying: the bridge has left TMI; a new socket starts afresh.
    "internal_error": Close(
        4500, True, _("The portal hit an unexpected problem with this live session. Reconnecting…")
    ),
    "tmi_unavailable": Close(4503, False, ENDING_WORDS["tmi_unavailable"]),
}

# Closes daphne makes on its own (the portal's consumer has cleaned up by the time the page sees them).
SERVER_CLOSES: dict[str, Close] = {
    "going_away": Close(1001, True, _("The portal is restarting. Reconnecting…")),
    # daphne's --websocket-max-message-size (1 MiB by default); anything over frames.MAX_FRAME_BYTES
    # and under it is refused with an `error` frame instead, and the socket stays open.
    "too_large": Close(1009, True, _("That change was too large to send, so it was not saved. Reconnecting…")),
    "server_error": Close(1011, True, _("The portal hit an unexpected problem with this live session. Reconnecting…")),
}

# `ended` reasons whose close says more than 1000 does; every other reason closes with "ended".
_AFTER_ENDING = {
    "too_many_errors": "policy",
    "sign_in_required": "sign_in_required",
    "tmi_unavailable": "tmi_unavailable",
    "tmi_refused": "tmi_unavailable",  # no reconnect either: TMI said no
}


def close_after_ending(reason: str | None) -> int:
    """The close code that follows an `ended` frame with `reason`."""
    return CLOSES[_AFTER_ENDING.get(reason or "", "ended")].code


def closes_for_page() -> dict[int, dict[str, Any]]:
    """Every close code the page may see: whether to reconnect, and what to tell the person."""
    return {
        close.code: {"reconnect": close.reconnect, "message": str(close.words)}
        for close in (*CLOSES.values(), *SERVER_CLOSES.values())
    }
