"""The admin pages at /o/<slug>/admin/. Thin: parse, call one service or selector, render.

Every view is wrapped by `organization_view(Role.ADMIN)`; ids from URLs and forms are looked up
inside `request.organization` only, so another organisation's id answers 404 and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts.moving import tmi_move_pending_put
from portal.audit.exporting import audit_events_csv
from portal.audit.forms import AuditFilterForm
from portal.audit.selectors import audit_actions_list, audit_events_list
from portal.audit.vocabulary import action_label
from portal.organizations.forms import (
    BrandingForm,
    ClientCredentialsForm,
    ConnectionTestForm,
    DomainsForm,
    InvitationForm,
    RoleForm,
    TMISettingsForm,
)
from portal.organizations.gate import organization_view
from portal.organizations.models import Invitation, Membership, Role
from portal.portfolio.health import portfolio_health_get
from portal.tenant_admin import selectors, services
from portal.tenant_admin.connection import HEALTH_TIMEOUT_SECONDS, tmi_server_check
from portal.tenant_admin.heartbeat import heartbeat_states

NEW_LINK_SESSION_KEY = "tenant_admin_new_invitation"
AUDIT_PAGE_SIZE = 50


def _url(request, name: str) -> str:
    return reverse(f"tenant_admin:{name}", args=[request.organization.slug])


def _render(request, template: str, context: dict, *, section: str, status: int = 200):
    return render(
        request,
        template,
        {
            "nav": "admin",
            "section": section,
            "organization": request.organization,
            "is_owner": request.membership.role == Role.OWNER,
            **context,
        },
        status=status,
    )


def _refused(request, error: services.AdminActionRefused, back: str):
    messages.error(request, error.message)
    return HttpResponseRedirect(_url(request, back))


# -- members ---------------------------------------------------------------------------------------


def _members_page(request, *, invite_form=None, domains_form=None, status=200):
    organization = request.organization
    return _render(
        request,
        "tenant_admin/members.html",
        {
            "rows": selectors.members_list(organization=organization),
            "invitations": selectors.invitations_pending_list(organization=organization),
            "invite_form": invite_form or InvitationForm(),
            "domains_form": domains_form
            or DomainsForm(initial={"domains": "\n".join(organization.allowed_email_domains or [])}),
            "roles": Role.choices,
            "new_invitation": request.session.pop(NEW_LINK_SESSION_KEY, None),
            "now": timezone.now(),
        },
        section="members",
        status=status,
    )


@require_GET
@organization_view(Role.ADMIN)
def members(request, slug):
    return _members_page(request)


def _remember_link(request, sent: services.InvitationSent) -> None:
    # Shown once on the next page and then forgotten: the token is stored nowhere else.
    request.session[NEW_LINK_SESSION_KEY] = {"email": sent.invitation.email, "link": sent.link, "emailed": sent.emailed}


@require_POST
@organization_view(Role.ADMIN)
def invite(request, slug):
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return _members_page(request, invite_form=form, status=400)
    try:
        sent = services.invitation_send(
            organization=request.organization,
            actor=request.user,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            request=request,
        )
    except services.AdminActionRefused as error:
        form.add_error(None, error.message)
        return _members_page(request, invite_form=form, status=400)
    _remember_link(request, sent)
    return HttpResponseRedirect(_url(request, "members"))


@require_POST
@organization_view(Role.ADMIN)
def invitation_resend(request, slug, invitation_id):
    try:
        sent = services.invitation_resend(
            organization=request.organization, actor=request.user, invitation_id=invitation_id, request=request
        )
    except Invitation.DoesNotExist:
        raise Http404("No such invitation") from None
    except services.AdminActionRefused as error:
        return _refused(request, error, "members")
    _remember_link(request, sent)
    return HttpResponseRedirect(_url(request, "members"))


@require_POST
@organization_view(Role.ADMIN)
def invitation_revoke(request, slug, invitation_id):
    try:
        services.invitation_revoke(
            organization=request.organization, actor=request.user, invitation_id=invitation_id, request=request
        )
    except Invitation.DoesNotExist:
        raise Http404("No such invitation") from None
    except services.AdminActionRefused as error:
        return _refused(request, error, "members")
    messages.success(request, _("The invitation was withdrawn; its link no longer works."))
    return HttpResponseRedirect(_url(request, "members"))


@require_POST
@organization_view(Role.ADMIN)
def member_role(request, slug, membership_id):
    form = RoleForm(request.POST)
    try:
        selectors.membership_get(organization=request.organization, membership_id=membership_id)
        if not form.is_valid():
            messages.error(request, _("Choose owner, admin or member."))
            return HttpResponseRedirect(_url(request, "members"))
        membership = services.membership_role_change(
            organization=request.organization,
            actor=request.user,
            membership_id=membership_id,
            role=form.cleaned_data["role"],
            request=request,
        )
    except Membership.DoesNotExist:
        raise Http404("No such member") from None
    except services.AdminActionRefused as error:
        return _refused(request, error, "members")
    messages.success(
        request,
        _("%(person)s is now %(role)s.")
        % {
            "person": membership.user.email or membership.user.get_username(),
            "role": Role(membership.role).label.lower(),
        },
    )
    return HttpResponseRedirect(_url(request, "members"))


@require_POST
@organization_view(Role.ADMIN)
def member_remove(request, slug, membership_id):
    try:
        membership = selectors.membership_get(organization=request.organization, membership_id=membership_id)
        services.membership_remove(
            organization=request.organization, actor=request.user, membership_id=membership_id, request=request
        )
    except Membership.DoesNotExist:
        raise Http404("No such member") from None
    except services.AdminActionRefused as error:
        return _refused(request, error, "members")
    messages.success(
        request, _("%(person)s was removed.") % {"person": membership.user.email or membership.user.get_username()}
    )
    if membership.user_id == request.user.pk:  # removed themselves: nothing here is theirs any more
        return HttpResponseRedirect(reverse("home"))
    return HttpResponseRedirect(_url(request, "members"))


@require_POST
@organization_view(Role.ADMIN)
def member_relink_resend(request, slug, membership_id):
    try:
        sent = services.membership_relink_resend(
            organization=request.organization, actor=request.user, membership_id=membership_id, request=request
        )
    except Membership.DoesNotExist:
        raise Http404("No such member") from None
    except services.AdminActionRefused as error:
        return _refused(request, error, "members")
    # Never shown (organizations.services.RelinkSent): only the member's mailbox may hold it.
    person = sent.membership.user.email or sent.membership.user.get_username()
    if sent.emailed:
        messages.success(
            request, _("A new link was emailed to %(person)s; the old one no longer works.") % {"person": person}
        )
    else:
        messages.error(
            request,
            _(
                "The email to %(person)s could not be sent, so they have no working link now. Links to the new TMI "
                "server are only ever emailed; send it again once email works."
            )
            % {"person": person},
        )
    return HttpResponseRedirect(_url(request, "members"))


@require_POST
@organization_view(Role.ADMIN)
def domains(request, slug):
    form = DomainsForm(request.POST)
    if not form.is_valid():
        return _members_page(request, domains_form=form, status=400)
    services.organization_domains_update(
        organization=request.organization, actor=request.user, domains=form.cleaned_data["domains"], request=request
    )
    messages.success(request, _("The email domains were saved."))
    return HttpResponseRedirect(_url(request, "members"))


# -- TMI connection --------------------------------------------------------------------------------


def _connection_page(request, *, settings_form=None, credentials_form=None, report=None, status=200):
    """One "TMI server address" field serves both buttons: "Test connection" posts the same form to
    connection_test, which shows the report and keeps the address typed (so it can be saved next)."""
    organization = request.organization
    if settings_form is None:
        current = tmi_server_check(base_url=organization.tmi_base_url, timeout=HEALTH_TIMEOUT_SECONDS, fresh=False)
        settings_form = TMISettingsForm(
            initial={
                "tmi_base_url": organization.tmi_base_url,
                "identity_providers": organization.identity_providers or [],
            },
            provider_choices=current.providers,
        )
        report = report or current
    return _render(
        request,
        "tenant_admin/connection.html",
        {
            "settings_form": settings_form,
            "credentials_form": credentials_form or ClientCredentialsForm(),
            "report": report,
            "credentials_set": bool(organization.tmi_client_id and organization.tmi_client_secret),
        },
        section="connection",
        status=status,
    )


@require_http_methods(["GET", "POST"])
@organization_view(Role.ADMIN)
def connection(request, slug):
    if request.method == "GET":
        return _connection_page(request)
    form = TMISettingsForm(request.POST, provider_choices=[])
    if not form.is_valid():
        return _connection_page(request, settings_form=form, status=400)
    if form.cleaned_data["tmi_base_url"].rstrip("/") != request.organization.tmi_base_url.rstrip("/"):
        return _move_start(request, form)
    try:
        services.organization_tmi_update(
            organization=request.organization,
            actor=request.user,
            tmi_base_url=form.cleaned_data["tmi_base_url"],
            identity_providers=form.cleaned_data["identity_providers"],
            request=request,
        )
    except services.AdminActionRefused as error:
        form.add_error(None, error.message)
        return _connection_page(request, settings_form=form, status=400)
    messages.success(request, _("The TMI connection was saved."))
    return HttpResponseRedirect(_url(request, "connection"))


def _move_start(request, form):
    """A new address is a move (accounts/moving.py): checked now, remembered in this browser, and made only
    once the owner has signed in at the new server. Until then nothing changes."""
    try:
        plan = services.organization_tmi_move_check(
            organization=request.organization,
            actor=request.user,
            tmi_base_url=form.cleaned_data["tmi_base_url"],
            identity_providers=form.cleaned_data["identity_providers"],
        )
    except services.AdminActionRefused as error:
        form.add_error("tmi_base_url", error.message)
        return _connection_page(request, settings_form=form, status=400)
    tmi_move_pending_put(
        request.session,
        organization=request.organization,
        by=request.user,
        tmi_base_url=plan.tmi_base_url,
        identity_providers=plan.identity_providers,
        generation=plan.generation,
    )
    return HttpResponseRedirect(_url(request, "tmi_move"))


@require_POST
@organization_view(Role.ADMIN)
def connection_test(request, slug):
    organization = request.organization
    form = ConnectionTestForm(request.POST)
    chosen = request.POST.getlist("identity_providers") or organization.identity_providers or []
    if not form.is_valid():
        shown = TMISettingsForm(request.POST, provider_choices=[])
        shown.is_valid()  # the typed address stays in the one field, its problem under it
        return _connection_page(request, settings_form=shown, status=400)
    report = services.organization_tmi_test(
        organization=organization,
        actor=request.user,
        base_url=form.cleaned_data["tmi_base_url"],
        request=request,
    )
    # The field keeps the address just tried, offering that server's sign-in options, so it can be saved next.
    shown = TMISettingsForm(
        initial={
            "tmi_base_url": form.cleaned_data["tmi_base_url"] or organization.tmi_base_url,
            "identity_providers": chosen,
        },
        provider_choices=report.providers,
    )
    return _connection_page(
        request, settings_form=shown, report=report, status=429 if report.problem == "rate_limited" else 200
    )


@require_POST
@organization_view(Role.ADMIN)
def credentials(request, slug):
    if request.POST.get("clear"):
        services.organization_client_credentials_clear(
            organization=request.organization, actor=request.user, request=request
        )
        messages.success(request, _("The client credentials were removed."))
        return HttpResponseRedirect(_url(request, "connection"))
    form = ClientCredentialsForm(request.POST)
    if not form.is_valid():
        return _connection_page(request, credentials_form=form, status=400)
    services.organization_client_credentials_set(
        organization=request.organization,
        actor=request.user,
        client_id=form.cleaned_data["client_id"],
        client_secret=form.cleaned_data["client_secret"],
        request=request,
    )
    messages.success(
        request, _("The client credentials were saved. The secret is stored encrypted and is never shown again.")
    )
    return HttpResponseRedirect(_url(request, "connection"))


# -- branding --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@organization_view(Role.ADMIN)
def branding(request, slug):
    organization = request.organization
    if request.method == "POST":
        form = BrandingForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            services.organization_branding_update(
                organization=organization,
                actor=request.user,
                name=data["name"],
                brand_colour=data["brand_colour"],
                logo=data["logo"],
                remove_logo=data["remove_logo"],
                request=request,
            )
            messages.success(request, _("The branding was saved."))
            return HttpResponseRedirect(_url(request, "branding"))
        status = 400
    else:
        form = BrandingForm(initial={"name": organization.name, "brand_colour": organization.brand_colour})
        status = 200
    return _render(request, "tenant_admin/branding.html", {"form": form}, section="branding", status=status)


# -- audit log -------------------------------------------------------------------------------------


def _audit_filtered(request):
    form = AuditFilterForm(request.GET or None, actions=audit_actions_list(organization=request.organization))
    filters = form.selector_filters() if form.is_bound else {}
    return form, audit_events_list(organization=request.organization, **filters)


@require_GET
@organization_view(Role.ADMIN)
def audit(request, slug):
    form, events = _audit_filtered(request)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    rows = [(event, action_label(event.action)) for event in page.object_list]
    return _render(
        request,
        "tenant_admin/audit.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode()},
        section="audit",
        status=200 if not form.is_bound or form.is_valid() else 400,
    )


@require_GET
@organization_view(Role.ADMIN)
def audit_csv(request, slug):
    form, events = _audit_filtered(request)
    response = StreamingHttpResponse(audit_events_csv(events.iterator()), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{request.organization.slug}-{stamp}.csv"'
    return response


# -- health ----------------------------------------------------------------------------------------


@require_GET
@organization_view(Role.ADMIN)
def health(request, slug):
    organization = request.organization
    return _render(
        request,
        "tenant_admin/health.html",
        {
            "report": tmi_server_check(base_url=organization.tmi_base_url, timeout=HEALTH_TIMEOUT_SECONDS, fresh=False),
            "heartbeats": heartbeat_states(),
            "members_to_sign_in": selectors.members_needing_sign_in(organization=organization),
            "schedule_owners": selectors.schedule_owners_needing_sign_in(organization=organization),
            "sync": portfolio_health_get(organization=organization),
        },
        section="health",
    )
