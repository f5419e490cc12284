"""Finding the threat model and diagram a collaboration request names, with TMI's gate errors.

Shared by the collaboration REST routes and the WebSocket pre-upgrade checks (PROTOCOL.md 4, 6.2,
9.3, 9.4). The failure cases differ only in the 403 wording, which the caller passes in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from portal.sandbox.errors import tmi_error
from portal.sandbox.state import SandboxState, SandboxUser

PATH_PARAMS = (("threat_model_id", "tm_id"), ("diagram_id", "diagram_id"))


@dataclass
class Target:
    threat_model: dict[str, Any]
    diagram: dict[str, Any]


def is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def invalid_path_id(state: SandboxState, params: dict[str, str]) -> JSONResponse | None:
    """400 for a malformed path uuid; TMI checks these before authentication (PROTOCOL.md 2.1)."""
    for public, key in PATH_PARAMS:
        if not is_uuid(params.get(key)):
            return tmi_error(state, 400, "invalid_id", f"Invalid UUID format for parameter: {public}")
    return None


def resolve(
    state: SandboxState, user: SandboxUser, tm_id: str, diagram_id: str, *, with_groups: bool, denied: JSONResponse
) -> Target | JSONResponse:
    """The threat model and diagram if `user` may read them; otherwise the error to send."""
    tm = state.get_threat_model(tm_id)
    if tm is None:
        return tmi_error(state, 404, "not_found", "Threat model not found")
    if state.role_of(user, tm, with_groups=with_groups) is None:
        return denied
    diagram = state.get_diagram(tm_id, diagram_id)
    if diagram is None:
        return tmi_error(state, 404, "not_found", "Diagram not found in this threat model")
    return Target(tm, diagram)
