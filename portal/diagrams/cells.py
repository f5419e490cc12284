"""Raw TMI cells -> typed Node / Edge values, tolerant of both generations and of garbage.

TMI stores cells verbatim (PROTOCOL.md 5.4), so anything a client ever sent can come back: the guide's flat
`x/y/width/height/label`, X6's `position/size/attrs`, edges shaped `flow` (1.8) or `edge` (0.217), and plain
junk. Every reader here returns a safe default instead of raising; strings stay raw (the SVG layer escapes
and validates them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EDGE_SHAPES = frozenset({"flow", "edge"})
NODE_KINDS = {
    "actor": "actor",
    "process": "process",
    "store": "store",
    "security-boundary": "boundary",
    "text-box": "text",
}
# Coordinates beyond this are clamped: a stray 1e308 must not blow the viewBox up to nothing.
COORD_LIMIT = 100_000.0
MAX_SIZE = 20_000.0
MIN_SIZE = 4.0
MAX_CELLS = 5_000
MAX_LABEL_CHARS = 2_000
# X6 / TMI-UX default sizes, used when a node arrives without one.
DEFAULT_SIZES = {
    "actor": (120.0, 60.0),
    "process": (120.0, 60.0),
    "store": (120.0, 60.0),
    "boundary": (300.0, 200.0),
    "text": (120.0, 40.0),
    "unknown": (120.0, 60.0),
}


@dataclass(frozen=True)
class Style:
    """Presentation attributes exactly as sent (unvalidated strings; numbers already sanitised)."""

    fill: str | None = None
    stroke: str | None = None
    stroke_width: float | None = None
    dasharray: str | None = None
    font_size: float | None = None
    text_color: str | None = None


@dataclass(frozen=True)
class Node:
    id: str
    shape: str
    kind: str  # actor | process | store | boundary | text | unknown
    x: float
    y: float
    width: float
    height: float
    angle: float = 0.0
    label: str = ""
    style: Style = field(default_factory=Style)
    parent: str | None = None
    children: tuple[str, ...] = ()
    ports: dict[str, str] = field(default_factory=dict)  # port id -> group (top/right/bottom/left/...)
    z: float = 1.0
    visible: bool = True

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Terminal:
    """One end of an edge: a node (and maybe a port) or a free point."""

    cell: str | None = None
    port: str | None = None
    point: tuple[float, float] | None = None


@dataclass(frozen=True)
class EdgeLabel:
    text: str
    distance: float = 0.5  # X6 semantics: 0..1 = fraction of the length, >1 = px from start, <0 = px from end
    offset: float = 0.0


@dataclass(frozen=True)
class Edge:
    id: str
    shape: str
    source: Terminal
    target: Terminal
    vertices: tuple[tuple[float, float], ...] = ()
    labels: tuple[EdgeLabel, ...] = ()
    style: Style = field(default_factory=Style)
    source_marker: str = ""  # "" (none) | arrow | diamond | circle
    target_marker: str = "arrow"
    router: str = ""  # X6 router name: normal | orth | manhattan | metro | er | one_side
    connector: str = ""  # X6 connector name: normal | rounded | smooth | jumpover
    z: float = 1.0
    visible: bool = True


Cell = Node | Edge


def number(
    value: Any, default: float | None = None, *, low: float = -COORD_LIMIT, high: float = COORD_LIMIT
) -> float | None:
    """A finite number clamped to [low, high], from an int, float or numeric string; else `default`."""
    if isinstance(value, bool):
        return default
    if isinstance(value, str):
        try:
            value = float(value.strip()[:40])
        except ValueError:
            return default
    if not isinstance(value, (int, float)):
        return default
    try:
        value = float(value)
    except OverflowError:  # ints too large for a float
        return high if value > 0 else low
    if math.isnan(value):
        return default
    return min(max(value, low), high)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A label-ish value as text: strings as-is, numbers printed, anything else ignored."""
    if isinstance(value, str):
        return value[:MAX_LABEL_CHARS]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _id(raw: dict[str, Any], fallback: str) -> str:
    value = raw.get("id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)[:200]
    return fallback


def _style(attrs: dict[str, Any], part: str) -> Style:
    body, text = _dict(attrs.get(part)), _dict(attrs.get("text") or attrs.get("label"))
    return Style(
        fill=_str_or_none(body.get("fill")),
        stroke=_str_or_none(body.get("stroke")),
        stroke_width=number(body.get("strokeWidth"), None, low=0, high=20),
        dasharray=_str_or_none(body.get("strokeDasharray")),
        font_size=number(text.get("fontSize"), None, low=6, high=72),
        text_color=_str_or_none(text.get("fill")),
    )


def _node_label(raw: dict[str, Any], attrs: dict[str, Any]) -> str:
    for candidate in (_dict(attrs.get("text")).get("text"), _dict(attrs.get("label")).get("text"), raw.get("label")):
        text = _text(candidate)
        if text is not None:
            return text
    return ""


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(item[:200] for item in value[:MAX_CELLS] if isinstance(item, str)) if isinstance(value, list) else ()


def _ports(raw: dict[str, Any]) -> dict[str, str]:
    ports = raw.get("ports")
    items = ports.get("items") if isinstance(ports, dict) else ports if isinstance(ports, list) else []
    result: dict[str, str] = {}
    for item in items[:100] if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("group"), str):
            result[item["id"]] = item["group"]
    return result


