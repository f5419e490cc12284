"""Sign-in, sign-out and invitation pages. Thin: parse, call a selector or service, render."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout as django_logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from social_django.utils import psa

from portal.accounts.deadlines import tmi_deadline
from portal.accounts.errors import RELINK_OTHER_PERSON, RELINK_PROBLEMS
from portal.accounts.forms import SignInForm
from portal.accounts.linking import identity_link_refusal
from portal.accounts.moving import RELINK_FIELD
from portal.accounts.pipeline import INVITATION_SESSION_KEY
from portal.accounts.redirects import portfolio_url, safe_next_url, signin_url
from portal.accounts.selectors import invitation_by_token_get, relink_by_token_get, signin_options_get
from portal.accounts.signin import signin_begin, signin_complete, signin_continue
from portal.accounts.signout import tmi_connection_end
from portal.organizations.access import OrganizationNotFound, organization_public_get
from portal.organizations.models import Organization, Role
from portal.organizations.services import invitation_is_pending, membership_relink_problem
from portal.security_headers import sign_in_page_policy
from portal.tmi import Failure, TMIError, failure_of

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _organization_or_404(slug: str) -> Organization:
    try:
        return organization_public_get(slug=slug)
    except OrganizationNotFound:
        raise Http404("No such organisation") from None


def _branding(organization: Organization) -> dict:
    colour = organization.brand_colour if _HEX_COLOUR.match(organization.brand_colour or "") else "#1f6feb"
    return {"organization": organization, "brand_colour": colour}


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization_or_404(slug)
    context = _branding(organization)
    try:
        with tmi_deadline(settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS):  # a page: TMI gets one deadline in all
            options = signin_options_get(organization=organization)
    except TMIError as error:
        # Not allowed: the operator does not allow this TMI address (organizations/tmi_servers.py); any
        # other kind of failure (accounts/tmi_failures.py): TMI cannot offer its providers just now.
        state = "tmi_not_allowed" if failure_of(error) is Failure.NOT_ALLOWED else "tmi_down"
        return render(request, "accounts/login.html", {**context, state: True}, status=503)
    form = SignInForm(request.POST or None, options=options)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        refusal = identity_link_refusal(request.user) if data["link"] else None
        if refusal is not None:  # nothing is asked of TMI, nothing is remembered
            messages.error(request, refusal)
            return HttpResponseRedirect(signin_url(organization))
        return signin_begin(
            request,
            organization=organization,
            failure_url=signin_url(organization),
            throttled=context,
            provider_id=data["provider"],
            login_hint=data["login_hint"],
            next_url=safe_next_url(request, organization, data["next"]),
            link_user_id=request.user.pk if data["link"] else None,
        )
    next_value = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    page = render(
        request,
        "accounts/login.html",
        {
            **context,
            "tmi_down": False,
            "options": options,
            "form": form,
            "next": next_value or "",
            "failed_provider": form.data.get("provider") if form.is_bound else None,
            **_signed_in_context(request),
        },
        status=400 if form.is_bound else 200,
    )
    return sign_in_page_policy(page, image_urls=[provider.icon_url for provider in options.providers])


def _signed_in_context(request: HttpRequest) -> dict:
    """Who this browser is signed in as, and whether they may link a TMI account (linking.py)."""
    if not request.user.is_authenticated:
        return {"signed_in_as": None, "signed_in_email": "", "can_link": False}
    user = request.user
    refusal = identity_link_refusal(user)
    return {
        "signed_in_as": user.get_full_name() or user.get_username(),
        "signed_in_email": user.email,
        "can_link": refusal is None,
        "link_refusal": refusal or "",
    }


@never_cache
@csrf_exempt  # TMI sends the browser here with a GET; the OAuth state, bound to the session, protects it
@require_GET
@psa("social:complete")
def complete(request: HttpRequest, backend: str) -> HttpResponse:
    return signin_complete(request)


@never_cache
@require_GET
@psa("social:complete")  # the redirect URI of the exchange stays the callback's
def complete_continue(request: HttpRequest, backend: str) -> HttpResponse:
    return signin_continue(request)


@never_cache
@require_POST
def logout(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization_or_404(slug)
    if request.user.is_authenticated:
        tmi_connection_end(organization=organization, user=request.user, request=request)
    django_logout(request)  # flushes the session
    messages.info(request, _("You have signed out."))
    return HttpResponseRedirect(signin_url(organization))


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = invitation_by_token_get(token=token)
    if found is None:
        return render(request, "accounts/invitation_invalid.html", {"reason": "unknown"}, status=404)
    if not invitation_is_pending(found):
        reason = "used" if found.accepted_at else "expired"
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"reason": reason, "organization": found.organization},
            status=410,
        )
    if request.method == "POST":
        # Kept only to explain a mismatch: the invitation is accepted when the email TMI reports matches.
        request.session[INVITATION_SESSION_KEY] = found.token_hash
        return HttpResponseRedirect(signin_url(found.organization))
    return render(request, "accounts/invitation.html", {**_branding(found.organization), "invitation": found})


@never_cache
@require_http_methods(["GET", "POST"])
def relink(request: HttpRequest, token: str) -> HttpResponse:
    """A member's way back in after their organisation moved to another TMI server (moving.py): sign in at the
    new server, and the identity is linked to the member the link was made for. Only the token's hash rides
    in the sign-in attempt; the pipeline checks everything again when TMI sends the browser back."""
    found = relink_by_token_get(token=token)
    problem = membership_relink_problem(found)
    if problem:
        organization = found.membership.organization if found is not None else None
        context = {"problem": RELINK_PROBLEMS[problem], "organization": organization}
        return render(request, "accounts/relink.html", context, status=404 if problem == "unknown" else 410)
    membership = found.membership
    organization, member = membership.organization, membership.user
    context = {
        **_branding(organization),
        "member_email": member.email or member.get_username(),
        "role": Role(membership.role).label.lower(),
    }
    if request.user.is_authenticated and request.user.pk != member.pk:
        # Signed in as someone else: the link is not theirs to use, and nothing is asked of TMI.
        context["other_person"] = RELINK_OTHER_PERSON % {"email": member.email}
        return render(request, "accounts/relink.html", context, status=403)
    try:
        with tmi_deadline(settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS):
            options = signin_options_get(organization=organization)
    except TMIError:
        return render(request, "accounts/relink.html", {**context, "tmi_down": True}, status=503)
    form = SignInForm(request.POST or None, options=options)
    if request.method == "POST" and form.is_valid():
        return signin_begin(
            request,
            organization=organization,
            failure_url=request.path,
            throttled=_branding(organization),
            provider_id=form.cleaned_data["provider"],
            login_hint=form.cleaned_data["login_hint"],
            next_url=portfolio_url(organization),
            extra={RELINK_FIELD: found.token_hash},
        )
    page = render(
        request,
        "accounts/relink.html",
        {
            **context,
            "options": options,
            "form": form,
            "failed_provider": form.data.get("provider") if form.is_bound else None,
        },
        status=400 if form.is_bound else 200,
    )
    return sign_in_page_policy(page, image_urls=[provider.icon_url for provider in options.providers])
