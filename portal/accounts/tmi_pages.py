"""The one place where trouble with TMI becomes a page: a view wrapped by `tmi_page` never answers 500
because of TMI.

- the member has no usable tokens (never signed in here, or TMI refused the refresh), or TMI still says
  401 after the client's one refresh and retry -> back to the organisation's sign-in page, with a message;
- TMI refuses or does not know the threat model -> a 403 / 404 page in words;
- TMI rate-limits the member (429) -> a 503 page "TMI is busy, try again in N seconds", with Retry-After;
- TMI unreachable, slow, failing (5xx) or answering nonsense -> a 503 page "TMI is not answering", with
  Retry-After when TMI sent one.

The whole view waits on TMI for PORTAL_TMI_PAGE_DEADLINE_SECONDS in all (accounts/deadlines.py): no
retry after a timeout, no Retry-After waited for beyond it. A page answers in about that time or less.
Which failures the client retried before giving up follows from their kind (portal/tmi/retry.py); what
the page then does follows from the same kind (`_RESPONSES`), and its words from accounts/tmi_failures.py.
"""

from __future__ import annotations

import functools
import logging
import math
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from portal.accounts.deadlines import tmi_deadline
from portal.accounts.tmi_failures import Context, failure_kind, failure_words
from portal.accounts.vault import SignInRequired
from portal.tmi import Failure, RateLimited, TMIError, TMIStatusError

logger = logging.getLogger(__name__)


def sign_in_again(request, slug: str, message: str) -> HttpResponseRedirect:
    messages.warning(request, message)
    url = reverse("accounts:login", kwargs={"slug": slug})
    return HttpResponseRedirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


async def arender(request, template: str, context: dict, *, status: int = 200):
    """Render in a worker thread: templates read the session and request.user, which are synchronous."""
    return await sync_to_async(render)(request, template, context, status=status)


async def _page(request, template: str, status: int, **context):
    return await arender(
        request, template, {"organization": getattr(request, "organization", None), **context}, status=status
    )


def _retry_after_seconds(error: TMIError) -> int | None:
    """Whole seconds TMI asked to wait (429, 503), if it said."""
    seconds = error.retry_after if isinstance(error, TMIStatusError) else None
    return None if seconds is None else max(1, math.ceil(seconds))


async def tmi_trouble_page(request, error: TMIError):
    """503, in words: "busy" when TMI rate-limits, "not answering" for everything else; Retry-After passed on."""
    # Only the class is logged: nothing from the request (its Authorization header) or TMI's body.
    logger.warning("TMI trouble on %s: %s", request.path, error.__class__.__name__)
    retry_after = _retry_after_seconds(error)
    response = await _page(
        request,
        "dashboard/tmi_unavailable.html",
        503,
        retry_url=request.get_full_path(),
        busy=isinstance(error, RateLimited),
        retry_after=retry_after,
        reason=failure_words(error, Context.PAGE),
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


async def _sign_in_page(request, slug: str, error: BaseException):
    return sign_in_again(request, slug, failure_words(error, Context.PAGE))


async def _forbidden_page(request, slug: str, error: BaseException):
    return await _page(request, "403.html", 403, reason=failure_words(error, Context.PAGE))


async def _not_found_page(request, slug: str, error: BaseException):
    return await _page(request, "404.html", 404, reason=failure_words(error, Context.PAGE))


async def _not_allowed_page(request, slug: str, error: BaseException):
    # The operator does not allow this TMI address (organizations/tmi_servers.py).
    return await _page(request, "dashboard/tmi_not_allowed.html", 503, reason=failure_words(error, Context.PAGE))


async def _trouble_page(request, slug: str, error: BaseException):
    return await tmi_trouble_page(request, error)


# What a page does for each kind of failure. SIGN_IN includes a refused refresh token: the client has
# already refreshed and retried once. TRANSIENT, MALFORMED, UNSUPPORTED and REFUSED are all "TMI trouble".
_RESPONSES = {
    Failure.SIGN_IN: _sign_in_page,
    Failure.FORBIDDEN: _forbidden_page,
    Failure.NOT_FOUND: _not_found_page,
    Failure.NOT_ALLOWED: _not_allowed_page,
    Failure.TRANSIENT: _trouble_page,
    Failure.MALFORMED: _trouble_page,
    Failure.UNSUPPORTED: _trouble_page,
    Failure.REFUSED: _trouble_page,
}


def tmi_page(view):
    """Wrap an async view taking `(request, slug, ...)`, inside `organization_view`."""

    @functools.wraps(view)
    async def wrapper(request, slug: str, *args, **kwargs):
        try:
            with tmi_deadline(settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS):
                return await view(request, slug, *args, **kwargs)
        except (SignInRequired, TMIError) as exc:
            return await _RESPONSES[failure_kind(exc)](request, slug, exc)

    return wrapper
