"""One drawing function per DFD shape, plus the shared label and look (colour) logic.

Each node function returns the SVG of the shape's outline and the area its label goes in; `node_svg`
wraps that into one `<g>` per cell so the live page can find (and later replace) a cell by `data-cell-id`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from portal.diagrams import svg
from portal.diagrams.cells import Edge, EdgeLabel, Node, Style
from portal.diagrams.geometry import LINE_HEIGHT, Box, Point, node_box, point_along, store_cap, text_width, wrap

TEXT_COLOUR = "#1f2933"
HIGHLIGHT_COLOUR = "#2563eb"
EDGE_LABEL_WIDTH = 150.0
EDGE_LABEL_LINES = 3
CORNER_RADIUS = 10.0
# TMI-UX writes these on every cell it creates, so they say "not styled" rather than "styled black on
# white": such cells get the portal's palette, while any other colour a user picked is honoured.
EDITOR_FILLS = frozenset({"#fff", "#ffffff", "white"})
EDITOR_STROKES = frozenset({"#000", "#000000", "black", "#333", "#333333"})


@dataclass(frozen=True)
class Look:
    fill: str
    stroke: str
    stroke_width: float
    dasharray: str | None = None
    text_colour: str = TEXT_COLOUR
    font_size: float = 13.0


DEFAULT_LOOKS = {
    "actor": Look(fill="#eaf1fb", stroke="#3d5a80", stroke_width=1.5),
    "process": Look(fill="#fff4e0", stroke="#b7791f", stroke_width=1.5),
    "store": Look(fill="#e9f7ef", stroke="#2f855a", stroke_width=1.5),
    "boundary": Look(fill="#fdf2f2", stroke="#c53030", stroke_width=1.5, dasharray="8 5", font_size=12.0),
    "text": Look(fill="none", stroke="none", stroke_width=0.0),
    "unknown": Look(fill="#f4f5f7", stroke="#718096", stroke_width=1.5),
    "edge": Look(fill="none", stroke="#4a5568", stroke_width=1.5, font_size=11.0),
}


def look_for(kind: str, style: Style) -> Look:
    base = DEFAULT_LOOKS.get(kind, DEFAULT_LOOKS["unknown"])
    fill = None if (style.fill or "").strip().lower() in EDITOR_FILLS else style.fill
    stroke = None if (style.stroke or "").strip().lower() in EDITOR_STROKES else style.stroke
    return Look(
        fill=svg.colour(fill, base.fill),
        stroke=svg.colour(stroke, base.stroke),
        stroke_width=base.stroke_width if style.stroke_width is None else min(style.stroke_width, 8.0),
        dasharray=svg.dasharray(style.dasharray, base.dasharray),
        text_colour=svg.colour(style.text_color, base.text_colour),
        font_size=style.font_size or base.font_size,
    )


@dataclass(frozen=True)
class LabelArea:
    box: Box
    anchor: str = "middle"  # text-anchor: middle | start
    top: bool = False  # True: first line at the top of the box; False: block centred vertically


def outline_attrs(look: Look) -> dict[str, object | None]:
    return {
        "fill": look.fill,
        "stroke": look.stroke,
        "stroke-width": float(look.stroke_width),
        "stroke-dasharray": look.dasharray,
    }


def rounded_rect(node: Node, look: Look, radius: float, **extra: object) -> str:
    return svg.element(
        "rect",
        {
            "class": "tmi-shape",
            "x": node.x,
            "y": node.y,
            "width": node.width,
            "height": node.height,
            "rx": radius,
            **outline_attrs(look),
            **extra,
        },
    )


def inset(node: Node, dx: float, dy: float) -> Box:
    return Box(node.x + dx, node.y + dy, node.width - 2 * dx, node.height - 2 * dy)


def actor(node: Node, look: Look) -> tuple[list[str], LabelArea]:
    """External entity: a rounded box with a small person glyph, so it reads as 'someone outside'."""
    parts = [rounded_rect(node, look, 8.0)]
    pad = 10.0
    if node.width >= 90 and node.height >= 44:
        size = min(16.0, node.height / 3)
        gx, gy = node.x + 8 + size / 2, node.y + 8
        parts.append(
            svg.element(
                "path",
                {
                    "class": "tmi-glyph",
                    "fill": look.stroke,
                    # Its head and body never overlap, so this looks as `opacity` would; `opacity` makes a
                    # PDF draw the glyph in a transparency group of its own (issue 18).
                    "fill-opacity": "0.75",
                    "d": (
                        f"M{svg.fmt(gx)} {svg.fmt(gy)}m-{svg.fmt(size * 0.22)} {svg.fmt(size * 0.25)}"
                        f"a{svg.fmt(size * 0.22)} {svg.fmt(size * 0.22)} 0 1 0 {svg.fmt(size * 0.44)} 0"
                        f"a{svg.fmt(size * 0.22)} {svg.fmt(size * 0.22)} 0 1 0 -{svg.fmt(size * 0.44)} 0z"
                        f"M{svg.fmt(gx - size / 2)} {svg.fmt(gy + size)}"
                        f"a{svg.fmt(size / 2)} {svg.fmt(size * 0.42)} 0 0 1 {svg.fmt(size)} 0z"
                    ),
                },
            )
        )
        pad = 8 + size + 4 if node.width < 140 else pad
    return parts, LabelArea(inset(node, pad, 6))


def process(node: Node, look: Look) -> tuple[list[str], LabelArea]:
    """Process: an ellipse (the DFD bubble). The label sits in the inscribed rectangle."""
    rx, ry = node.width / 2, node.height / 2
    cx, cy = node.center
    inner_w, inner_h = node.width * 0.74, node.height * 0.74
    return (
        [svg.element("ellipse", {"class": "tmi-shape", "cx": cx, "cy": cy, "rx": rx, "ry": ry, **outline_attrs(look)})],
        LabelArea(Box(cx - inner_w / 2, cy - inner_h / 2, inner_w, inner_h)),
    )


def store(node: Node, look: Look) -> tuple[list[str], LabelArea]:
    """Data store: a cylinder, the picture of 'a database' most readers already know."""
    x, y, w, h = node.x, node.y, node.width, node.height
    rx, ry = w / 2, store_cap(h)
    f = svg.fmt
    body = (
        f"M{f(x)} {f(y + ry)}A{f(rx)} {f(ry)} 0 0 1 {f(x + w)} {f(y + ry)}L{f(x + w)} {f(y + h - ry)}"
        f"A{f(rx)} {f(ry)} 0 0 1 {f(x)} {f(y + h - ry)}Z"
    )
    rim = f"M{f(x)} {f(y + ry)}A{f(rx)} {f(ry)} 0 0 0 {f(x + w)} {f(y + ry)}"
    attrs = outline_attrs(look)
    return (
        [
            svg.element("path", {"class": "tmi-shape", "d": body, **attrs}),
            svg.element("path", {"class": "tmi-rim", "d": rim, **attrs, "fill": "none"}),
        ],
        LabelArea(Box(x + 8, y + 2 * ry + 2, w - 16, h - 3 * ry - 4)),
    )  # below the rim


def boundary(node: Node, look: Look) -> tuple[list[str], LabelArea]:
    """Trust boundary: a dashed rounded frame, label top-left, drawn behind everything else."""
    frame = rounded_rect(node, look, 12.0, **{"fill-opacity": "0.55"})
    return [frame], LabelArea(inset(node, 12, 8), anchor="start", top=True)


def text_box(node: Node, look: Look) -> tuple[list[str], LabelArea]:
    return [], LabelArea(inset(node, 4, 4))


def unknown(node: Node, look: Look) -> tuple[list[str], LabelArea]:
    return [rounded_rect(node, look, 3.0)], LabelArea(inset(node, 8, 6))


SHAPES: dict[str, Callable[[Node, Look], tuple[list[str], LabelArea]]] = {
    "actor": actor,
    "process": process,
    "store": store,
    "boundary": boundary,
    "text": text_box,
    "unknown": unknown,
}


def text_block(text: str, area: LabelArea, look: Look, css_class: str = "tmi-label") -> tuple[str, bool]:
    """Wrapped, possibly truncated label lines as one <text>; returns (svg, truncated)."""
    size = look.font_size
    line_height = size * LINE_HEIGHT
    max_lines = max(1, int(max(area.box.height, line_height) // line_height))
    lines, truncated = wrap(text, max(area.box.width, size), size, max_lines)
    if not lines:
        return "", False
    x = area.box.x if area.anchor == "start" else area.box.x + area.box.width / 2
    first_top = area.box.y if area.top else area.box.y + (area.box.height - len(lines) * line_height) / 2
    # Baseline sits ~0.8em under the top of the glyph box; explicit y per line avoids dominant-baseline,
    # which PDF renderers support unevenly.
    spans = [
        svg.element(
            "tspan", {"x": x, "y": first_top + i * line_height + (line_height - size) / 2 + size * 0.8}, text=line
        )
        for i, line in enumerate(lines)
    ]
    return svg.element(
        "text",
        {
            "class": css_class,
            "text-anchor": area.anchor,
            "font-size": float(size),
            "fill": look.text_colour,
            "font-weight": "600" if area.top else None,
        },
        *spans,
    ), truncated


def highlight_box(box: Box) -> str:
    return svg.element(
        "rect",
        {
            "class": "tmi-highlight",
            "x": box.x - 5,
            "y": box.y - 5,
            "width": box.width + 10,
            "height": box.height + 10,
            "rx": 6.0,
            "fill": "none",
            "stroke": HIGHLIGHT_COLOUR,
            "stroke-width": 2.5,
            "stroke-dasharray": "6 3",
        },
    )


def node_svg(node: Node, *, highlighted: bool = False) -> str:
    look = look_for(node.kind, node.style)
    outline, area = SHAPES.get(node.kind, unknown)(node, look)
    label, truncated = text_block(node.label, area, look) if node.label.strip() else ("", False)
    tooltip = svg.element("title", {}, text=node.label) if truncated else ""
    transform = (
        f"rotate({svg.fmt(node.angle)} {svg.fmt(node.center[0])} {svg.fmt(node.center[1])})"
        if node.angle % 360
        else None
    )
    body = svg.group({"transform": transform}, [*outline, label]) if transform else "".join([*outline, label])
    return svg.group(
        {"class": f"tmi-node tmi-{node.kind}", "data-cell-id": node.id, "data-shape": node.shape or None},
        [tooltip, body, highlight_box(node_box(node)) if highlighted else ""],
    )


def edge_label_svg(label: EdgeLabel, points: Sequence[Point], look: Look) -> tuple[str, Box]:
    """A flow label centred on the path at its X6 position, on a white halo so lines never cross the text."""
    (px, py), direction = point_along(points, label.distance)
    if label.offset:  # X6 offsets perpendicular to the path
        normal = math.radians(direction + 90)
        px, py = px + label.offset * math.cos(normal), py + label.offset * math.sin(normal)
    size = look.font_size
    lines, truncated = wrap(label.text, EDGE_LABEL_WIDTH, size, EDGE_LABEL_LINES)
    width = max((text_width(line, size) for line in lines), default=0.0) + 8
    height = len(lines) * size * LINE_HEIGHT + 4
    box = Box(px - width / 2, py - height / 2, width, height)
    text, _ = text_block(label.text, LabelArea(box.expand(-2)), look, css_class="tmi-edge-text")
    halo = svg.element(
        "rect",
        {
            "class": "tmi-halo",
            "x": box.x,
            "y": box.y,
            "width": box.width,
            "height": box.height,
            "rx": 3.0,
            "fill": "#ffffff",
            "fill-opacity": "0.92",
        },
    )
    tooltip = svg.element("title", {}, text=label.text) if truncated else ""
    return svg.group({"class": "tmi-edge-label"}, [tooltip, halo, text]), box


def path_d(points: Sequence[Point], connector: str = "") -> str:
    """Path data through the points: straight legs, or X6's `rounded` corners, or a `smooth` curve."""
    f = svg.fmt
    if connector == "smooth" and len(points) > 2:
        # Catmull-Rom through every point, written as cubic Béziers.
        padded = [points[0], *points, points[-1]]
        curves = []
        for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:]):
            c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
            c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
            curves.append(f"C{f(c1[0])} {f(c1[1])} {f(c2[0])} {f(c2[1])} {f(p2[0])} {f(p2[1])}")
        return f"M{f(points[0][0])} {f(points[0][1])}" + "".join(curves)
    parts = [f"M{f(points[0][0])} {f(points[0][1])}"]
    for a, corner, b in zip(points, points[1:], points[2:]):
        radius = min(CORNER_RADIUS, math.dist(a, corner) / 2, math.dist(corner, b) / 2) if connector == "rounded" else 0
        if radius <= 0:
            parts.append(f"L{f(corner[0])} {f(corner[1])}")
            continue
        into = _towards(corner, a, radius / math.dist(a, corner))
        out = _towards(corner, b, radius / math.dist(corner, b))
        parts.append(f"L{f(into[0])} {f(into[1])}Q{f(corner[0])} {f(corner[1])} {f(out[0])} {f(out[1])}")
    parts.append(f"L{f(points[-1][0])} {f(points[-1][1])}")
    return "".join(parts)


