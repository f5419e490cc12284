"""SVG shapes in PDF reports drawn with less of WeasyPrint's per-element machinery, emitting the same operators.

A 300-cell diagram is some 900 elements. For each one, WeasyPrint's `draw_node` looks for filters, clip paths,
masks, opacity groups and children, `set_graphical_state` parses the fill and stroke colours with a CSS parser
and `path` parses its `d` with several regular expressions; most of a large report's SVG time went there
(issue 18). `install()` puts three shortcuts in front, each taken only where its result is byte for byte what
WeasyPrint would have written, and WeasyPrint's own code for everything else:

- `draw_leaf`: a shape (or a text) with no transform, filter, clip, mask, opacity, visibility, display
  or child elements is drawn with the steps that apply to it only, in WeasyPrint's order;
- `graphical_state`: plain colour fills and strokes (no gradient, pattern, `url()` or `context-*` paint) are
  parsed once per distinct style, not once per element;
- `line_path`: a `d` made only of absolute moves and lines (an edge's route, an arrowhead) is read with one
  regular expression; the same operators and the same marker vertices as WeasyPrint's `path`.

tests/reports/test_svg_paint.py renders SVGs with and without them and compares the PDFs' drawing operators.
"""

from __future__ import annotations

import re
from contextlib import suppress
from functools import lru_cache
from math import atan2, pi

import weasyprint.svg as weasy_svg
from weasyprint.svg.bounding_box import EMPTY_BOUNDING_BOX
from weasyprint.svg.utils import PointError, alpha_value, color, normalize, size

_ORIGINAL_DRAW_NODE = weasy_svg.SVG.draw_node
_ORIGINAL_STATE = weasy_svg.SVG.set_graphical_state
_ORIGINAL_PATH = weasy_svg.path

SHAPES = frozenset(("circle", "ellipse", "line", "path", "polygon", "polyline", "rect"))
# What draw_node would act on for a leaf besides filling and stroking it (text-anchor: a text's group).
_NOT_A_LEAF = ("transform", "filter", "clip-path", "mask", "opacity", "display", "visibility", "text-anchor")
_NUMBER = r"(-?(?:\d+\.?\d*|\.\d+))"
_LINES = re.compile(rf"M{_NUMBER} {_NUMBER}((?:L{_NUMBER} {_NUMBER})+)(Z?)")
_LINE_TO = re.compile(rf"L{_NUMBER} {_NUMBER}")
_CAPS = {"round": 1, "square": 2}
_JOINS = {"round": 1, "bevel": 2}


def _plain_paint(value: str) -> bool:
    return "url(" not in value and not value.startswith("context-")


@lru_cache(maxsize=1024)
def _state(paint: tuple, font_size: float, diagonal: float) -> tuple:
    """What set_graphical_state works out for one style: (fill, fill colour, stroke, stroke colour, width, dash
    array, dash offset, cap, join, miter limit). The colours are never changed afterwards, so they are shared."""
    fill, fill_opacity, stroke, stroke_opacity, width, dasharray, dashoffset, cap, join, miter = paint
    fill = fill or None
    fill_colour = None
    if fill:
        fill_colour = color(fill)
        fill_colour.alpha *= alpha_value(fill_opacity)
    stroke_width = size(width, font_size, diagonal)
    stroke_colour = None
    if not stroke_width:
        stroke = None
    elif stroke := stroke or None:
        stroke_colour = color(stroke)
        stroke_colour.alpha *= alpha_value(stroke_opacity)
    dash = tuple(size(value, font_size, diagonal) for value in normalize(dasharray).split() if value != "none")
    offset = 0
    if dash and not all(value == 0 for value in dash) and not any(value < 0 for value in dash):
        offset = size(dashoffset, font_size, diagonal)
        if offset < 0:
            total = sum(float(value) for value in dash)
            offset = total - abs(offset) % total
    else:
        dash = ()
    miter_limit = float(miter)
    return (
        fill,
        fill_colour,
        stroke,
        stroke_colour,
        stroke_width,
        dash,
        offset,
        _CAPS.get(cap, 0),
        _JOINS.get(join, 0),
        4 if miter_limit < 0 else miter_limit,
    )


