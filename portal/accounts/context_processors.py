"""Template context every tenant page shares."""

from __future__ import annotations

from portal.accounts.models import TMIConnection


def tmi_sign_in_needed(request) -> dict:
    """`tmi_sign_in_needed`: TMI refused to refresh this member's sign-in (the refresh task or a page found
    out), so the page says so before anything fails, and links to the organisation's sign-in page."""
    organization = getattr(request, "organization", None)
    user = getattr(request, "user", None)
    if organization is None or user is None or not user.is_authenticated:
        return {}
    needed = TMIConnection.objects.filter(organization=organization, user=user, needs_sign_in=True).exists()
    return {"tmi_sign_in_needed": needed}
