"""What diagrams add to the generic child rules (PROTOCOL.md 5.4 and 9.3): cells, update_vector,
and no REST writes while a collaboration session is live."""

from __future__ import annotations

import copy
from typing import Any

from portal.sandbox.rest.pipeline import conflict, invalid_input
from portal.sandbox.state import SandboxState

DIAGRAM_TYPE = "DFD-1.0.0"
EDGE_SHAPES = ("flow", "edge")


def fresh(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """A new diagram: `POST` takes only name and type; cells come later by PUT or WebSocket."""
    diagram: dict[str, Any] = {
        "name": body["name"],
        "type": body.get("type", DIAGRAM_TYPE),
        "cells": [],
        "update_vector": 0,
        "image": {},
    }
    if not state.config.is_legacy:
        diagram["auto_generated"] = False
    return diagram


def refuse_during_session(state: SandboxState, diagram_id: str, action: str) -> None:
    if state.has_active_session(diagram_id):
        raise conflict(
            f"Cannot {action} diagram while collaboration session is active. "
            "Please end the collaboration session first."
        )


CELLS_ON_PUT_0217 = "cells is unsupported"


def refuse_cells_on_put(state: SandboxState, diagram_id: str, body: dict[str, Any]) -> None:
    """The real 0.217.8 answers a diagram PUT that carries `cells` with 400 "cells is unsupported"; cells
    change by JSON Patch there (PROTOCOL.md 12b.6). Its spec requires `cells` on PUT, so no PUT passes.
    A live session's 409 is checked first, as on every other diagram write."""
    if not state.config.is_legacy or "cells" not in body:
        return
    refuse_during_session(state, diagram_id, "modify")
    raise invalid_input(CELLS_ON_PUT_0217)


FLAT_GEOMETRY = ("x", "y", "width", "height")
# What the real 1.8.22's Node type writes back when it re-encodes a node (node_unmarshal.go MarshalJSON): the
# flat geometry plus these keys; anything else (zIndex, visible, markup) is dropped, `parent` is always there.
NODE_KEYS_18 = ("angle", "attrs", "children", "data", "id", "parent", "ports", "shape")
CELL_DATA_DEFAULT = {"_metadata": [], "security_boundary": False}


def flat_to_nested(cell: dict[str, Any]) -> dict[str, Any]:
    """0.217's REST writes turn a node's flat x/y/width/height into position/size; nothing else changes.
    Only the whole flat form is turned: a node with part of it is stored as sent (PROTOCOL.md 12.8)."""
    if not isinstance(cell, dict) or cell.get("shape") in EDGE_SHAPES:
        return cell
    if not all(key in cell for key in FLAT_GEOMETRY):
        return cell
    cell = dict(cell)
    cell["position"] = {**(cell.get("position") or {}), "x": cell.pop("x"), "y": cell.pop("y")}
    cell["size"] = {**(cell.get("size") or {}), "width": cell.pop("width"), "height": cell.pop("height")}
    return cell


def _geometry(cell: dict[str, Any]) -> tuple[Any, Any, Any, Any] | None:
    """x, y, width, height: the flat form wins when a node has both (node_unmarshal.go)."""
    if all(key in cell for key in FLAT_GEOMETRY):
        return cell["x"], cell["y"], cell["width"], cell["height"]
    position, size = cell.get("position"), cell.get("size")
    if isinstance(position, dict) and isinstance(size, dict):
        return position.get("x", 0), position.get("y", 0), size.get("width", 0), size.get("height", 0)
    return None


def cell_as_stored_18(cell: Any, *, defaults: bool) -> Any:
    """A cell as the real 1.8.22 stores it from a REST write (seen on the server, 2026-12-04).

    A PUT body passes its OpenAPI validator, which fills the schema's defaults (`defaults=True`): a node's
    `angle` 0, a missing `data` {"_metadata": [], "security_boundary": false}, a `data` without
    `security_boundary` gets false. A cell whose `data` then has `_metadata` is re-encoded by the server's
    metadata sanitiser: a node with its whole geometry (flat, or position and size) comes back flat, x, y,
    width, height, with `parent` (null when unset) and only the keys of NODE_KEYS_18. Anything else stays
    as sent: a node without `_metadata` in its data keeps position/size, a node without size keeps its
    position. A JSON Patch (`defaults=False`) gets no defaults, so only cells that carry `_metadata`
    themselves are re-encoded."""
    if not isinstance(cell, dict):
        return cell
    cell = copy.deepcopy(cell)
    edge = cell.get("shape") in EDGE_SHAPES
    if defaults:
        if not isinstance(cell.get("data"), dict):
            cell["data"] = copy.deepcopy(CELL_DATA_DEFAULT)
        else:
            cell["data"].setdefault("security_boundary", False)
        if not edge:
            cell.setdefault("angle", 0)
    data = cell.get("data")
    if edge or not isinstance(data, dict) or "_metadata" not in data:
        return cell
    geometry = _geometry(cell)
    if geometry is None:
        return cell
    flat = {key: cell[key] for key in NODE_KEYS_18 if key in cell}
    flat["parent"] = cell.get("parent")
    flat.update(zip(FLAT_GEOMETRY, geometry, strict=True))
    return dict(sorted(flat.items()))


def prepare_update(old: dict[str, Any], new: dict[str, Any], *, legacy: bool = False, put: bool = True) -> None:
    """The cells as the generation stores them, update_vector +1 on every REST write (the real servers
    count a rename too: 1.8.22 0->1->2->3->4 for PUT, PUT with the same cells, a rename, PATCH /name; 0.217.8
    PATCH /name +1), and image.update_vector defaulting to the new vector."""
    if legacy:
        new["cells"] = [flat_to_nested(c) for c in new.get("cells") or []]
    else:
        new["cells"] = [cell_as_stored_18(c, defaults=put) for c in new.get("cells") or []]
    vector = (old.get("update_vector") or 0) + 1
    new["update_vector"] = vector
    image = copy.deepcopy(new.get("image") or {})
    if image.get("svg") and image.get("update_vector") is None:
        image["update_vector"] = vector
    new["image"] = image
