"""Applying one `patch` operation to a diagram's cells (PROTOCOL.md 7.4, shared by both generations).

Cell ops are applied in order straight into the stored cell list. At the first failure
processing stops and the cells already changed stay changed, as in TMI's handler.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

# reason -> requires_resync (PROTOCOL.md 7.4's table)
REJECTION_RESYNC: dict[str, bool] = {
    "invalid_operation_type": False,
    "empty_cell_operations": False,
    "invalid_cell_operation": False,
    "cell_already_exists": True,
    "add_requires_cell_data": False,
    "update_requires_cell_data": False,
    "update_nonexistent_cell": True,
    "cell_not_found_in_diagram": True,
    "no_state_change": False,
    "save_failed": True,
    "diagram_not_found": True,
}


class Rejection(Exception):
    def __init__(self, reason: str, *, details: str | None = None, affected_cells: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
        self.affected_cells = affected_cells or []

    @property
    def requires_resync(self) -> bool:
        return REJECTION_RESYNC[self.reason]


@dataclass
class Change:
    """What one successful operation did: each touched cell's state before and after (None = absent)."""

    before: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    after: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def parse_operation(message: dict[str, Any]) -> dict[str, Any] | None:
    """The `operation` object if it decodes into TMI's Go structs; None means "drop silently"."""
    operation = message.get("operation")
    if not isinstance(operation, dict):
        return None
    cells = operation.get("cells", [])
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return None
    if not isinstance(message.get("operation_id", ""), str):
        return None
    return operation


def apply_patch(cells: list[dict[str, Any]], operation: dict[str, Any]) -> Change:
    """Apply `operation` to `cells` in place; raise Rejection on the first invalid cell op."""
    if operation.get("type") != "patch":
        raise Rejection(
            "invalid_operation_type", details=f"Operation type must be 'patch', got: {operation.get('type', '')}"
        )
    ops = operation.get("cells") or []
    if not ops:
        raise Rejection("empty_cell_operations")
    change = Change()
    seen: set[str] = set()
    for op in ops:
        cell_id = str(op.get("id", ""))
        if cell_id in seen:  # duplicates inside one message: only the first counts
            continue
        seen.add(cell_id)
        _apply_one(cells, op, cell_id, change)
    if not change.after:
        raise Rejection("no_state_change")
    return change


def _apply_one(cells: list[dict[str, Any]], op: dict[str, Any], cell_id: str, change: Change) -> None:
    kind = op.get("operation")
    index = next((i for i, c in enumerate(cells) if c.get("id") == cell_id), None)
    data = op.get("data")
    if kind not in ("add", "update", "remove"):
        raise Rejection("invalid_cell_operation", affected_cells=[cell_id])
    if kind == "remove":
        if index is not None:  # removing a missing cell is a no-op, not an error
            _record(change, cell_id, cells[index], None)
            del cells[index]
        return
    if not isinstance(data, dict):
        raise Rejection(f"{kind}_requires_cell_data", affected_cells=[cell_id])
    if kind == "add" and index is not None:
        raise Rejection("cell_already_exists", affected_cells=[cell_id])
    if kind == "update" and index is None:
        raise Rejection("update_nonexistent_cell", affected_cells=[cell_id])
    cell = {**copy.deepcopy(data), "id": cell_id}  # stored verbatim; an update replaces the whole cell
    if index is None:
        _record(change, cell_id, None, cell)
        cells.append(cell)
    else:
        _record(change, cell_id, cells[index], cell)
        cells[index] = cell


def _record(change: Change, cell_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    change.before.setdefault(cell_id, copy.deepcopy(before))
    change.after[cell_id] = copy.deepcopy(after)


def restore(cells: list[dict[str, Any]], states: dict[str, dict[str, Any] | None]) -> None:
    """Put each listed cell into the given state (undo and redo)."""
    for cell_id, state in states.items():
        index = next((i for i, c in enumerate(cells) if c.get("id") == cell_id), None)
        if state is None:
            if index is not None:
                del cells[index]
        elif index is None:
            cells.append(copy.deepcopy(state))
        else:
            cells[index] = copy.deepcopy(state)
