"""TMI notes are user-written Markdown: rendered to HTML, then sanitised, never trusted.

Raw HTML in the Markdown is not passed through (markdown-it's `html` option is off, so `<script>` stays
visible text), and the HTML markdown-it produces is cleaned by nh3 with an allow-list of tags, attributes
and URL schemes, as a second, independent barrier.
"""

from __future__ import annotations

import re

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from portal.diagrams.text import clean_display_text

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}  # th/td: only the classes below
ALIGN_CLASSES = {"align-left", "align-center", "align-right"}  # portal.css
ALLOWED_CLASSES = {"th": ALIGN_CLASSES, "td": ALIGN_CLASSES}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
_ALIGN = re.compile(r"^text-align:(left|center|right)$")


def _alignment_as_class(tokens) -> None:
    """markdown-it aligns table columns with style="text-align:..."; the page's Content-Security-Policy
    allows no style attribute, so the alignment becomes a class."""
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            found = _ALIGN.match(str(token.attrs.pop("style", "")))
            if found:
                token.attrSet("class", f"align-{found.group(1)}")


def _markdown_render(text: str) -> str:
    env: dict = {}
    tokens = _markdown.parse(text, env)
    _alignment_as_class(tokens)
    return _markdown.renderer.render(tokens, _markdown.options, env)


def markdown_to_safe_html(text: str | None) -> SafeString:
    html = _markdown_render(clean_display_text(text))  # no bidi or control characters (diagrams/text.py)
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        allowed_classes=ALLOWED_CLASSES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above
