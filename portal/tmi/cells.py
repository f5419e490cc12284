"""Diagram cells (X6 nodes and edges) in both generations' shapes.

TMI stores cells verbatim (PROTOCOL.md 5.4), so a cell keeps every key it came with (`raw`), and the typed
fields are a normalised reading of it: flat `x/y/width/height` or `position/size`, a label from
`attrs.text.text` (or the guide's flat `label`), edges shaped `flow` (1.8) or `edge` (0.217).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, model_validator

EDGE_SHAPES = frozenset({"flow", "edge"})


def is_edge(cell: Any) -> bool:
    if isinstance(cell, BaseCell):
        return isinstance(cell, Edge)
    if not isinstance(cell, dict):
        return False
    return cell.get("shape") in EDGE_SHAPES or ("source" in cell and "target" in cell)


def _text_of(attrs: Any) -> str | None:
    text = attrs.get("text") if isinstance(attrs, dict) else None
    value = text.get("text") if isinstance(text, dict) else None
    return value if isinstance(value, str) else None


def _endpoint(value: Any) -> tuple[str | None, str | None]:
    """(cell id, port) of an edge end: `{"cell", "port"}` or a bare id."""
    if isinstance(value, dict):
        return value.get("cell"), value.get("port")
    return (value if isinstance(value, str) else None), None


class BaseCell(BaseModel):
    """A cell: typed fields read from `raw`, which is the cell exactly as TMI sent it."""

    model_config = ConfigDict(extra="ignore", frozen=False)

    id: str
    shape: str = ""
    label: str | None = None
    parent: str | None = None
    raw: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _keep_raw(cls, data: Any) -> Any:
        if isinstance(data, dict) and "raw" not in data:
            return {**cls._read(data), "raw": dict(data)}
        return data

    @classmethod
    def _read(cls, cell: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": cell.get("id"),
            "shape": cell.get("shape") or "",
            "parent": cell.get("parent"),
            "label": _text_of(cell.get("attrs")) or cell.get("label"),
        }

    def to_wire(self, *, edge_shape: str | None = None) -> dict[str, Any]:
        """The cell to send back: the stored dict, with the edge shape of the target generation."""
        return dict(self.raw)


class Node(BaseCell):
    kind: Literal["node"] = "node"
    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None

    @classmethod
    def _read(cls, cell: dict[str, Any]) -> dict[str, Any]:
        position = cell.get("position") if isinstance(cell.get("position"), dict) else {}
        size = cell.get("size") if isinstance(cell.get("size"), dict) else {}
        return {
            **super()._read(cell),
            "x": cell.get("x", position.get("x")),
            "y": cell.get("y", position.get("y")),
            "width": cell.get("width", size.get("width")),
            "height": cell.get("height", size.get("height")),
        }


class Edge(BaseCell):
    kind: Literal["edge"] = "edge"
    source_id: str | None = None
    source_port: str | None = None
    target_id: str | None = None
    target_port: str | None = None

    @classmethod
    def _read(cls, cell: dict[str, Any]) -> dict[str, Any]:
        source, source_port = _endpoint(cell.get("source"))
        target, target_port = _endpoint(cell.get("target"))
        labels = cell.get("labels") if isinstance(cell.get("labels"), list) else []
        label = next((t for t in (_text_of(item.get("attrs")) for item in labels if isinstance(item, dict)) if t), None)
        read = super()._read(cell)
        return {
            **read,
            "label": label or read["label"],
            "source_id": source,
            "source_port": source_port,
            "target_id": target,
            "target_port": target_port,
        }

    def to_wire(self, *, edge_shape: str | None = None) -> dict[str, Any]:
        wire = dict(self.raw)
        if edge_shape and wire.get("shape") in EDGE_SHAPES:
            wire["shape"] = edge_shape
        return wire


Cell = Annotated[
    Annotated[Node, Tag("node")] | Annotated[Edge, Tag("edge")],
    Discriminator(lambda cell: "edge" if is_edge(cell) else "node"),
]


def cells_to_wire(cells: list[Any], *, edge_shape: str) -> list[dict[str, Any]]:
    """Cells (models or dicts) as the server of one generation wants them: edges get its edge shape."""
    wire: list[dict[str, Any]] = []
    for cell in cells:
        if isinstance(cell, BaseCell):
            wire.append(cell.to_wire(edge_shape=edge_shape))
        elif is_edge(cell) and cell.get("shape") in EDGE_SHAPES:
            wire.append({**cell, "shape": edge_shape})
        else:
            wire.append(dict(cell))
    return wire
