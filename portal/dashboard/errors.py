"""The one place where trouble with TMI becomes a page: a view wrapped by `tmi_page` never answers 500
because of TMI.

- the member has no usable tokens (never signed in here, or TMI refused the refresh), or TMI still says
  401 after the client's one refresh and retry -> back to the organisation's sign-in page, with a message;
- TMI refuses or does not know the threat model -> a 403 / 404 page in words;
- TMI unreachable, slow, failing (5xx, 429) or answering nonsense -> a 503 page with a "try again" link.
"""
from __future__ import annotations

import functools
import logging
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.accounts.vault import SignInRequired
from portal.tmi import Forbidden, NotFound, TMIError, Unauthorized

logger = logging.getLogger(__name__)


def sign_in_again(request, slug: str, message: str) -> HttpResponseRedirect:
    messages.warning(request, message)
    url = reverse("accounts:login", kwargs={"slug": slug})
    return HttpResponseRedirect(f"{url}?{urlencode({'next': request.get_full_path()})}")


async def arender(request, template: str, context: dict, *, status: int = 200):
    """Render in a worker thread: templates read the session and request.user, which are synchronous."""
    return await sync_to_async(render)(request, template, context, status=status)


async def _page(request, template: str, status: int, **context):
    return await arender(request, template, {"organization": getattr(request, "organization", None), **context},
                         status=status)


def tmi_page(view):
    """Wrap an async view taking `(request, slug, ...)`, inside `organization_view`."""

    @functools.wraps(view)
    async def wrapper(request, slug: str, *args, **kwargs):
        try:
            return await view(request, slug, *args, **kwargs)
        except SignInRequired:
            return sign_in_again(request, slug, _("Please sign in to TMI again to see this organisation's "
                                                  "threat models."))
        except Unauthorized:  # includes RefreshFailed: the client already refreshed and retried once
            return sign_in_again(request, slug, _("TMI did not accept your sign-in any more. Please sign in "
                                                  "again."))
        except Forbidden:
            return await _page(request, "403.html", 403, reason=_(
                "You don't have access to this threat model in TMI. Ask its owner to share it with you."))
        except NotFound:
            return await _page(request, "404.html", 404, reason=_(
                "TMI has no threat model at this address, or it has been deleted. Ask its owner for a current "
                "link."))
        except TMIError as exc:  # APIConnectionError, APITimeoutError, MalformedResponse, 5xx, 429, ...
            # Only the class is logged: nothing from the request (its Authorization header) or TMI's body.
            logger.warning("TMI trouble on %s: %s", request.path, exc.__class__.__name__)
            return await _page(request, "dashboard/tmi_unavailable.html", 503, retry_url=request.get_full_path())

    return wrapper
