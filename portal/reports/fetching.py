"""What WeasyPrint may load while it lays out a report: data: URIs, nothing else.

Reports carry user-written text from TMI; a URL in it must never make the worker call out (server-side
request forgery, tracking pixels, slow hosts stalling an export). The Markdown sanitiser already drops
images; this fetcher is the second, independent barrier. The organisation's logo is read by the portal
itself (through Django's storage, checked and re-encoded by the one logo check) and embedded as a data:
URI, so it needs no exception here.
"""

from __future__ import annotations

import base64
import logging

from weasyprint.urls import URLFetcher

from portal.organizations.logo_images import logo_stored_bytes

logger = logging.getLogger(__name__)


class RefusedURL(ValueError):
    """A report asked for something other than a data: URI."""


class DataOnlyURLFetcher(URLFetcher):
    """Serves data: URIs; refuses every other URL (http, https, file, ftp, ...) and remembers it."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, fail_on_errors=False)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if not url.lower().startswith("data:"):
            self.refused.append(url)
            logger.info("report: refused to fetch %.200s", url)
            raise RefusedURL(f"Reports load nothing from the network: {url[:200]}")
        return super().fetch(url, headers)


def logo_data_uri(organization) -> str | None:
    """The organisation's logo as a data: URI of the small re-encoded PNG the upload rules make
    (organizations/logo_images.py), or None: no logo, unreadable, or refused by those rules. A logo
    stored before the rules is downscaled here or left out, never decoded at full size by WeasyPrint."""
    content = logo_stored_bytes(organization)
    if content is None:
        return None
    return f"data:image/png;base64,{base64.b64encode(content).decode('ascii')}"
