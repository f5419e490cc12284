"""Starting a sign-in, and the one wrapper around its completion (the TMI callback).

The wrapper turns every failure a person or TMI can cause (denied consent, a stale, forged or
other browser's state, a lost verifier, a used code, TMI down or talking nonsense) into a
redirect to the organisation's sign-in page with a message; a person the organisation does not
admit gets the 403 "not a member" page. Nothing of the sort ends as a 500.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as django_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from social_core.actions import do_complete
from social_django.utils import load_backend, load_strategy

from portal.accounts.backend import SIGNIN_RESUME_ATTRIBUTE, SIGNIN_SESSION_KEY, TMIOAuth2
from portal.accounts.errors import SESSION_LOST, SIGNIN_FAILURES, NotAMember, SignInError, signin_error_message
from portal.accounts.linking import LINK_FIELD
from portal.accounts.moving import RETURN_FIELD
from portal.accounts.redirects import signin_url
from portal.accounts.signin_waiting import SignInBusy, signin_waiting_get, signin_waiting_seconds_left
from portal.organizations.allowances import allowance_take
from portal.organizations.models import Organization

logger = logging.getLogger(__name__)

BACKEND_PATH = f"{TMIOAuth2.__module__}.{TMIOAuth2.__name__}"
REDIRECT_FIELD = "next"


def signin_start_allowed(request: HttpRequest) -> bool:
    """Count one sign-in start against this minute's budgets: per browser session and per client address
    (REMOTE_ADDR, as the audit log; a session thrown away does not reset that one). Each start asks TMI
    and stores an OAuth state, so a script must not make thousands. Counts live in Django's cache."""
    if request.session.session_key is None:
        request.session.save()  # a key to count by, for a browser that has no session yet
    return allowance_take(
        {
            f"signin-starts:session:{request.session.session_key}": settings.PORTAL_SIGNIN_STARTS_PER_MINUTE,
            f"signin-starts:address:{request.META.get('REMOTE_ADDR') or '-'}": (
                settings.PORTAL_SIGNIN_STARTS_PER_MINUTE_PER_ADDRESS
            ),
        }
    )


def signin_begin(
    request: HttpRequest, *, organization: Organization, failure_url: str, throttled: dict, **start
) -> HttpResponse:
    """A page's sign-in form was sent: the start budget first (429 with `throttled` as the page's context),
    then `signin_start`; a failure goes back to `failure_url` with its words."""
    if not signin_start_allowed(request):
        response = render(request, "accounts/signin_throttled.html", throttled, status=429)
        response["Retry-After"] = "60"
        return response
    try:
        return signin_start(request, organization=organization, **start)
    except SIGNIN_FAILURES as error:
        messages.error(request, signin_error_message(error))
        return HttpResponseRedirect(failure_url)


def signin_start(
    request: HttpRequest,
    *,
    organization: Organization,
    provider_id: str,
    login_hint: str,
    next_url: str,
    link_user_id: int | None = None,
    extra: dict | None = None,
) -> HttpResponse:
    """Remember the attempt in the session and send the browser to TMI's authorize URL.
    `link_user_id`: the signed-in user who asked to link this TMI account (linking.py).
    `extra`: an owner's move or a member's re-link (moving.py: MOVE_FIELD, RELINK_FIELD, RETURN_FIELD).
    Raises one of SIGNIN_FAILURES when TMI cannot be asked."""
    request.session[SIGNIN_SESSION_KEY] = {
        **(extra or {}),
        "organization": organization.slug,
        "provider": provider_id,
        "login_hint": login_hint,
        LINK_FIELD: link_user_id,
    }
    request.session[REDIRECT_FIELD] = next_url
    backend = load_backend(
        load_strategy(request), TMIOAuth2.name, redirect_uri=reverse("social:complete", args=(TMIOAuth2.name,))
    )
    return backend.start()


def _login(backend, user, social_user) -> None:
    user.backend = BACKEND_PATH
    django_login(backend.strategy.request, user)


