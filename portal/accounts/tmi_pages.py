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
from django.utils.translation import gettext as _

from portal.accounts.deadlines import tmi_deadline
from portal.accounts.vault import SignInRequired
from portal.tmi import AddressNotAllowed, Forbidden, NotFound, RateLimited, TMIError, TMIStatusError, Unauthorized

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
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def tmi_page(view):
    """Wrap an async view taking `(request, slug, ...)`, inside `organization_view`."""

    @functools.wraps(view)
    async def wrapper(request, slug: str, *args, **kwargs):
        try:
            with tmi_deadline(settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS):
                return await view(request, slug, *args, **kwargs)
        except SignInRequired:
            return sign_in_again(
                request, slug, _("Please sign in to TMI again to see this organisation's threat models.")
            )
        except Unauthorized:  # includes RefreshFailed: the client already refreshed and retried once
            return sign_in_again(request, slug, _("TMI did not accept your sign-in any more. Please sign in again."))
        except Forbidden:
            return await _page(
                request,
                "403.html",
                403,
                reason=_("You don't have access to this threat model in TMI. Ask its owner to share it with you."),
            )
        except NotFound:
            return await _page(
                request,
                "404.html",
                404,
                reason=_(
                    "TMI has no threat model at this address, or it has been deleted. Ask its owner for a current link."
                ),
            )
        except AddressNotAllowed:  # the operator does not allow this TMI address (organizations/tmi_servers.py)
            return await _page(request, "dashboard/tmi_not_allowed.html", 503)
        except TMIError as exc:  # APIConnectionError, APITimeoutError, MalformedResponse, 5xx, 429, ...
            return await tmi_trouble_page(request, exc)

    return wrapper