def graphical_state(svg, node, font_size, context=None):
    """WeasyPrint's set_graphical_state, with a style's colours and lengths worked out once."""
    get = node.attrib.get
    fill = get("fill", "black").strip()
    stroke = get("stroke", "").strip()
    if not (_plain_paint(fill) and _plain_paint(stroke)):
        return _ORIGINAL_STATE(svg, node, font_size, context)
    paint = (
        "" if fill == "none" else fill,
        get("fill-opacity", 1),
        "" if stroke == "none" else stroke,
        get("stroke-opacity", 1),
        get("stroke-width", "1px"),
        get("stroke-dasharray"),
        get("stroke-dashoffset"),
        get("stroke-linecap", "butt"),
        get("stroke-linejoin", "miter"),
        get("stroke-miterlimit", 4),
    )
    fill, fill_colour, stroke, stroke_colour, width, dash, offset, cap, join, miter = _state(
        paint, font_size, svg.inner_diagonal
    )
    stream = svg.stream
    if fill:
        stream.set_color(fill_colour)
    if stroke:
        stream.set_color(stroke_colour, stroke=True)
        stream.set_line_width(width)
    stream.set_dash(dash, offset)
    stream.set_line_cap(cap)
    stream.set_line_join(join)
    stream.set_miter_limit(miter)
    return fill, stroke


def line_path(svg, node, font_size):
    """WeasyPrint's path for `M x y L x y ... [Z]`; any other `d` goes to it."""
    found = _LINES.fullmatch(node.get("d", ""))
    if found is None:
        return _ORIGINAL_PATH(svg, node, font_size)
    stream, vertices = svg.stream, node.vertices
    stream.move_to(0, 0)
    x, y = float(found[1]), float(found[2])
    first = (x, y)
    stream.move_to(x, y)
    vertices.append(first)
    for step in _LINE_TO.finditer(found[3]):
        old_x, old_y = x, y
        x, y = float(step[1]), float(step[2])
        angle = atan2(y - old_y, x - old_x)
        vertices.append((pi - angle, angle))
        stream.line_to(x, y)
        vertices.append((x, y))
    if found[6]:
        vertices.append(None)
        stream.close()


def _leaf(node) -> bool:
    attributes = node.attrib
    return len(node._etree_node) == 0 and not any(name in attributes for name in _NOT_A_LEAF)


def draw_leaf(svg, node, font_size, fill_stroke=True, context=None):
    """WeasyPrint's draw_node, for a leaf: a shape, or a text with no anchor and no child elements."""
    tag = node.tag
    if not fill_stroke or tag not in SHAPES and tag != "text" or not _leaf(node):
        return _ORIGINAL_DRAW_NODE(svg, node, font_size, fill_stroke, context)
    font_size = size(node.get("font-size", "1em"), font_size, font_size)
    stream = svg.stream
    stream.push_state()
    if tag == "text":  # WeasyPrint's text drawing (svg_text.run_text) sets its own graphical state
        node.text_bounding_box = EMPTY_BOUNDING_BOX
        with suppress(PointError):
            weasy_svg.TAGS[tag](svg, node, font_size)
        svg.cursor_position = [0, 0]
        svg.cursor_d_position = [0, 0]
        svg.text_path_width = 0
    else:
        fill, stroke = svg.set_graphical_state(node, font_size, context=context)
        with suppress(PointError):
            weasy_svg.TAGS[tag](svg, node, font_size)
        svg.fill_stroke(fill, stroke, node.get("fill-rule") == "evenodd")
        svg.draw_markers(node, font_size, fill_stroke)
    stream.pop_state()


def install() -> None:
    """Idempotent."""
    weasy_svg.SVG.draw_node = draw_leaf
    weasy_svg.SVG.set_graphical_state = graphical_state
    if weasy_svg.TAGS["path"] is _ORIGINAL_PATH:
        weasy_svg.TAGS["path"] = line_path
