"""The entry point: raw TMI cells -> one self-contained SVG string (pages, the live view, PDF exports).

    render_svg(cells, title="Checkout", id_prefix="dfd1", highlight={"cell-id"})

Nothing here raises on user data: cells that cannot be drawn are skipped (see cells.py), and the output
never contains scripts, event attributes, foreignObject or external references.

Paint order (`_order`), in layers, back to front:

1. boundaries (trust zones are backgrounds, whatever their zIndex);
2. flows/edges (1.8 `flow`, 0.217 `edge`), each with its labels in its own `<g>`;
3. every other node (actors, processes, stores, text).

Within a layer cells follow their zIndex, ties keep the input order. zIndex does not move a cell across
layers: TMI-UX gives edges a zIndex of their own (often above the nodes'), and honouring it across layers
drew lines through node text. A line starts and ends on node outlines, so with nodes above it no line
crosses a node's label. Edge labels travel with their edge (one `<g>` per cell, which the live view swaps
by `data-cell-id`), so they sit below nodes; `_free_labels` therefore slides a label that would overlap a
node's box along its path to the nearest spot clear of every node (keeping it where X6 put it when no such
spot exists), and the label's white halo keeps other lines off its text.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from portal.diagrams import svg
from portal.diagrams.cells import Edge, EdgeLabel, Node, Terminal
from portal.diagrams.geometry import (
    Box,
    Point,
    border_point,
    bounding_box,
    fit_view_box,
    node_box,
    orthogonal,
    port_point,
)
from portal.diagrams.shapes import Look, edge_label_svg, edge_svg, look_for, node_svg
from portal.diagrams.summary import describe, kind_counts, visible_parts

MARGIN = 24.0
DEFAULT_TITLE = "Data flow diagram"
SELF_LOOP_REACH = 36.0
ORTHOGONAL_ROUTERS = frozenset({"orth", "manhattan", "metro", "er", "oneSide", "one_side"})


@dataclass(frozen=True)
class Fragment:
    """One drawn cell: its id and its `<g>`; the live page can swap fragments by `data-cell-id`."""

    cell_id: str
    svg: str
    boxes: tuple[Box, ...]


MARKER_PATHS = {
    # (path at the end of a line, path at its start), in a 10 x 10 box whose (10, 5) / (0, 5) touches the node.
    "arrow": ("M0 0L10 5L0 10Z", "M10 0L0 5L10 10Z"),
    "diamond": ("M0 5L5 0L10 5L5 10Z", "M0 5L5 0L10 5L5 10Z"),
    "circle": ("M0 5A5 5 0 1 0 10 5A5 5 0 1 0 0 5Z", "M0 5A5 5 0 1 0 10 5A5 5 0 1 0 0 5Z"),
}


class Markers:
    """Line-end markers, defined once per kind, colour and end in <defs>, with ids inside the SVG's namespace.

    SVG 1.1 markers cannot inherit the line's colour (context-stroke is SVG 2, unknown to PDF renderers),
    hence one marker per colour actually used. The id derives from its key, so fragments rendered at
    different times for the same page (the live view) agree on it.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.ids: dict[tuple[str, str, bool], str] = {}

    def get(self, kind: str, colour: str, *, start: bool) -> str | None:
        if kind not in MARKER_PATHS:
            return None
        key = (kind, colour, start)
        if key not in self.ids:
            digest = hashlib.sha1(colour.encode()).hexdigest()[:8]
            self.ids[key] = f"{self.prefix}-{kind}-{'start' if start else 'end'}-{digest}"
        return self.ids[key]

    def defs(self) -> str:
        return "".join(
            svg.element(
                "marker",
                {
                    "id": marker_id,
                    "viewBox": "0 0 10 10",
                    "refX": "0" if start else "10",
                    "refY": "5",
                    "markerWidth": "8",
                    "markerHeight": "8",
                    "orient": "auto",
                },
                svg.element("path", {"d": MARKER_PATHS[kind][start], "fill": colour}),
            )
            for (kind, colour, start), marker_id in self.ids.items()
        )


