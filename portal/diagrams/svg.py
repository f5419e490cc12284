"""SVG text building: escaping, validation of user-supplied presentation values, and elements.

Everything a diagram carries is user-written. Text and attribute values go through `escape`; colours,
dash patterns and ids are checked against strict patterns and replaced by a default when they do not match,
so no value can open a new attribute, element, url() or script.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping

from portal.diagrams.text import clean_display_text

SVG_NS = "http://www.w3.org/2000/svg"
# Code points XML 1.0 forbids (an SVG containing them is not well-formed), plus lone surrogates.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_NUM = r"\s*[-+]?(?:\d{1,3}(?:\.\d{1,6})?|\.\d{1,6})%?\s*"
_RGB = re.compile(rf"rgba?\({_NUM},{_NUM},{_NUM}(?:,{_NUM})?\)", re.IGNORECASE)
NAMED_COLOURS = frozenset(
    {
        "black",
        "white",
        "red",
        "green",
        "blue",
        "yellow",
        "orange",
        "purple",
        "gray",
        "grey",
        "silver",
        "maroon",
        "navy",
        "teal",
        "olive",
        "lime",
        "aqua",
        "fuchsia",
        "pink",
        "brown",
        "gold",
        "darkblue",
        "darkgreen",
        "darkred",
        "lightblue",
        "lightgreen",
        "lightgray",
        "lightgrey",
        "darkgray",
        "darkgrey",
        "transparent",
        "none",
    }
)
_DASHARRAY = re.compile(r"\d{1,4}(?:\.\d{1,3})?(?:[\s,]+\d{1,4}(?:\.\d{1,3})?){0,7}")
_ATTR_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9:_-]*")
_ID_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")


class SafeSVG(str):
    """Renderer output: every user string inside is already escaped. `__html__` is the protocol Django's
    templates (and markupsafe/Jinja) use to recognise safe markup, so `{{ svg }}` inlines it unescaped."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def clean_text(value: str) -> str:
    """Text fit for SVG and for reading: XML-valid, without bidi or control characters (text.py)."""
    return _XML_INVALID.sub("", clean_display_text(value))


def escape(value: object) -> str:
    """Text or attribute value -> XML-safe text (quotes included, invalid code points dropped)."""
    return (
        clean_text(str(value))
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def colour(value: str | None, default: str) -> str:
    """A user colour if it is plain #hex, rgb()/rgba() with numbers, or a whitelisted name; else `default`."""
    if isinstance(value, str):
        candidate = value.strip()
        if _HEX.fullmatch(candidate) or _RGB.fullmatch(candidate) or candidate.lower() in NAMED_COLOURS:
            return candidate.lower() if candidate.lower() in NAMED_COLOURS else candidate
    return default


def dasharray(value: str | None, default: str | None = None) -> str | None:
    if isinstance(value, str) and _DASHARRAY.fullmatch(value.strip()):
        return value.strip()
    return default


def new_id_prefix(requested: str | None = None) -> str:
    """The namespace for ids in one SVG: the caller's if it is a plain identifier, else a random one."""
    if requested and _ID_PREFIX.fullmatch(requested):
        return requested
    return f"tmi{secrets.token_hex(4)}"


def fmt(value: float) -> str:
    """Compact number text: 12, 12.5, -0.25 (two decimals are plenty on screen and on paper)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def attributes(attrs: Mapping[str, object | None]) -> str:
    parts = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if not _ATTR_NAME.fullmatch(name):  # names are ours, never user data: a bad one is a programming error
            raise ValueError(f"bad attribute name {name!r}")
        text = fmt(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(text)}"')
    return "".join(parts)


def element(tag: str, attrs: Mapping[str, object | None] | None = None, *children: str, text: str | None = None) -> str:
    """<tag attrs>children or escaped text</tag>; self-closing when empty. `children` must already be SVG."""
    opening = f"<{tag}{attributes(attrs or {})}"
    body = escape(text) if text is not None else "".join(children)
    return f"{opening}>{body}</{tag}>" if body else f"{opening}/>"


def group(attrs: Mapping[str, object | None], children: Iterable[str]) -> str:
    return element("g", attrs, *children)


def document(
    *,
    view_box: tuple[float, float, float, float],
    title: str,
    description: str,
    defs: str,
    body: str,
    id_prefix: str,
    width: float | None = None,
    height: float | None = None,
) -> SafeSVG:
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return SafeSVG(
        element(
            "svg",
            {
                "xmlns": SVG_NS,
                "viewBox": " ".join(fmt(v) for v in view_box),
                "width": width,
                "height": height,
                "role": "img",
                "aria-label": title,
                "aria-labelledby": title_id,
                "aria-describedby": desc_id,
                "class": "tmi-diagram",
                "font-family": "Helvetica, Arial, sans-serif",
                "text-rendering": "geometricPrecision",
            },
            element("title", {"id": title_id}, text=title),
            element("desc", {"id": desc_id}, text=description),
            element("defs", {}, defs) if defs else "",
            body,
        )
    )
