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


# The named colours `colour` accepts, as #rrggbb (CSS's values), for working out contrast.
NAMED_HEX = {
    "black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#008000", "blue": "#0000ff",
    "yellow": "#ffff00", "orange": "#ffa500", "purple": "#800080", "gray": "#808080", "grey": "#808080",
    "silver": "#c0c0c0", "maroon": "#800000", "navy": "#000080", "teal": "#008080", "olive": "#808000",
    "lime": "#00ff00", "aqua": "#00ffff", "fuchsia": "#ff00ff", "pink": "#ffc0cb", "brown": "#a52a2a",
    "gold": "#ffd700", "darkblue": "#00008b", "darkgreen": "#006400", "darkred": "#8b0000",
    "lightblue": "#add8e6", "lightgreen": "#90ee90", "lightgray": "#d3d3d3", "lightgrey": "#d3d3d3",
    "darkgray": "#a9a9a9", "darkgrey": "#a9a9a9",
}  # fmt: skip


def rgb(value: str) -> tuple[float, float, float, float] | None:
    """(red, green, blue 0-255, alpha 0-1) of a colour `colour` accepted; None for none/transparent."""
    value = NAMED_HEX.get(value.strip().lower(), value.strip())
    if _HEX.fullmatch(value):
        digits = value[1:]
        if len(digits) in (3, 4):
            digits = "".join(d * 2 for d in digits)
        channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
        return (*channels[:3], channels[3] / 255 if len(channels) == 4 else 1.0)  # type: ignore[return-value]
    if _RGB.fullmatch(value):
        parts = [p.strip() for p in value[value.index("(") + 1 : -1].split(",")]
        rgb_ = [min(255.0, max(0.0, float(p[:-1]) * 2.55 if p.endswith("%") else float(p))) for p in parts[:3]]
        alpha = 1.0 if len(parts) < 4 else float(parts[3][:-1]) / 100 if parts[3].endswith("%") else float(parts[3])
        return (*rgb_, min(1.0, max(0.0, alpha)))  # type: ignore[return-value]
    return None


def over(value: str, backdrop: str = "#ffffff", opacity: float = 1.0) -> str:
    """The #rrggbb seen where `value`, at `opacity`, is painted over the opaque `backdrop`."""
    top, under = rgb(value), rgb(backdrop) or (255.0, 255.0, 255.0, 1.0)
    if top is None:
        return "#%02x%02x%02x" % tuple(round(c) for c in under[:3])
    alpha = top[3] * opacity
    return "#%02x%02x%02x" % tuple(round(t * alpha + u * (1 - alpha)) for t, u in zip(top[:3], under[:3]))


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two opaque colours (1 to 21)."""

    def luminance(colour_: str) -> float:
        channels = [c / 255 for c in (rgb(colour_) or (255.0, 255.0, 255.0, 1.0))[:3]]
        r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(text: str, backdrop: str, *, dark: str, light: str = "#ffffff", ratio: float = 4.5) -> str:
    """`text` as seen on `backdrop` when that passes WCAG AA, else whichever of `dark` and `light` reads better."""
    seen = over(text, backdrop)
    if contrast(seen, backdrop) >= ratio:
        return seen
    return max((dark, light), key=lambda candidate: contrast(candidate, backdrop))


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