def _geometry(raw: dict[str, Any], kind: str) -> tuple[float, float, float, float] | None:
    position, size = _dict(raw.get("position")), _dict(raw.get("size"))
    x = number(raw.get("x", position.get("x")))
    y = number(raw.get("y", position.get("y")))
    if x is None or y is None:
        return None  # nowhere to draw it
    default_w, default_h = DEFAULT_SIZES[kind]
    width = number(raw.get("width", size.get("width")), default_w, low=MIN_SIZE, high=MAX_SIZE)
    height = number(raw.get("height", size.get("height")), default_h, low=MIN_SIZE, high=MAX_SIZE)
    return x, y, width, height


def _visible(raw: dict[str, Any]) -> bool:
    return raw.get("visible") is not False


def _z(raw: dict[str, Any]) -> float:
    return number(raw.get("zIndex"), 1.0, low=-1e6, high=1e6)


def normalise_node(raw: dict[str, Any], fallback_id: str = "") -> Node | None:
    shape = _shape(raw)
    kind = NODE_KINDS.get(shape, "unknown")
    geometry = _geometry(raw, kind)
    if geometry is None:
        return None
    attrs = _dict(raw.get("attrs"))
    return Node(
        id=_id(raw, fallback_id),
        shape=shape,
        kind=kind,
        x=geometry[0],
        y=geometry[1],
        width=geometry[2],
        height=geometry[3],
        angle=number(raw.get("angle"), 0.0, low=-3600, high=3600),
        label=_node_label(raw, attrs),
        style=_style(attrs, "body"),
        parent=_str_or_none(raw.get("parent")),
        children=_ids(raw.get("children")),
        ports=_ports(raw),
        z=_z(raw),
        visible=_visible(raw),
    )


