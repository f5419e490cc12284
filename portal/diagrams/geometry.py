"""Plane geometry for the renderer: boxes, rotation, shape borders, points along a path, text wrapping."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from portal.diagrams.cells import Node

Point = tuple[float, float]
# Average advance of a sans-serif glyph relative to the font size: good enough to wrap without font metrics.
CHAR_WIDTH = 0.56
LINE_HEIGHT = 1.25
ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def contains(self, other: Box, slack: float = 0.0) -> bool:
        return (
            self.x - slack <= other.x
            and self.y - slack <= other.y
            and other.right <= self.right + slack
            and other.bottom <= self.bottom + slack
        )

    def expand(self, margin: float) -> Box:
        return Box(self.x - margin, self.y - margin, self.width + 2 * margin, self.height + 2 * margin)


def rotate(point: Point, center: Point, degrees: float) -> Point:
    if not degrees:
        return point
    rad = math.radians(degrees)
    cos, sin = math.cos(rad), math.sin(rad)
    dx, dy = point[0] - center[0], point[1] - center[1]
    return (center[0] + dx * cos - dy * sin, center[1] + dx * sin + dy * cos)


def node_box(node: Node) -> Box:
    """The axis-aligned box around a node, rotation included."""
    box = Box(node.x, node.y, node.width, node.height)
    if not node.angle % 360:
        return box
    corners = [
        rotate(p, node.center, node.angle)
        for p in ((box.x, box.y), (box.right, box.y), (box.right, box.bottom), (box.x, box.bottom))
    ]
    return bounding_box(corners)


def bounding_box(points: Iterable[Point]) -> Box:
    xs, ys = zip(*points)
    return Box(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def border_point(node: Node, toward: Point) -> Point:
    """Where the ray from the node's centre toward `toward` leaves the node's outline."""
    center = node.center
    local = rotate(toward, center, -node.angle)
    dx, dy = local[0] - center[0], local[1] - center[1]
    if math.hypot(dx, dy) < 1e-9:
        dx, dy = 1.0, 0.0  # degenerate: aim right rather than divide by zero
    half_w, half_h = node.width / 2, node.height / 2
    if node.kind == "process":  # drawn as an ellipse
        scale = 1 / math.sqrt((dx / half_w) ** 2 + (dy / half_h) ** 2)
    else:
        scale = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
    x, y = center[0] + dx * scale, center[1] + dy * scale
    if node.kind == "store":
        y = _onto_cylinder(node, x, y)
    return rotate((x, y), center, node.angle)


def store_cap(height: float) -> float:
    """Vertical radius of a data store's elliptic top and bottom."""
    return min(height * 0.14, 12.0)


def _onto_cylinder(node: Node, x: float, y: float) -> float:
    """Move a point of the store's box vertically onto its drawn outline (the caps are curved)."""
    cap = store_cap(node.height)
    bulge = cap * math.sqrt(max(0.0, 1 - ((x - node.center[0]) / (node.width / 2)) ** 2))
    if y < node.y + cap:
        return node.y + cap - bulge
    if y > node.y + node.height - cap:
        return node.y + node.height - cap + bulge
    return y


PORT_SIDES = {"top": (0.5, 0.0), "right": (1.0, 0.5), "bottom": (0.5, 1.0), "left": (0.0, 0.5)}


def port_point(node: Node, port: str | None) -> Point | None:
    """The anchor of a named port, for TMI-UX's four side ports; None when the port is unknown."""
    side = PORT_SIDES.get(node.ports.get(port or "", ""))
    if side is None:
        return None
    point = (node.x + node.width * side[0], node.y + node.height * side[1])
    return rotate(point, node.center, node.angle)


def orthogonal(points: Sequence[Point], avoid: Sequence[Box] = ()) -> list[Point]:
    """X6's `orth` idea without obstacle search: an elbow wherever two points are not aligned, leaving along
    the longer axis first; an elbow that would sit inside one of the `avoid` boxes (the end nodes) is
    swapped for the other corner, or dropped when both are inside."""
    routed = [points[0]]
    for b in points[1:]:
        a = routed[-1]
        if abs(a[0] - b[0]) > 0.5 and abs(a[1] - b[1]) > 0.5:
            corners = [(b[0], a[1]), (a[0], b[1])]
            if abs(b[0] - a[0]) < abs(b[1] - a[1]):
                corners.reverse()
            free = [c for c in corners if not any(box.contains(Box(c[0], c[1], 0, 0)) for box in avoid)]
            routed.extend(free[:1])
        routed.append(b)
    return routed


def path_length(points: Sequence[Point]) -> float:
    return sum(math.dist(a, b) for a, b in zip(points, points[1:]))


def point_along(points: Sequence[Point], distance: float) -> tuple[Point, float]:
    """The point at X6 label `distance` along a polyline, and the direction there (degrees).

    X6 reads 0..1 as a fraction of the length, anything above 1 as pixels from the start, and a negative
    value as pixels back from the end.
    """
    total = path_length(points)
    if 0 <= distance <= 1:
        wanted = total * distance
    elif distance > 1:
        wanted = min(distance, total)
    else:
        wanted = max(total + distance, 0.0)
    for a, b in zip(points, points[1:]):
        step = math.dist(a, b)
        if step and wanted <= step:
            t = wanted / step
            return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t), math.degrees(
                math.atan2(b[1] - a[1], b[0] - a[0])
            )
        wanted -= step
    return points[-1], 0.0


def text_width(text: str, font_size: float) -> float:
    return len(text) * font_size * CHAR_WIDTH


def wrap(text: str, max_width: float, font_size: float, max_lines: int) -> tuple[list[str], bool]:
    """Greedy word wrap by estimated width. Returns the lines and whether anything was cut off."""
    per_line = max(1, int(max_width / (font_size * CHAR_WIDTH) + 1e-6))
    max_lines = max(1, max_lines)
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        current = ""
        for word in paragraph.split():
            while len(word) > per_line:  # hard-break words wider than the line
                if current:
                    lines.append(current)
                    current = ""
                lines.append(word[:per_line])
                word = word[per_line:]
            candidate = f"{current} {word}" if current else word
            if len(candidate) <= per_line:
                current = candidate
            else:
                lines.append(current)
                current = word
        lines.append(current)
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) <= max_lines:
        return lines, False
    kept = lines[:max_lines]
    last = kept[-1][: max(0, per_line - 1)].rstrip()
    kept[-1] = last + ELLIPSIS
    return kept, True


def fit_view_box(boxes: Iterable[Box], margin: float) -> Box:
    boxes = list(boxes)
    if not boxes:
        return Box(0, 0, 200, 100)
    total = boxes[0]
    for box in boxes[1:]:
        total = total.union(box)
    return total.expand(margin)
