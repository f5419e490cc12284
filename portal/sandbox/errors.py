"""TMI's error bodies (PROTOCOL.md 2.2 and 9.3)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from portal.sandbox.state import SandboxState


def tmi_error(
    state: SandboxState,
    status: int,
    error: str,
    description: str,
    *,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The standard error body. 0.217 always serialises `details` (null when empty); 1.8 omits it."""
    body: dict[str, Any] = {"error": error, "error_description": description[:1000]}
    if details:
        body["details"] = details
    elif state.config.is_legacy:
        body["details"] = None
    return JSONResponse(body, status_code=status, headers=headers)


def bare_error(status: int, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> JSONResponse:
    """The older OAuth branches that answer only `{"error": "..."}` (PROTOCOL.md 3)."""
    return JSONResponse(body, status_code=status, headers=headers)