def _reference(terminal: Terminal, node: Node | None) -> Point:
    """Where an end is, roughly: the node's centre or the free point (cells.py guarantees one of them)."""
    return node.center if node is not None else terminal.point or (0.0, 0.0)


def _anchor(terminal: Terminal, node: Node | None, toward: Point) -> Point:
    """Where the line touches an end: the named side port, else the outline facing `toward`."""
    if node is None:
        return _reference(terminal, None)
    return port_point(node, terminal.port) or border_point(node, toward)


def _inner(terminal: Terminal, node: Node | None) -> Point:
    """The point an end's line aims from: its port, else the node's centre (or the free point)."""
    return (port_point(node, terminal.port) if node is not None else None) or _reference(terminal, node)


def route(edge: Edge, nodes: dict[str, Node]) -> list[Point] | None:
    """Border of the source -> vertices -> border of the target; None when an end is missing."""
    ends = []
    for terminal in (edge.source, edge.target):
        node = nodes.get(terminal.cell) if terminal.cell else None
        if terminal.cell and node is None:
            return None  # points at a cell that is gone or hidden
        ends.append(node)
    source, target = ends
    vertices = list(edge.vertices)
    if source is not None and source is target and not vertices:
        # A self-flow with no vertices would collapse to a dot: loop it out of the right-hand side.
        x, (_, cy) = node_box(source).right + SELF_LOOP_REACH, source.center
        vertices = [(x, cy - source.height / 4), (x, cy + source.height / 4)]
    if edge.router in ORTHOGONAL_ROUTERS:
        # Elbows between the ends' inner points, then clip the first and last legs at the outlines.
        ends = [node_box(n) for n in (source, target) if n is not None]
        elbows = orthogonal([_inner(edge.source, source), *vertices, _inner(edge.target, target)], ends)
        start, end = _anchor(edge.source, source, elbows[1]), _anchor(edge.target, target, elbows[-2])
        return [start, *elbows[1:-1], end]
    start = _anchor(edge.source, source, vertices[0] if vertices else _reference(edge.target, target))
    end = _anchor(edge.target, target, vertices[-1] if vertices else _reference(edge.source, source))
    return [start, *vertices, end]


BOUNDARY_LAYER, EDGE_LAYER, NODE_LAYER = 0, 1, 2
# Where a label may slide to, as fractions of the path, tried nearest to the label's own place first.
LABEL_SPOTS = tuple(i / 20 for i in range(3, 18))


def _layer(cell: Node | Edge) -> int:
    if isinstance(cell, Edge):
        return EDGE_LAYER
    return BOUNDARY_LAYER if cell.kind == "boundary" else NODE_LAYER


def _order(cells: Iterable[Node | Edge]) -> list[Node | Edge]:
    """Boundaries, then edges, then the other nodes (see the module docstring); zIndex, then input order,
    within each layer."""
    indexed = list(enumerate(cells))
    indexed.sort(key=lambda item: (_layer(item[1]), item[1].z, item[0]))
    return [cell for _, cell in indexed]


