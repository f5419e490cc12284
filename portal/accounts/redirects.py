"""Where to send someone after signing in: a `next` inside the organisation, else its portfolio."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.organizations.models import Organization


def portfolio_url(organization: Organization) -> str:
    try:
        return reverse("dashboard:portfolio", kwargs={"slug": organization.slug})
    except NoReverseMatch:  # until the dashboard is wired
        return f"/o/{organization.slug}/"


def signin_url(organization: Organization) -> str:
    return reverse("accounts:login", kwargs={"slug": organization.slug})


def safe_next_url(request, organization: Organization, candidate: str | None) -> str:
    """`candidate` as a local path if it is on this host and inside this organisation, else the portfolio."""
    fallback = portfolio_url(organization)
    if not candidate or "\\" in candidate or any(ord(c) < 32 for c in candidate):
        return fallback
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return fallback
    parts = urlsplit(candidate)
    inside = f"/o/{organization.slug}/"
    if not parts.path.startswith(inside) or ".." in parts.path.split("/") or parts.path.startswith("//"):
        return fallback
    if parts.path.startswith(
        (signin_url(organization), reverse("accounts:logout", kwargs={"slug": organization.slug}))
    ):
        return fallback
    return urlunsplit(("", "", parts.path, parts.query, ""))
