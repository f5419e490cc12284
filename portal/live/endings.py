"""How a live session ended, in words: the `message` of the `ended` frame the browser receives.

The TMI client ends a session with a reason code only (portal/tmi/collab/endings.py); the portal says it
in the person's language here. A session that could not start ends with the reason for the kind of TMI's
failure (`failure_ending`), in the words accounts/tmi_failures.py has for that kind in a live session.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.accounts.tmi_failures import WORDS as FAILURE_WORDS
from portal.accounts.tmi_failures import Context, failure_kind
from portal.diagrams.text import clean_display_text
from portal.tmi import Failure
from portal.tmi.collab.endings import ended
from portal.tmi.errors import TMIStatusError

# A session that could not start, by kind of failure; every other kind: "tmi_unavailable".
_FAILURE_ENDINGS = {
    Failure.SIGN_IN: "sign_in_required",  # the vault's SignInRequired, or a 401 that survived the refresh
    Failure.FORBIDDEN: "no_access",  # the client reads 0.217's 401 for a missing permission as a 403
    Failure.NOT_FOUND: "not_found",
}

_LIVE = FAILURE_WORDS[Context.LIVE]
WORDS: dict[str, Promise] = {
    "host_left": _("The host left, so the live session has ended. You can start a new one from the diagram."),
    "removed": _("The host removed you from this live session."),
    "access_revoked": _("Your access to this threat model was withdrawn, so you were disconnected."),
    "no_access": _LIVE[Failure.FORBIDDEN],
    "session_closed": _("The host closed the live session."),
    "security_violation": _("TMI disconnected you because a message described another person inaccurately."),
    "not_found": _LIVE[Failure.NOT_FOUND],
    "connection_lost": _("The connection to TMI was lost and could not be restored."),
    # Before the session starts (the portal's bridge, not TMI, ends these).
    "sign_in_required": _LIVE[Failure.SIGN_IN],
    "tmi_unavailable": _LIVE[Failure.TRANSIENT],
    "tmi_refused": _("TMI refused to start the live session."),
    "too_many_errors": _("This page sent too many messages the portal could not accept, so it was disconnected."),
}


# Statuses that mean "busy or away", not "no": what TMI says with them is not the reason.
_PASSING_STATUSES = frozenset({408, 429, 502, 503, 504})
MAX_SAID = 300  # characters of TMI's own words quoted to the person
_REFUSED_SAYING = _("TMI refused to start the live session (status %(status)s). It said: “%(said)s”")


def start_failure_frame(error: BaseException) -> dict[str, Any]:
    """The `ended` frame for a live session that could not start. When TMI answered with a refusal that
    says why (a real 0.217.8 answers 500 "user ... is not authorized to access this threat model" for its
    own bug), the person reads what TMI said rather than "TMI could not be reached"."""
    reason = failure_ending(failure_kind(error))
    said = _tmi_said(error) if reason == "tmi_unavailable" else ""
    if not said:
        return ended_frame(reason)
    message = _REFUSED_SAYING % {"status": error.status_code, "said": said}  # type: ignore[union-attr]
    return {**ended("tmi_refused"), "message": str(message)}


def _tmi_said(error: BaseException) -> str:
    if not isinstance(error, TMIStatusError) or error.status_code in _PASSING_STATUSES:
        return ""
    said = clean_display_text(error.error_description or "").strip()  # TMI's text may quote user input
    return said if len(said) <= MAX_SAID else said[: MAX_SAID - 1] + "…"


def failure_ending(kind: Failure | None) -> str:
    """The `ended` reason for a live session that could not start because of a failure of this kind."""
    return _FAILURE_ENDINGS.get(kind, "tmi_unavailable")  # type: ignore[arg-type]


def with_words(frame: dict[str, Any]) -> dict[str, Any]:
    """An `ended` frame from the TMI client with its `message` for people; any other frame as it is."""
    if frame.get("type") != "ended":
        return frame
    return {**frame, "message": str(WORDS[frame["reason"]])}


def ended_frame(reason: str) -> dict[str, Any]:
    """The `ended` frame, in words."""
    return with_words(ended(reason))