def _overlaps(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def _label_fraction(label: EdgeLabel, length: float) -> float:
    """The label's X6 distance as a fraction of the path's length."""
    if not length:
        return 0.5
    if 0 <= label.distance <= 1:
        return label.distance
    if label.distance > 1:
        return min(label.distance / length, 1.0)
    return max((length + label.distance) / length, 0.0)


def _free_labels(edge: Edge, points: list[Point], look: Look, obstacles: list[Box]) -> Edge:
    """The edge with each label that overlaps a node's box moved along the path to the nearest clear spot
    (one not overlapping any node box nor an earlier label of this edge); unchanged when none is clear."""
    if not edge.labels or not obstacles:
        return edge
    length = sum(((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for a, b in zip(points, points[1:]))
    placed: list[Box] = []
    labels = []
    for label in edge.labels:
        chosen, box = label, edge_label_svg(label, points, look)[1]
        if any(_overlaps(box, other) for other in (*obstacles, *placed)):
            here = _label_fraction(label, length)
            for spot in sorted(LABEL_SPOTS, key=lambda f: (abs(f - here), f)):
                moved = dataclasses.replace(label, distance=spot)
                moved_box = edge_label_svg(moved, points, look)[1]
                if not any(_overlaps(moved_box, other) for other in (*obstacles, *placed)):
                    chosen, box = moved, moved_box
                    break
        labels.append(chosen)
        placed.append(box)
    return dataclasses.replace(edge, labels=tuple(labels))


def cell_fragments(cells: Any, *, id_prefix: str, highlight: Iterable[str] = ()) -> tuple[list[Fragment], str]:
    """Every visible cell drawn, in paint order, and the <defs> content (arrowheads) they refer to."""
    markers = Markers(svg.new_id_prefix(id_prefix))
    nodes, edges = visible_parts(cells)
    return _draw(nodes, edges, markers, frozenset(highlight)), markers.defs()


def _draw(nodes: dict[str, Node], edges: list[Edge], markers: Markers, highlight: frozenset[str]) -> list[Fragment]:
    fragments = []
    obstacles = [node_box(n) for n in nodes.values() if n.kind != "boundary"]
    for cell in _order([*nodes.values(), *edges]):
        if isinstance(cell, Node):
            fragments.append(Fragment(cell.id, node_svg(cell, highlighted=cell.id in highlight), (node_box(cell),)))
            continue
        points = route(cell, nodes)
        if points is None:
            continue
        look = look_for("edge", cell.style)
        cell = _free_labels(cell, points, look, obstacles)
        drawn, label_boxes = edge_svg(
            cell,
            points,
            look,
            highlighted=cell.id in highlight,
            marker_start=markers.get(cell.source_marker, look.stroke, start=True),
            marker_end=markers.get(cell.target_marker, look.stroke, start=False),
        )
        fragments.append(Fragment(cell.id, drawn, (bounding_box(points), *label_boxes)))
    return fragments


def _size(view_box: Box, width: float | None, height: float | None) -> tuple[float | None, float | None]:
    """Explicit width/height attributes; when only one is given the other follows the aspect ratio."""
    w = float(width) if width and width > 0 else None
    h = float(height) if height and height > 0 else None
    if w and not h:
        h = round(w * view_box.height / view_box.width, 2)
    elif h and not w:
        w = round(h * view_box.width / view_box.height, 2)
    return w, h


def _empty_note(view_box: Box) -> str:
    return svg.element(
        "text",
        {
            "class": "tmi-empty",
            "x": view_box.x + view_box.width / 2,
            "y": view_box.y + view_box.height / 2,
            "text-anchor": "middle",
            "font-size": "13",
            "fill": "#6b7280",
        },
        text="This diagram is empty.",
    )


def render_svg(
    cells: Any,
    *,
    title: str = "",
    width: float | None = None,
    height: float | None = None,
    id_prefix: str | None = None,
    highlight: Iterable[str] | None = None,
    margin: float = MARGIN,
) -> svg.SafeSVG:
    """One self-contained <svg> for a diagram's cells (both TMI generations, any junk tolerated).

    `id_prefix` namespaces the ids inside (random when not a plain identifier), so several diagrams can
    share a page; `highlight` outlines the given cell ids (the presenter's selection in the live view).
    The result is a str that Django templates treat as safe (it has `__html__`): `{{ svg }}` inlines it.
    """
    prefix = svg.new_id_prefix(id_prefix)
    selected = frozenset(h for h in (highlight or ()) if isinstance(h, str))
    markers = Markers(prefix)
    nodes, edges = visible_parts(cells)
    fragments = _draw(nodes, edges, markers, selected)
    view_box = fit_view_box([box for fragment in fragments for box in fragment.boxes], margin)
    description = describe(kind_counts(nodes, edges))
    body = "".join(f.svg for f in fragments) or _empty_note(view_box)
    w, h = _size(view_box, width, height)
    return svg.document(
        view_box=(view_box.x, view_box.y, view_box.width, view_box.height),
        title=svg.clean_text(str(title or "")).strip()[:300] or DEFAULT_TITLE,
        description=description,
        defs=markers.defs(),
        body=svg.group({"class": "tmi-cells"}, [body]),
        id_prefix=prefix,
        width=w,
        height=h,
    )
