"""Serving organisation logos. Logos appear on public pages (the sign-in page), so anyone may fetch
one; nothing else under MEDIA_ROOT is served here: the name must be a logo some organisation uses.

What is served passes the upload rules again (organizations/logo_images.py): a logo stored since those
rules is a small PNG and goes out as it is; one stored before them is downscaled on the way, or not
served at all if it breaks them (a huge canvas would cost every visitor's browser its memory)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from portal.organizations.logo_images import logo_stored_bytes
from portal.organizations.models import Organization


@require_GET
@cache_control(public=True, max_age=3600)
def logo(request, name: str):
    organization = Organization.objects.filter(logo=f"logos/{name}").first()
    content = logo_stored_bytes(organization) if organization is not None else None
    if content is None:
        raise Http404("No such logo")
    response = HttpResponse(content, content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
