"""The portal's browser protocol (docs/live-protocol.md): limits, validation of browser frames, and the
builders of the frames the portal sends. Generation-neutral: nothing here knows which TMI is upstream.

A browser frame is validated into a clean dict that holds only the documented fields; anything else,
identity included (`user`, `initiating_user`, `user_id` where not a target), never goes further.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import uuid
from typing import Any

# TMI closes a socket whose inbound frame exceeds 64 KiB (PROTOCOL.md 7.11); translation adds a wrapper
# and, at 0.217, `initiating_user`, so the browser's frame is held well under that.
MAX_FRAME_BYTES = 32 * 1024
MAX_CELLS = 200
MAX_SELECTION = 500
MAX_USER_ID = 256
# Brackets deeper than this are refused before decoding: json.loads recurses per level and raises
# RecursionError near 1000, which must never escape. A real X6 cell nests about 6 levels inside a frame.
MAX_DEPTH = 32
# Integers beyond what a double holds exactly: TMI (Go) and the browser read numbers as doubles.
MAX_SAFE_INTEGER = 2**53
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


_FIELDS = {"operation_id": _uuid, "cells": _cells, "user_id": _user_id, "x": number, "y": number, "cell_ids": _cell_ids}


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NOT_AN_OBJECT = "A frame must be a JSON object."
_NOT_UNICODE = "A frame must be valid Unicode text (no lone surrogates)."


def _depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit`, without decoding anything. (An
    unterminated string's brackets count too; such a frame is not JSON anyway.)"""
    if text.count("{") + text.count("[") <= limit:  # no deeper than it has openings: most frames stop here
        return False
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return bool(brackets) and max(itertools.accumulate(map(_STEP.__getitem__, brackets))) > limit


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > 16 or abs(value := int(digits)) > MAX_SAFE_INTEGER:
        raise FrameError("invalid_field", f"Numbers must lie between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}.")
    return value


def _float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise FrameError("invalid_field", "Numbers must be finite.")
    return value


def _constant(name: str) -> float:
    raise FrameError("invalid_field", f"{name} is not a number the portal accepts; numbers must be finite.")


def _text(raw: str | bytes | dict[str, Any]) -> str:
    """The frame as JSON text, or FrameError: strict UTF-8 for bytes, and a decoded object re-encoded."""
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("invalid_frame", "A frame must be UTF-8 text.") from None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        try:
            return json.dumps(raw, separators=(",", ":"))  # NaN and Infinity are refused when decoded
        except (TypeError, ValueError, RecursionError):
            raise FrameError("invalid_frame", "A frame must be a JSON object.") from None
    raise FrameError("invalid_frame", _NOT_AN_OBJECT)


# Every number is checked as it is decoded. Built once: json.loads with any option builds a decoder and its
# scanner per call, which cost more than the checks (and more than a regular expression that looked for numbers
# that might need them, which this replaces: 8-10 us of a 350-character `ops` frame's 19).
_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def _decode(text: str) -> Any:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate in the text itself
        raise FrameError("invalid_frame", _NOT_UNICODE) from None
    if size > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"A frame may be at most {MAX_FRAME_BYTES} bytes.")
    if _depth_exceeds(text, MAX_DEPTH):
        raise FrameError("too_deep", f"A frame may nest objects and lists at most {MAX_DEPTH} levels deep.")
    try:
        frame = _DECODER.decode(text)
        if _SURROGATE_ESCAPE.search(text):
            # An escaped surrogate may be half a pair (fine) or alone: PostgreSQL, TMI and browsers each
            # treat a lone one differently, so it stops here. Encoding the decoded frame tells which.
            json.dumps(frame, ensure_ascii=False).encode("utf-8")
    except FrameError:
        raise
    except UnicodeEncodeError:
        raise FrameError("invalid_frame", _NOT_UNICODE) from None
    except (ValueError, RecursionError):  # RecursionError cannot happen below MAX_DEPTH; kept as a backstop
        raise FrameError("invalid_frame", _NOT_AN_OBJECT) from None
    return frame


def parse(raw: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """A browser frame (text, bytes or an already decoded object) as a clean dict, or FrameError.

    Raises nothing else, whatever the input: the consumer relies on it."""
    frame = _decode(_text(raw))
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", _NOT_AN_OBJECT)
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in BROWSER_TYPES:
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
        raise FrameError("unknown_type", f"Unknown frame type {shown!r}.")
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
