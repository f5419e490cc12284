from django.contrib import admin

from portal.organizations.models import Invitation, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """Platform superusers create organisations here; everything else is the tenant admin area."""

    list_display = ["name", "slug", "tmi_base_url", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    # Set in the organisation's own admin area, where it is never shown back.
    exclude = ["tmi_client_secret"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "expires_at", "accepted_at"]
    list_filter = ["organization"]
    exclude = ["token_hash"]
