"""App-wide request checks, in TMI's middleware order (PROTOCOL.md 2.1-2.3):

406 Accept (1.8) -> 404 unknown route / 405 wrong method (+ Allow) -> Content-Type (400/415)
-> strict JSON (1.8: duplicate keys or trailing garbage give 400). Routes never repeat these.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.sandbox.bodies import media_type
from portal.sandbox.errors import tmi_error
from portal.sandbox.faults import CONTROL_PREFIX
from portal.sandbox.state import SandboxState

SPECS = Path(__file__).parent / "specs"
ACCEPTABLE = {"application/json", "*/*", "application/*", "text/event-stream"}
JSON_TYPES = ("application/json", "application/json-patch+json")
BODY_METHODS = ("POST", "PUT", "PATCH")
DEFAULT_TYPES = {"POST": ("application/json",), "PUT": ("application/json",), "PATCH": ("application/json-patch+json",)}


@functools.cache
def declared_types(generation: str) -> tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...]:
    """(path regex, METHOD, request content types) per operation of the generation's spec,
    literal paths before templated ones so `/threats/bulk` wins over `/threats/{threat_id}`."""
    spec = json.loads((SPECS / f"tmi-{generation}-openapi.json").read_text())
    table = []
    for template, operations in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in operations.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body and body.get("content"):
                table.append((template.count("{"), pattern, method.upper(), tuple(body["content"])))
    return tuple((pattern, method, types) for _, pattern, method, types in sorted(table, key=lambda row: row[0]))


def allowed_types(generation: str, method: str, path: str) -> tuple[str, ...]:
    for pattern, op_method, types in declared_types(generation):
        if op_method == method and pattern.match(path):
            return types
    return DEFAULT_TYPES[method]


def accept_ok(accept: str) -> bool:
    """A missing Accept is fine; otherwise one of its media ranges must be one TMI can send."""
    ranges = [media_type(part) for part in accept.split(",") if part.strip()]
    return not ranges or any(r in ACCEPTABLE for r in ranges)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    duplicate = next((key for key in keys if keys.count(key) > 1), None)
    if duplicate is not None:
        raise ValueError(f"duplicate key '{duplicate}'")
    return dict(pairs)


def strict_json_problem(raw: bytes) -> str | None:
    if not raw.strip():
        return None
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except ValueError as exc:  # JSONDecodeError covers trailing garbage
        return f"Request body is not valid JSON: {exc}"
    return None


class RequestRules:
    """Pure ASGI middleware; `routes` is the app's full route list, to tell 404 from 405."""

    def __init__(self, app: ASGIApp, *, state: SandboxState, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.state = state
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        problem, raw = self._header_problem(scope, headers), None
        if problem is None and self._strict_json_applies(scope, headers):
            raw = await _read_body(receive)
            text = strict_json_problem(raw)
            problem = self._error(400, "invalid_input", text) if text else None
        if problem is not None:
            await problem(scope, receive, send)
        else:
            await self.app(scope, receive if raw is None else _replay(raw, receive), send)

    def _header_problem(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        """406, 404/405 and the Content-Type rules, in TMI's order."""
        method, path = scope["method"], scope["path"]
        legacy = self.state.config.is_legacy
        # GET / negotiates HTML itself, so a browser's Accept: text/html is fine there.
        if not legacy and path != "/" and not accept_ok(headers.get("accept", "")):
            return self._error(
                406, "not_acceptable", "Accept must allow application/json, */*, application/* or text/event-stream"
            )
        allowed_methods = self._match(scope)
        if allowed_methods:
            return self._error(
                405,
                "method_not_allowed",
                f"The HTTP method '{method}' is not supported for this endpoint",
                headers={"Allow": ", ".join(sorted(allowed_methods))},
            )
        if allowed_methods is not None:
            return self._error(
                404,
                "not_found",
                f"The endpoint '{method} {path}' is not defined in the API specification. "
                "Check the request method and path (including trailing slashes).",
            )
        if not self._checks_body(scope, headers):
            return None
        content_type = media_type(headers.get("content-type"))
        if not content_type:
            return self._error(400, "invalid_request", "Content-Type header is required for requests with a body")
        allowed = allowed_types(self.state.config.generation, method, path)
        if content_type in allowed:
            return None
        if legacy:  # 0.217 has no 415: its OpenAPI validator rejects the body instead
            return self._error(400, "invalid_input", f"Content-Type '{content_type}' is not allowed for this operation")
        return self._error(
            415,
            "unsupported_media_type",
            f"Content-Type '{content_type}' is not supported; use {' or '.join(allowed)}",
            headers={"Accept": ", ".join(allowed)},
        )

    def _strict_json_applies(self, scope: Scope, headers: dict[str, str]) -> bool:
        return (
            not self.state.config.is_legacy
            and self._checks_body(scope, headers)
            and media_type(headers.get("content-type")) in JSON_TYPES
        )

    @staticmethod
    def _checks_body(scope: Scope, headers: dict[str, str]) -> bool:
        has_body = headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers
        return has_body and scope["method"] in BODY_METHODS and not scope["path"].startswith(CONTROL_PREFIX)

    def _error(self, status: int, error: str, description: str, *, headers: dict[str, str] | None = None) -> Response:
        return tmi_error(self.state, status, error, description, headers=headers)

    def _match(self, scope: Scope) -> set[str] | None:
        """None when some route takes the request; otherwise the methods the path allows
        (empty for an unknown path)."""
        methods: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return None
            if match == Match.PARTIAL:
                methods |= set(getattr(route, "methods", None) or ())
        return methods


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()  # lets the app still see http.disconnect

    return replay