def _attempt_organization(request: HttpRequest) -> Organization | None:
    """The organisation of the attempt this callback belongs to: its state's, else the latest."""
    state = request.GET.get("state")
    transaction = request.session.get(f"{TMIOAuth2.name}_oauth2_state_{state}") if state else None
    slug = transaction.get("organization") if isinstance(transaction, dict) else None
    if not slug:
        attempt = request.session.get(SIGNIN_SESSION_KEY)
        slug = attempt.get("organization") if isinstance(attempt, dict) else None
    return Organization.objects.filter(slug=slug).first() if slug else None


def _attempt_return_to(request: HttpRequest) -> str:
    """Where a failed move or re-link goes back to (moving.RETURN_FIELD, a path the portal set), if any."""
    state = request.GET.get("state")
    transaction = request.session.get(f"{TMIOAuth2.name}_oauth2_state_{state}") if state else None
    path = transaction.get(RETURN_FIELD) if isinstance(transaction, dict) else None
    return path if isinstance(path, str) and path.startswith("/") and not path.startswith("//") else ""


def _waiting_organization(waiting: dict | None) -> Organization | None:
    transaction = waiting.get("transaction") if waiting else None
    slug = transaction.get("organization") if isinstance(transaction, dict) else None
    return Organization.objects.filter(slug=slug).first() if slug else None


def signin_busy_page(request: HttpRequest, seconds: int) -> HttpResponse:
    """The "TMI is busy" page: it waits `seconds` and then continues the sign-in by itself (a meta refresh to
    the continue address; no script). Not an error: nothing the person did, nothing lost."""
    response = render(
        request,
        "accounts/signin_busy.html",
        {"wait_seconds": max(1, seconds), "continue_url": reverse("social:continue", args=(TMIOAuth2.name,))},
    )
    response["Retry-After"] = str(max(1, seconds))
    return response


def signin_continue(request: HttpRequest) -> HttpResponse:
    """The busy page's continuation: exchange the kept code once its wait is over (signin_waiting.py)."""
    waiting = signin_waiting_get(request.session)
    if waiting is None:
        messages.error(request, SESSION_LOST)
        return HttpResponseRedirect("/")
    left = signin_waiting_seconds_left(waiting)
    if left > 0:  # early (a "Continue now" click): TMI would refuse again, so it is not asked
        return signin_busy_page(request, left)
    setattr(request, SIGNIN_RESUME_ATTRIBUTE, True)
    return signin_complete(request, organization=_waiting_organization(waiting))


def signin_complete(request: HttpRequest, *, organization: Organization | None = None) -> HttpResponse:
    """Run social-auth's completion for backend "tmi" (request.backend, set by @psa)."""
    organization = organization or _attempt_organization(request)
    return_to = _attempt_return_to(request)
    try:
        response = do_complete(
            request.backend, _login, user=None, redirect_name=REDIRECT_FIELD, request=request, current_user=request.user
        )
    except SignInBusy as busy:
        logger.info("sign-in waits %s s: TMI rate-limited the code exchange", busy.retry_after)
        return signin_busy_page(request, busy.retry_after)
    except NotAMember as refusal:
        logger.info("sign-in refused: not a member of organisation %s", organization and organization.slug)
        return render(
            request,
            "accounts/not_member.html",
            {"organization": organization, "email": refusal.email, "invitation_email": refusal.invitation_email},
            status=403,
        )
    except SIGNIN_FAILURES as error:
        # The class name only: TMI's error bodies and URLs stay out of the logs.
        logger.info("sign-in failed for organisation %s: %s", organization and organization.slug, type(error).__name__)
        if organization is None or (isinstance(error, SignInError) and error.message == SESSION_LOST):
            messages.error(request, SESSION_LOST)
            return HttpResponseRedirect("/")
        messages.error(request, signin_error_message(error))
        return HttpResponseRedirect(return_to or signin_url(organization))
    return response
