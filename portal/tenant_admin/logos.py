"""Serving organisation logos. Logos appear on public pages (the sign-in page), so anyone may fetch
one; nothing else under MEDIA_ROOT is served here: the name must be a logo some organisation uses."""
from __future__ import annotations

from django.http import FileResponse, Http404
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from portal.organizations.models import Organization

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


@require_GET
@cache_control(public=True, max_age=3600)
def logo(request, name: str):
    organization = Organization.objects.filter(logo=f"logos/{name}").first()
    extension = name.rsplit(".", 1)[-1].lower()
    if organization is None or extension not in CONTENT_TYPES:
        raise Http404("No such logo")
    try:
        handle = organization.logo.open("rb")
    except FileNotFoundError:
        raise Http404("No such logo") from None
    response = FileResponse(handle, content_type=CONTENT_TYPES[extension])
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
