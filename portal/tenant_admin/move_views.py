"""An owner moving the organisation to another TMI server (accounts/moving.py): the page between checking the
new address (the TMI connection page's Save) and signing in there, and cancelling. Thin, like views.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.deadlines import tmi_deadline
from portal.accounts.forms import SignInForm
from portal.accounts.moving import (
    MOVE_DONE_SESSION_KEY,
    MOVE_FIELD,
    RETURN_FIELD,
    organization_at,
    tmi_move_pending_clear,
    tmi_move_pending_get,
)
from portal.accounts.selectors import signin_options_get
from portal.accounts.signin import signin_begin
from portal.organizations.gate import organization_view
from portal.organizations.models import Membership, Role
from portal.tmi import TMIError


def _move_url(organization) -> str:
    return reverse("tenant_admin:tmi_move", args=[organization.slug])


def _done_pop(request) -> dict | None:
    """What the finished move did (moving.py's pipeline step left it), shown once."""
    done = dict(request.session.get(MOVE_DONE_SESSION_KEY) or {})
    record = done.pop(request.organization.slug, None)
    if record is not None:
        request.session[MOVE_DONE_SESSION_KEY] = done
    return record


def _page(request, context: dict, *, status: int = 200):
    organization = request.organization
    others = Membership.objects.filter(organization=organization).exclude(user=request.user)
    return render(
        request,
        "tenant_admin/move.html",
        {
            "nav": "admin",
            "section": "connection",
            "organization": organization,
            "is_owner": True,
            "credentials_set": bool(organization.tmi_client_id or organization.tmi_client_secret),
            "members_to_relink": others.count(),
            **context,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@organization_view(Role.OWNER)
def tmi_move(request, slug):
    organization = request.organization
    pending = tmi_move_pending_get(request.session, organization=organization, user=request.user)
    if pending is None:
        done = _done_pop(request)
        if done is not None and request.method == "GET":
            return _page(request, {"done": done})
        messages.info(
            request, _("No move to another TMI server is under way. Enter the new address here to start one.")
        )
        return HttpResponseRedirect(reverse("tenant_admin:connection", args=[slug]))
    try:
        with tmi_deadline(settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS):
            options = signin_options_get(organization=organization_at(organization, pending))
    except TMIError:
        return _page(request, {"pending": pending, "tmi_down": True}, status=503)
    form = SignInForm(request.POST or None, options=options)
    if request.method == "POST" and form.is_valid():
        return signin_begin(
            request,
            organization=organization,
            failure_url=_move_url(organization),
            throttled={"organization": organization},
            provider_id=form.cleaned_data["provider"],
            login_hint=form.cleaned_data["login_hint"],
            next_url=_move_url(organization),
            extra={MOVE_FIELD: pending, RETURN_FIELD: _move_url(organization)},
        )
    return _page(
        request,
        {
            "pending": pending,
            "options": options,
            "form": form,
            "failed_provider": form.data.get("provider") if form.is_bound else None,
        },
        status=400 if form.is_bound else 200,
    )


@require_POST
@organization_view(Role.OWNER)
def tmi_move_cancel(request, slug):
    tmi_move_pending_clear(request.session, organization=request.organization)
    messages.success(request, _("The move was cancelled. Nothing was changed."))
    return HttpResponseRedirect(reverse("tenant_admin:connection", args=[slug]))
