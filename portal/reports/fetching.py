"""What WeasyPrint may load while it lays out a report: data: URIs, nothing else.

Reports carry user-written text from TMI; a URL in it must never make the worker call out (server-side
request forgery, tracking pixels, slow hosts stalling an export). The Markdown sanitiser already drops
images; this fetcher is the second, independent barrier. The organisation's logo is read by the portal
itself (through Django's storage, size- and type-checked) and embedded as a data: URI, so it needs no
exception here.
"""
from __future__ import annotations

import base64
import logging

from weasyprint.urls import URLFetcher

logger = logging.getLogger(__name__)

LOGO_MAX_BYTES = 2 * 1024 * 1024
_LOGO_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


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


def _logo_type(head: bytes) -> str | None:
    for magic, content_type in _LOGO_TYPES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    text = head.lstrip()[:512].lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"  # any reference inside it still goes through the fetcher: refused
    return None


def logo_data_uri(organization) -> str | None:
    """The organisation's logo as a data: URI, or None (no logo, unreadable, too big, not an image)."""
    logo = getattr(organization, "logo", None)
    if not logo:
        return None
    try:
        with logo.open("rb") as file:
            content = file.read(LOGO_MAX_BYTES + 1)
    except (OSError, ValueError) as error:
        logger.warning("report: logo of %s unreadable: %s", getattr(organization, "slug", "?"), error)
        return None
    content_type = _logo_type(content[:1024])
    if len(content) > LOGO_MAX_BYTES or content_type is None:
        logger.warning("report: logo of %s skipped (too big or not an image)", getattr(organization, "slug", "?"))
        return None
    return f"data:{content_type};base64,{base64.b64encode(content).decode('ascii')}"