def _towards(origin: Point, target: Point, fraction: float) -> Point:
    return (origin[0] + (target[0] - origin[0]) * fraction, origin[1] + (target[1] - origin[1]) * fraction)


def edge_svg(
    edge: Edge,
    points: Sequence[Point],
    look: Look,
    *,
    marker_start: str | None,
    marker_end: str | None,
    highlighted: bool = False,
) -> tuple[str, list[Box]]:
    """A flow (1.8) or edge (0.217): one path through its vertices, arrowheads from <defs>, then labels."""
    d = path_d(points, edge.connector)
    parts = []
    if highlighted:
        parts.append(
            svg.element(
                "path",
                {
                    "class": "tmi-highlight",
                    "d": d,
                    "fill": "none",
                    "stroke": HIGHLIGHT_COLOUR,
                    "stroke-width": look.stroke_width + 6,
                    "stroke-opacity": "0.35",
                    "stroke-linecap": "round",
                    "stroke-linejoin": "round",
                },
            )
        )
    parts.append(
        svg.element(
            "path",
            {
                "class": "tmi-line",
                "d": d,
                "fill": "none",
                "stroke": look.stroke,
                "stroke-width": float(look.stroke_width),
                "stroke-dasharray": look.dasharray,
                "stroke-linejoin": "round",
                "marker-start": f"url(#{marker_start})" if marker_start else None,
                "marker-end": f"url(#{marker_end})" if marker_end else None,
            },
        )
    )
    boxes = []
    for label in edge.labels:
        label_svg, box = edge_label_svg(label, points, look)
        parts.append(label_svg)
        boxes.append(box)
    return svg.group({"class": "tmi-edge", "data-cell-id": edge.id, "data-shape": edge.shape or None}, parts), boxes
