from django import forms
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.utils.translation import gettext as _

from portal.organizations.forms import logo_upload_clean
from portal.organizations.invitation_mail import invitation_email_send, invitation_link, person_label
from portal.organizations.models import Invitation, Membership, Organization
from portal.organizations.services import invitation_create, membership_relinks_send, organization_tmi_switch
from portal.organizations.tmi_servers import tmi_address_validate


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class OrganizationAdminForm(forms.ModelForm):
    class Meta:
        model = Organization
        exclude = ["tmi_client_secret"]  # noqa: DJ006 - every field but the secret, which is never shown back

    def clean_tmi_base_url(self) -> str:
        url = self.cleaned_data["tmi_base_url"]
        tmi_address_validate(url)  # the operator's PORTAL_TMI_ALLOWED_SERVERS, as in the tenant admin
        return url

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        # A new upload passes the same check as the branding page; the stored logo or "clear" pass as they are.
        return logo_upload_clean(logo) if isinstance(logo, UploadedFile) else logo


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """Platform superusers create organisations here; everything else is the tenant admin area."""

    list_display = ["name", "slug", "tmi_base_url", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    form = OrganizationAdminForm
    # Set in the organisation's own admin area, where it is never shown back.
    exclude = ["tmi_client_secret"]
    # A TMI address typed without a scheme is meant as https (Django 6's default, asked for now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        """A new address for an existing organisation is a move (services.organization_tmi_switch), the
        operator's repair path when no owner can sign in at the old server any more: every member, owners
        included, is emailed a link to link their account at the new server; every old-server token goes."""
        if not change or "tmi_base_url" not in form.changed_data:
            return super().save_model(request, obj, form, change)
        new_address, providers = obj.tmi_base_url, list(obj.identity_providers or [])
        obj.tmi_base_url = form.initial["tmi_base_url"]
        super().save_model(request, obj, form, change)
        moved, issued = organization_tmi_switch(
            organization=obj,
            actor=request.user,
            tmi_base_url=new_address,
            identity_providers=providers,
            request=request,
        )
        obj.tmi_base_url, obj.tmi_client_id = moved.tmi_base_url, moved.tmi_client_id
        sent = membership_relinks_send(issued, actor=request.user, request=request)
        unsent = [person_label(s.membership.user) for s in sent if not s.emailed]
        self.message_user(
            request,
            _("%(org)s moved to %(url)s: %(count)s member(s) were sent a link to link their account there.")
            % {"org": moved.name, "url": moved.tmi_base_url, "count": len(sent)}
            + (
                " "
                + _(
                    "These could not be emailed (links are only ever emailed); an admin of the organisation can "
                    "send them again from its People page: %(people)s"
                )
                % {"people": ", ".join(unsent)}
                if unsent
                else ""
            ),
            messages.WARNING,
        )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """How a platform operator invites the first owner of a new organisation (then its admins invite the
    rest). A new invitation is made by the same service as in the tenant admin area: a token of its own (only
    its hash is stored), emailed, and its link shown here once. Existing ones can be looked at or deleted."""

    list_display = ["email", "organization", "role", "expires_at", "accepted_at"]
    list_filter = ["organization"]
    add_fields = ["organization", "email", "role"]
    readonly_fields = ["organization", "email", "role", "invited_by", "expires_at", "accepted_at"]

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is edited in place: delete it and invite again
        # One pending invitation per address, as in the tenant admin: the old link stops working.
        Invitation.objects.filter(
            organization=obj.organization, email__iexact=obj.email, accepted_at__isnull=True
        ).delete()
        invitation, token = invitation_create(
            organization=obj.organization, email=obj.email, role=obj.role, invited_by=request.user
        )
        obj.pk, obj.token_hash, obj.expires_at = invitation.pk, invitation.token_hash, invitation.expires_at
        link = invitation_link(token, request)
        emailed = invitation_email_send(invitation=invitation, link=link, actor=request.user)
        message = (
            _("Invitation emailed to %(email)s. Its link, shown only this once: %(link)s")
            if emailed
            else _("The email to %(email)s could not be sent: pass on its link, shown only this once: %(link)s")
        )
        self.message_user(request, message % {"email": invitation.email, "link": link}, messages.WARNING)
