"""TMI notes are user-written Markdown: rendered to HTML, then sanitised, never trusted.

Raw HTML in the Markdown is not passed through (markdown-it's `html` option is off, so `<script>` stays
visible text), and the HTML markdown-it produces is cleaned by nh3 with an allow-list of tags, attributes
and URL schemes, as a second, independent barrier.
"""
from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])

ALLOWED_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
                "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"},
                      "th": {"style"}, "td": {"style"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


def markdown_to_safe_html(text: str | None) -> SafeString:
    html = _markdown.render(text or "")
    cleaned = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=ALLOWED_SCHEMES,
                        link_rel="noopener noreferrer nofollow", filter_style_properties={"text-align"})
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above
