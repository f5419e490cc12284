"""Test-only control routes under /_sandbox/ (not part of TMI): faults, the clock, reset, health."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.sandbox.faults import FaultBook
from portal.sandbox.state import SandboxState

FAULT_FIELDS = {
    "path_prefix": str,
    "path_suffix": str,
    "method": str,
    "status": int,
    "retry_after": int,
    "latency_ms": int,
    "times": int,
    "body": str,
}


def _fault_spec(payload: Any) -> dict[str, Any] | str:
    """The validated fault fields, or what is wrong with them."""
    if not isinstance(payload, dict):
        return "body must be a JSON object"
    unknown = sorted(set(payload) - set(FAULT_FIELDS))
    if unknown:
        return f"unknown fields: {', '.join(unknown)}"
    spec = {key: value for key, value in payload.items() if value is not None}
    for key, value in spec.items():
        if not isinstance(value, FAULT_FIELDS[key]) or isinstance(value, bool):
            return f"{key} must be a {FAULT_FIELDS[key].__name__}"
    if spec.get("times", 1) < 1 or spec.get("latency_ms", 0) < 0:
        return "times must be >= 1 and latency_ms >= 0"
    if not 100 <= spec.get("status", 200) <= 599:
        return "status must be an HTTP status code"
    return spec


def routes(state: SandboxState, book: FaultBook) -> list[Route]:
    async def add_fault(request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        spec = _fault_spec(payload)
        if isinstance(spec, str):
            return JSONResponse({"error": spec}, status_code=400)
        return JSONResponse(book.add(**spec).to_json(), status_code=201)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"faults": [fault.to_json() for fault in book.faults]})

    async def clear_faults(request: Request) -> Response:
        book.clear()
        return Response(status_code=204)

    async def advance_clock(request: Request) -> Response:
        try:
            seconds = (await request.json())["advance_seconds"]
        except (ValueError, KeyError, TypeError):
            seconds = None
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            return JSONResponse({"error": "advance_seconds must be a non-negative number"}, status_code=400)
        state.clock_offset += seconds
        return JSONResponse({"clock_offset": state.clock_offset, "now": state.now()})

    async def reset(request: Request) -> Response:
        state.reset()
        return Response(status_code=204)

    async def requests(request: Request) -> Response:
        """How many TMI calls are open now, the most there were at once and how many each route got; DELETE
        starts the counts again."""
        if request.method == "DELETE":
            state.most_requests_in_flight = state.requests_in_flight
            state.requests_seen.clear()
        return JSONResponse(
            {
                "in_flight": state.requests_in_flight,
                "most_in_flight": state.most_requests_in_flight,
                "seen": dict(state.requests_seen),
            }
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "generation": state.config.generation})

    return [
        Route("/_sandbox/faults", add_fault, methods=["POST"]),
        Route("/_sandbox/faults", list_faults, methods=["GET"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/clock", advance_clock, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/requests", requests, methods=["GET", "DELETE"]),
        Route("/_sandbox/health", health, methods=["GET"]),
    ]