def _point(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    x, y = number(value.get("x")), number(value.get("y"))
    return None if x is None or y is None else (x, y)


def _terminal(value: Any) -> Terminal | None:
    if isinstance(value, str) and value:
        return Terminal(cell=value[:200])
    if not isinstance(value, dict):
        return None
    cell = _str_or_none(value.get("cell"))
    if cell:
        return Terminal(cell=cell, port=_str_or_none(value.get("port")))
    point = _point(value)
    return Terminal(point=point) if point else None


def _edge_label(value: Any) -> EdgeLabel | None:
    if isinstance(value, str):  # X6 accepts bare strings as labels
        return EdgeLabel(text=value[:MAX_LABEL_CHARS]) if value.strip() else None
    if not isinstance(value, dict):
        return None
    attrs = _dict(value.get("attrs"))
    text = _text(_dict(attrs.get("text")).get("text")) or _text(_dict(attrs.get("label")).get("text"))
    if not text or not text.strip():
        return None
    position = value.get("position")
    if isinstance(position, dict):
        distance = number(position.get("distance"), 0.5)
        offset = number(position.get("offset"), 0.0, low=-200, high=200)  # {x, y} offsets read as 0
    else:
        distance, offset = number(position, 0.5), 0.0
    return EdgeLabel(text=text, distance=distance, offset=offset)


MARKER_KINDS = {"diamond": "diamond", "circle": "circle", "ellipse": "circle", "circlePlus": "circle"}


def _marker(line: dict[str, Any], key: str, default: str) -> str:
    """X6 marker -> "" (none), "arrow", "diamond" or "circle". Absent -> `default`; null / "" -> none;
    a name or {name: ...}; custom {tagName: ...} markers are drawn as arrows."""
    if key not in line:
        return default
    value = line[key]
    if isinstance(value, dict):
        value = value.get("name", "custom" if value else "")
    if not isinstance(value, str) or value.strip().lower() in ("", "none"):
        return ""
    return MARKER_KINDS.get(value.strip(), "arrow")


def _name(value: Any) -> str:
    """X6 routers and connectors come as a name or {name, args}."""
    if isinstance(value, dict):
        value = value.get("name")
    return value[:40] if isinstance(value, str) else ""


def normalise_edge(raw: dict[str, Any], fallback_id: str = "") -> Edge | None:
    source, target = _terminal(raw.get("source")), _terminal(raw.get("target"))
    if source is None or target is None:
        return None
    attrs = _dict(raw.get("attrs"))
    line = _dict(attrs.get("line"))
    vertices = raw.get("vertices")
    labels = raw.get("labels")
    label_list = [_edge_label(item) for item in labels[:20]] if isinstance(labels, list) else []
    flat = _text(raw.get("label"))  # the guide's flat form
    if flat and flat.strip():
        label_list.append(EdgeLabel(text=flat))
    if not any(label_list):  # TMI's schema: defaultLabel applies to edges without labels of their own
        label_list.append(_edge_label(raw.get("defaultLabel")))
    return Edge(
        id=_id(raw, fallback_id),
        shape=_shape(raw),
        source=source,
        target=target,
        vertices=tuple(p for p in (_point(v) for v in vertices[:200]) if p) if isinstance(vertices, list) else (),
        labels=tuple(label for label in label_list if label),
        style=_style(attrs, "line"),
        source_marker=_marker(line, "sourceMarker", ""),
        target_marker=_marker(line, "targetMarker", "arrow"),
        router=_name(raw.get("router")),
        connector=_name(raw.get("connector")),
        z=_z(raw),
        visible=_visible(raw),
    )


def _shape(raw: dict[str, Any]) -> str:
    shape = raw.get("shape")
    return shape[:100] if isinstance(shape, str) else ""


def is_edge(raw: dict[str, Any]) -> bool:
    if _shape(raw) in EDGE_SHAPES:
        return True
    has_geometry = any(key in raw for key in ("position", "size", "x", "y"))
    return not has_geometry and "source" in raw and "target" in raw


def normalise_cell(raw: Any, fallback_id: str = "") -> Cell | None:
    """One raw cell -> Node, Edge, or None when it cannot be drawn. Accepts objects with a `.raw` dict too."""
    if not isinstance(raw, dict):
        raw = getattr(raw, "raw", None)
        if not isinstance(raw, dict):
            return None
    try:
        return normalise_edge(raw, fallback_id) if is_edge(raw) else normalise_node(raw, fallback_id)
    except (TypeError, ValueError, AttributeError, RecursionError):
        return None  # belt and braces: user data must never take a page down


def normalise_cells(raw_cells: Any) -> list[Cell]:
    """Every drawable cell, in input order; duplicate ids keep the last one (as X6 would)."""
    if not isinstance(raw_cells, (list, tuple)):
        return []
    by_id: dict[str, Cell] = {}
    for index, raw in enumerate(raw_cells[:MAX_CELLS]):
        cell = normalise_cell(raw, fallback_id=f"cell-{index}")
        if cell is not None:
            by_id.pop(cell.id, None)
            by_id[cell.id] = cell
    return list(by_id.values())


def split(cells: Iterable[Cell]) -> tuple[dict[str, Node], list[Edge]]:
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    for cell in cells:
        if isinstance(cell, Node):
            nodes[cell.id] = cell
        else:
            edges.append(cell)
    return nodes, edges
