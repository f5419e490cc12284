from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.db import models

from portal.organizations.forms import logo_upload_clean
from portal.organizations.models import Invitation, Membership, Organization
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


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "expires_at", "accepted_at"]
    list_filter = ["organization"]
    exclude = ["token_hash"]
