"""Injected HTTP faults for tests: latency, error statuses and raw (even malformed) bodies.

Not part of TMI. Tests register faults through POST /_sandbox/faults (control.py); the
middleware below applies them to matching HTTP requests, never to /_sandbox/* itself.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.sandbox.errors import tmi_error
from portal.sandbox.state import SandboxState

CONTROL_PREFIX = "/_sandbox/"
DEFAULT_RETRY_AFTER = {503: 30, 429: 60}
ERROR_CODES = {
    400: ("invalid_input", "Injected bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "You don't have sufficient permissions to perform this action"),
    404: ("not_found", "Not found"),
    409: ("conflict", "Injected conflict"),
    429: ("rate_limit_exceeded", "Rate limit exceeded. Please retry later."),
    500: ("server_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service temporarily unavailable"),
    504: ("gateway_timeout", "Gateway timeout"),
}
RATE_LIMIT = 1000


@dataclass
class Fault:
    id: int
    path_prefix: str = "/"
    path_suffix: str = ""  # e.g. "/collaborate": a route whose middle holds ids a test cannot know beforehand
    method: str | None = None
    status: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    times: int | None = None  # None: until cleared
    body: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            path.startswith(self.path_prefix)
            and path.endswith(self.path_suffix)
            and (self.method is None or self.method.upper() == method)
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultBook:
    faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, **spec: Any) -> Fault:
        fault = Fault(id=next(self._ids), **spec)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault, counted as used once (and dropped when its count runs out)."""
        for fault in self.faults:
            if fault.matches(method, path):
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self.faults.remove(fault)
                return fault
        return None


def fault_response(state: SandboxState, fault: Fault) -> Response | None:
    """What to send instead of the real answer; None when the fault only adds latency."""
    status = fault.status or 200
    headers: dict[str, str] = {}
    retry_after = fault.retry_after if fault.retry_after is not None else DEFAULT_RETRY_AFTER.get(status)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 429:
        headers.update(
            {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(state.now()) + int(retry_after)),
            }
        )
    if fault.body is not None:
        return Response(fault.body, status_code=status, media_type="application/json", headers=headers)
    if fault.status is None:
        return None
    error, description = ERROR_CODES.get(status, ("server_error", f"Injected status {status}"))
    return tmi_error(state, status, error, description, headers=headers)


class FaultMiddleware:
    """Outermost middleware, so an injected fault looks like it came from the network edge."""

    def __init__(self, app: ASGIApp, *, state: SandboxState, book: FaultBook) -> None:
        self.app = app
        self.state = state
        self.book = book

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        # Counted here, at the edge, so tests can ask how many calls a client had open at once.
        self.state.requests_seen[f"{scope['method']} {scope['path']}"] += 1
        self.state.requests_in_flight += 1
        self.state.most_requests_in_flight = max(self.state.most_requests_in_flight, self.state.requests_in_flight)
        try:
            await self._serve(scope, receive, send)
        finally:
            self.state.requests_in_flight -= 1

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = self.book.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        response = fault_response(self.state, fault)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)
