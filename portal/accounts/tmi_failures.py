"""What people are told when TMI fails, per kind of failure (portal.tmi.failures) and per place they meet it.

    words = failure_words(error, Context.EXPORT)      # translated now; "%(status)s" and the like filled in

The TMI client only classifies (transient, sign-in needed, forbidden, not found, unsupported, malformed,
not allowed, refused); the sentences live here, translatable, one table per context. Where one cause
within a kind deserves a sentence of its own (who must act differs: a refused client secret is an
admin's job, a member's expired sign-in is the member's), it is listed under CAUSES, most specific first.
What a place does about a kind (redirect, re-queue, end the live session) stays with that place; whether
to try again is the client's decision (portal.tmi.retry), derived from the same kinds.

accounts is the lowest layer that pages, exports, live and tenant_admin all import, so this is its home.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.accounts.vault import SignInRequired
from portal.organizations.tmi_servers import NOT_ALLOWED_MESSAGE
from portal.tmi import BadRequest, ClientCredentialsRefused, Failure, NotSupported, RateLimited, failure_of


class Context(enum.Enum):
    PAGE = "page"  # a dashboard page (accounts/tmi_pages.py)
    SIGN_IN = "sign_in"  # signing in through TMI (accounts/errors.py)
    EXPORT = "export"  # an export job's reason, on its page and in emails (exports/running.py)
    CONNECTION_CHECK = "connection_check"  # the admin's "Test connection" (tenant_admin/connection.py)
    CREDENTIALS_CHECK = "credentials_check"  # the admin's check of the stored client credentials
    LIVE = "live"  # a live session that could not start (live/bridge.py)


def failure_kind(error: BaseException) -> Failure | None:
    """The client's classification, plus the portal's own "no usable tokens" (vault.SignInRequired)."""
    if isinstance(error, SignInRequired):
        return Failure.SIGN_IN
    return failure_of(error)


_NOT_TMI = _("Something answered (status %(status)s), but it does not look like a TMI server.")
_SERVER_ERROR = _("The TMI server answered with an error (status %(status)s). It may be having trouble.")
_NOT_CHECKED = _("The client credentials could not be checked (%(reason)s).")
_LIVE_UNAVAILABLE = _("TMI could not be reached, so the live session could not start. Try again in a moment.")

WORDS: dict[Context, dict[Failure, Promise]] = {
    Context.PAGE: {
        Failure.TRANSIENT: _(
            "The threat models live in TMI, and TMI did not answer in time or answered with an error. Nothing is lost."
        ),
        Failure.SIGN_IN: _("TMI did not accept your sign-in any more. Please sign in again."),
        Failure.FORBIDDEN: _("You don't have access to this threat model in TMI. Ask its owner to share it with you."),
        Failure.NOT_FOUND: _(
            "TMI has no threat model at this address, or it has been deleted. Ask its owner for a current link."
        ),
        Failure.UNSUPPORTED: _(
            "The threat models live in TMI, and this TMI server does not offer what this page needs. Nothing is lost."
        ),
        Failure.MALFORMED: _(
            "The threat models live in TMI, and TMI sent an answer the portal could not understand. Nothing is lost."
        ),
        Failure.NOT_ALLOWED: _(
            "The TMI server address this organisation uses is not one this portal may connect to, so nothing was "
            "asked of it. The organisation's owner can change the address in the admin area, or the people who run "
            "this portal can allow it."
        ),
        Failure.REFUSED: _(
            "The threat models live in TMI, and TMI refused the portal's request (status %(status)s). Nothing is lost."
        ),
    },
    Context.SIGN_IN: {
        Failure.TRANSIENT: _(
            "The organisation's TMI server is not answering right now. Please try again in a few minutes."
        ),
        Failure.SIGN_IN: _(
            "The organisation's TMI server refused the sign-in. Please try again, or tell your administrator."
        ),
        Failure.FORBIDDEN: _(
            "The organisation's TMI server refused the sign-in. Please try again, or tell your administrator."
        ),
        Failure.NOT_FOUND: _(
            "The organisation's TMI server refused the sign-in. Please try again, or tell your administrator."
        ),
        Failure.UNSUPPORTED: _(
            "The organisation's TMI server does not offer this way of signing in. Please tell your administrator."
        ),
        Failure.MALFORMED: _(
            "The organisation's TMI server sent an answer the portal could not understand. "
            "Please try again later, or tell your administrator."
        ),
        Failure.NOT_ALLOWED: _(
            "The organisation's TMI server address is not allowed here, so the sign-in could not go on. "
            "Please tell your administrator."
        ),
        Failure.REFUSED: _(
            "The organisation's TMI server refused the sign-in. Please try again, or tell your administrator."
        ),
    },
    Context.EXPORT: {
        Failure.TRANSIENT: _("TMI could not be reached or kept failing; try again later."),
        Failure.SIGN_IN: _("TMI did not accept the sign-in; sign in to the portal again."),
        Failure.FORBIDDEN: _("You no longer have access to this in TMI."),
        Failure.NOT_FOUND: _("TMI no longer has this threat model (it may have been deleted)."),
        Failure.UNSUPPORTED: _("The organisation's TMI server does not offer what this export needs; tell an admin."),
        Failure.MALFORMED: _("TMI sent an answer the portal could not understand; try again later, or tell an admin."),
        Failure.NOT_ALLOWED: _(
            "The organisation's TMI server address is not allowed here; an owner must change it, or the people "
            "who run the portal must allow it."
        ),
        Failure.REFUSED: _("TMI refused the request (status %(status)s)."),
    },
    Context.CONNECTION_CHECK: {
        Failure.TRANSIENT: _SERVER_ERROR,
        Failure.SIGN_IN: _SERVER_ERROR,
        Failure.FORBIDDEN: _SERVER_ERROR,
        Failure.NOT_FOUND: _NOT_TMI,
        Failure.UNSUPPORTED: _NOT_TMI,
        Failure.MALFORMED: _("Something answered, but it does not look like a TMI server."),
        Failure.NOT_ALLOWED: NOT_ALLOWED_MESSAGE,
        Failure.REFUSED: _SERVER_ERROR,
    },
    Context.CREDENTIALS_CHECK: {
        Failure.TRANSIENT: _NOT_CHECKED,
        Failure.SIGN_IN: _(
            "TMI refused the stored client credentials; replace them with a working client id and secret."
        ),
        Failure.FORBIDDEN: _NOT_CHECKED,
        Failure.NOT_FOUND: _NOT_CHECKED,
        Failure.UNSUPPORTED: _(
            "This TMI server does not support client credentials; scheduled exports must run as their owners."
        ),
        Failure.MALFORMED: _NOT_CHECKED,
        Failure.NOT_ALLOWED: NOT_ALLOWED_MESSAGE,
        Failure.REFUSED: _NOT_CHECKED,
    },
    Context.LIVE: {
        Failure.TRANSIENT: _LIVE_UNAVAILABLE,
        Failure.SIGN_IN: _("Your sign-in at TMI has expired. Sign in again to join the live session."),
        Failure.FORBIDDEN: _("You do not have access to collaborate on this diagram."),
        Failure.NOT_FOUND: _("This diagram no longer exists, or you can no longer see it."),
        Failure.UNSUPPORTED: _LIVE_UNAVAILABLE,
        Failure.MALFORMED: _LIVE_UNAVAILABLE,
        Failure.NOT_ALLOWED: _LIVE_UNAVAILABLE,
        Failure.REFUSED: _LIVE_UNAVAILABLE,
    },
}

# One cause within a kind with a sentence of its own: (error class, words), the first match wins.
CAUSES: dict[Context, tuple[tuple[type[BaseException], Promise], ...]] = {
    Context.PAGE: (
        (SignInRequired, _("Please sign in to TMI again to see this organisation's threat models.")),
        (
            RateLimited,
            _(
                "TMI is receiving more requests than it will answer right now and asked the portal to wait. "
                "Nothing is lost."
            ),
        ),
    ),
    Context.CONNECTION_CHECK: (
        (
            RateLimited,  # 0.217 allows GET / 10 times a minute per address
            _(
                "TMI answered, but is limiting how often it answers the portal right now (status 429). Try again "
                "in a minute; nothing is wrong with the address."
            ),
        ),
    ),
    Context.SIGN_IN: (
        (
            BadRequest,  # the code exchange's invalid_grant
            _("TMI did not accept the sign-in (the link was already used or has expired). Please sign in again."),
        ),
    ),
    Context.EXPORT: (
        (ClientCredentialsRefused, _("TMI refused the organisation's client credentials; an admin must replace them.")),
        (SignInRequired, _("The person this export runs as must sign in to the portal again; then run it again.")),
        (RateLimited, _("TMI kept asking the portal to slow down; try again later.")),
        (
            NotSupported,  # the one operation an export may need that a generation lacks
            _(
                "The organisation's TMI server does not support client credentials; switch the schedule to run "
                "as its owner."
            ),
        ),
    ),
}


def signin_rate_limited_words(error: RateLimited) -> str:
    """TMI refusing a sign-in step for its rate limits (0.217: 100 auth calls a minute per address, 10 sign-ins
    an hour per login hint; 1.8: 100 a minute per address): not "not answering", and how long to wait, in
    whole minutes rounded up from its Retry-After."""
    seconds = error.retry_after
    if seconds is None:
        return str(_("TMI is limiting sign-ins right now. Please try again in a few minutes."))
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "TMI is limiting sign-ins right now. Please try again in %(minutes)d minute.",
        "TMI is limiting sign-ins right now. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def failure_words(error: BaseException | Failure, context: Context, **values: object) -> str:
    """The sentence for `error` (or a bare kind) in `context`, translated into the active language.
    Placeholders: %(status)s (the HTTP status, "unknown" without one) and %(reason)s (the error's class name,
    or the kind's name), plus `values`."""
    if context is Context.SIGN_IN and isinstance(error, RateLimited):  # a cause whose words count minutes
        return signin_rate_limited_words(error)
    if isinstance(error, Failure):
        kind, words = error, None
    else:
        kind = failure_kind(error)
        if kind is None:
            raise TypeError(f"not a TMI failure: {type(error).__name__}")
        words = next((w for cls, w in CAUSES.get(context, ()) if isinstance(error, cls)), None)
    text = str(words if words is not None else WORDS[context][kind])
    filling: Mapping[str, object] = {
        "status": getattr(error, "status_code", None) or _("unknown"),
        "reason": kind.name.lower() if isinstance(error, Failure) else type(error).__name__,
        **values,
    }
    return text % filling if "%(" in text else text
