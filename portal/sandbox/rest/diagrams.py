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


def flat_to_nested(cell: dict[str, Any]) -> dict[str, Any]:
    """REST PUT/PATCH turn a node's flat x/y/width/height into position/size; nothing else changes.
    Only the whole flat form is turned: a node with part of it (only `x`, `y`, `width`) is stored as sent,
    with no `size` made up (PROTOCOL.md 12.8)."""
    if not isinstance(cell, dict) or cell.get("shape") in EDGE_SHAPES:
        return cell
    if not all(key in cell for key in FLAT_GEOMETRY):
        return cell
    cell = dict(cell)
    if "x" in cell or "y" in cell:
        position = dict(cell.get("position") or {})
        position.update({k: cell.pop(k) for k in ("x", "y") if k in cell})
        cell["position"] = position
    if "width" in cell or "height" in cell:
        size = dict(cell.get("size") or {})
        size.update({k: cell.pop(k) for k in ("width", "height") if k in cell})
        cell["size"] = size
    return cell


def prepare_update(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Normalise cells, bump update_vector only when the cells changed, default image.update_vector."""
    new["cells"] = [flat_to_nested(c) for c in new.get("cells") or []]
    vector = old.get("update_vector") or 0
    if new["cells"] != old.get("cells", []):
        vector += 1
    new["update_vector"] = vector
    image = copy.deepcopy(new.get("image") or {})
    if image.get("svg") and image.get("update_vector") is None:
        image["update_vector"] = vector
    new["image"] = image
