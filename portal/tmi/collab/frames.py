"""The portal's browser protocol (docs/live-protocol.md): limits, validation of browser frames, and the
builders of the frames the portal sends. Generation-neutral: nothing here knows which TMI is upstream.

A browser frame is validated into a clean dict that holds only the documented fields; anything else,
identity included (`user`, `initiating_user`, `user_id` where not a target), never goes further.
"""
from __future__ import annotations

import json
import math
import uuid
from typing import Any

# TMI closes a socket whose inbound frame exceeds 64 KiB (PROTOCOL.md 7.11); translation adds a wrapper
# and, at 0.217, `initiating_user`, so the browser's frame is held well under that.
MAX_FRAME_BYTES = 32 * 1024
MAX_CELLS = 200
MAX_SELECTION = 500
MAX_USER_ID = 256
CELL_OPERATIONS = ("add", "update", "remove")

# type -> the fields it carries (the validator for each is in `_FIELDS`).
BROWSER_TYPES: dict[str, tuple[str, ...]] = {
    "ops": ("operation_id", "cells"),
    "request_presenter": (),
    "grant_presenter": ("user_id",),
    "deny_presenter": ("user_id",),
    "remove_participant": ("user_id",),
    "cursor": ("x", "y"),
    "selection": ("cell_ids",),
    "undo": (),
    "redo": (),
    "resync": (),
}


class FrameError(ValueError):
    """A browser frame the portal refuses: it becomes an `error` frame and goes no further."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def frame(self) -> dict[str, Any]:
        return error(self.code, self.message)


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _uuid(field: str, value: Any) -> str:
    if not is_uuid(value):
        raise FrameError("invalid_field", f"'{field}' must be a UUID.")
    return value


def number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FrameError("invalid_field", f"'{field}' must be a finite number.")
    return value


def _user_id(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_USER_ID:
        raise FrameError("invalid_field", f"'{field}' must be a non-empty string of at most {MAX_USER_ID} characters.")
    return value


def _cell_op(index: int, op: Any) -> dict[str, Any]:
    where = f"cells[{index}]"
    if not isinstance(op, dict):
        raise FrameError("invalid_field", f"'{where}' must be an object.")
    cell_id = _uuid(f"{where}.id", op.get("id"))
    operation = op.get("operation")
    if operation not in CELL_OPERATIONS:
        raise FrameError("invalid_field", f"'{where}.operation' must be add, update or remove.")
    if operation == "remove":
        return {"id": cell_id, "operation": operation}
    data = op.get("data")
    if not isinstance(data, dict):
        raise FrameError("invalid_field", f"'{where}.data' must be the whole cell (an object) for {operation}.")
    if data.get("id", cell_id) != cell_id:
        raise FrameError("invalid_field", f"'{where}.data.id' must equal '{where}.id'.")
    return {"id": cell_id, "operation": operation, "data": {**data, "id": cell_id}}


def _cells(field: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise FrameError("invalid_field", f"'{field}' must be a non-empty list.")
    if len(value) > MAX_CELLS:
        raise FrameError("too_many_cells", f"At most {MAX_CELLS} cells per operation.")
    return [_cell_op(i, op) for i, op in enumerate(value)]


def _cell_ids(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_SELECTION:
        raise FrameError("invalid_field", f"'{field}' must be a list of at most {MAX_SELECTION} cell ids.")
    return [_uuid(f"{field}[{i}]", v) for i, v in enumerate(value)]


_FIELDS = {"operation_id": _uuid, "cells": _cells, "user_id": _user_id, "x": number, "y": number,
           "cell_ids": _cell_ids}


def parse(raw: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """A browser frame (text, bytes or an already decoded object) as a clean dict, or FrameError."""
    if isinstance(raw, dict):
        text = json.dumps(raw, separators=(",", ":"))
    elif isinstance(raw, (str, bytes)):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    else:
        raise FrameError("invalid_frame", "A frame must be a JSON object.")
    if len(text.encode("utf-8")) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"A frame may be at most {MAX_FRAME_BYTES} bytes.")
    try:
        frame = json.loads(text) if not isinstance(raw, dict) else raw
    except ValueError:
        raise FrameError("invalid_frame", "A frame must be a JSON object.") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "A frame must be a JSON object.")
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in BROWSER_TYPES:
        raise FrameError("unknown_type", f"Unknown frame type {str(kind)[:40]!r}.")
    clean: dict[str, Any] = {"type": kind}
    for field in BROWSER_TYPES[kind]:
        clean[field] = _FIELDS[field](field, frame.get(field))
    return clean


# -- frames the portal sends ----------------------------------------------------------------------
def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def connection(state: str, *, attempt: int | None = None, retry_in: float | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "connection", "state": state}
    if attempt is not None:
        frame["attempt"] = attempt
    if retry_in is not None:
        frame["retry_in"] = retry_in
    return frame


def state(diagram_id: str | None, cells: list[Any], version: int | None) -> dict[str, Any]:
    return {"type": "state", "diagram_id": diagram_id, "cells": cells, "version": version}


def person(user_id: str, name: str, email: str) -> dict[str, str]:
    return {"id": user_id, "name": name, "email": email}
