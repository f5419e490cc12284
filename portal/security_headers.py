"""Headers every response of the portal carries: its Content-Security-Policy, and no caching of the
pages a signed-in person sees.

The policy itself is in settings (CONTENT_SECURITY_POLICY); django-csp writes it and makes the
per-request nonce (`request.csp_nonce`) that the one kind of inline <style> the pages keep carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.cache import patch_cache_control
from django.utils.deprecation import MiddlewareMixin


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus the page's own WebSocket origin in connect-src: the live diagram,
    export progress and admin pages open a socket to this host, and not every browser counts ws:/wss:
    to the same host as 'self'."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts
        socket_origin = f"{'wss' if request.is_secure() else 'ws'}://{host}"
        update = dict(parts.update or {})
        update["connect-src"] = [*(update.get("connect-src") or []), socket_origin]  # appended to the settings'
        parts.update = update
        return parts


def sign_in_page_policy(response, *, image_urls: Iterable[str] = ()):
    """The sign-in page's exceptions to the policy, on its response.

    - No form-action: its forms are answered with a redirect to the organisation's TMI server, which sends
      the browser on to an identity provider the portal cannot know (Google, GitHub, ...), and Chromium
      applies form-action to every hop of a form's redirect chain.
    - img-src also allows the origins of the providers' icons, which TMI names (on itself or elsewhere).
    """
    response._csp_replace = {**(getattr(response, "_csp_replace", None) or {}), "form-action": None}
    origins = sorted(
        {
            f"{part.scheme}://{part.netloc}"
            for part in map(urlsplit, image_urls)
            if part.scheme in ("http", "https") and part.netloc
        }
    )
    if origins:
        update = dict(getattr(response, "_csp_update", None) or {})
        update["img-src"] = [*(update.get("img-src") or []), *origins]
        response._csp_update = update
    return response


class PrivateCacheMiddleware(MiddlewareMixin):
    """`Cache-Control: private, no-store` on every response to a signed-in person: a shared cache or the
    browser's back button must not keep a page of threat models after sign-out. Static files and logos are
    public and served before this (WhiteNoise) or under MEDIA_URL."""

    def process_response(self, request, response):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(settings.MEDIA_URL):
            patch_cache_control(response, private=True, no_store=True)
        return response
