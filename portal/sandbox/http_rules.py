"""App-wide request checks, in TMI's middleware order (PROTOCOL.md 2.1-2.3 and 12):

406 Accept -> 301 trailing slash (the threat-model tree) -> 404 unknown route / 405 wrong method (+ Allow)
-> Content-Type (400/415) -> Unicode (1.8: zero-width and bidi controls give 400) -> strict JSON (1.8:
duplicate keys or trailing garbage give 400). At 1.8 a wrong method on a protected path waits until after
the body checks and authentication: without a valid token it is 401, not 405 (12.7). Every 1.8 GET answer
says `Cache-Control: no-store, no-cache, must-revalidate` unless its route set its own (12.19). Routes
never repeat these.

As the real 0.217.8 answered (2026-12-04): a wrong method, HEAD included, is 400 invalid_input "method not
allowed" with `Allow` (GET first, no HEAD), and 401 on a protected path without a token; a Content-Type
outside JSON, JSON Patch, form and multipart is 415 with `details`. Both generations: an Accept that allows no JSON is 406 (`GET /` too: only a browser's
Accept, which allows */*, gets the HTML page); an HTTP request to a collaboration socket's path is 401; a
path no route serves is 401 without a token and 404 with one (OPEN_UNKNOWN_* aside).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.conformance.contract.specs import SPEC_DIR as SPECS  # TMI's official documents
from portal.sandbox import auth
from portal.sandbox.bodies import media_type
from portal.sandbox.errors import tmi_error
from portal.sandbox.faults import CONTROL_PREFIX
from portal.sandbox.state import SandboxState

ACCEPTABLE = {"application/json", "*/*", "application/*", "text/event-stream"}
JSON_TYPES = ("application/json", "application/json-patch+json")
BODY_METHODS = ("POST", "PUT", "PATCH")
NO_CACHE = "no-store, no-cache, must-revalidate"
# Paths TMI serves without a token; every other path authenticates before its method is checked (1.8).
PUBLIC_PATHS = ("/", "/config")
PUBLIC_PATHS_0217 = ("/",)  # 0.217 has no /config: an anonymous GET of it is 401, as of any unknown path
NOT_ACCEPTABLE = {
    "1.8": "The requested Accept header media type is not supported by this server.",
    "0.217": "The requested Accept header media type is not supported. Supported types: application/json",
}
# 0.217's own content-type gate; a type in this list that the operation does not take is the OpenAPI
# validator's 400 instead.
CONTENT_TYPES_0217 = (
    "application/json",
    "application/json-patch+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)
METHOD_ORDER_18 = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Paths no route serves, answered 404 without a token; any other unknown path is 401 without one and 404
# with one (both real servers, 2026-12-04: `/no/such` and `/oauth2/nosuch` 401, `/.well-known/nosuch` 404).
OPEN_UNKNOWN_PATHS = ("/api/server-info",)
OPEN_UNKNOWN_PREFIXES = ("/.well-known/", "/static/")
PUBLIC_PREFIXES = ("/.well-known/", "/oauth2/", "/static/")
PROTECTED_UNDER_PUBLIC = ("/oauth2/userinfo",)
# Zero-width and bidirectional control characters 1.8's Unicode check refuses (PROTOCOL.md 12.5). Joiners
# (U+200C, U+200D) are left out: scripts and emoji need them.
UNSUPPORTED_CHARACTERS = frozenset(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
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


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (k, *_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def has_unsupported_unicode(raw: bytes) -> bool:
    """A zero-width or bidi control character, written as itself or as a JSON `\\u` escape."""
    text = raw.decode("utf-8", "replace")
    if not UNSUPPORTED_CHARACTERS.isdisjoint(text):
        return True
    try:
        decoded = json.loads(text)
    except ValueError:
        return False
    return any(not UNSUPPORTED_CHARACTERS.isdisjoint(s) for s in _strings(decoded))


def is_public(path: str, *, legacy: bool = False) -> bool:
    if path in (PUBLIC_PATHS_0217 if legacy else PUBLIC_PATHS):
        return True
    return path.startswith(PUBLIC_PREFIXES) and not path.startswith(PROTECTED_UNDER_PUBLIC)


def allow_header(methods: set[str], *, legacy: bool) -> str:
    """1.8: GET, HEAD, POST, PUT, PATCH, DELETE order, then OPTIONS; 0.217: GET first, the rest
    alphabetical, no HEAD (real servers, 2026-12-04)."""
    if legacy:
        rest = sorted(m for m in methods if m not in ("GET", "HEAD"))
        return ", ".join((["GET"] if "GET" in methods else []) + rest)
    return ", ".join([m for m in METHOD_ORDER_18 if m in methods] + ["OPTIONS"])


_GO_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}


def go_redirect(location: str, status: int) -> Response:
    """A redirect as Go's http.Redirect writes it for a GET: a small HTML body naming the target."""
    escaped = "".join(_GO_HTML.get(c, c) for c in location)
    phrase = {301: "Moved Permanently", 302: "Found"}[status]
    return Response(
        f'<a href="{escaped}">{phrase}</a>.\n\n',
        status_code=status,
        headers={"Location": location},
        media_type="text/html; charset=utf-8",
    )


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
        wrong_method = problem if problem is not None and problem.status_code == 405 else None
        if wrong_method is not None and self._authenticates_first(scope):
            problem = None
        if problem is None and self._strict_json_applies(scope, headers):
            raw = await read_body(receive)
            problem = self._body_problem(raw)
        if problem is None and wrong_method is not None:
            authenticated = auth.authenticate(self.state, HTTPConnection(scope)) is not None
            problem = wrong_method if authenticated else auth.unauthorized(self.state)
        if problem is not None:
            await problem(scope, receive, self._no_cache(scope, send))
        else:
            await self.app(scope, receive if raw is None else replay_body(raw, receive), self._no_cache(scope, send))

    def _body_problem(self, raw: bytes) -> Response | None:
        """1.8's Unicode check, then its strict JSON check."""
        if has_unsupported_unicode(raw):
            return self._error(
                400,
                "invalid_request",
                "Request contains unsupported Unicode characters (zero-width or bidirectional control characters)",
            )
        text = strict_json_problem(raw)
        return self._error(400, "invalid_input", text) if text else None

    def _authenticates_first(self, scope: Scope) -> bool:
        """1.8 authenticates a protected path before its method check (PROTOCOL.md 12.7)."""
        return not self.state.config.is_legacy and not is_public(scope["path"])

    def _signed_in(self, scope: Scope) -> bool:
        return auth.authenticate(self.state, HTTPConnection(scope)) is not None

    def _no_cache(self, scope: Scope, send: Send) -> Send:
        """Both real servers tell clients not to cache any answer (PROTOCOL.md 12.19; seen on every method at
        1.8.22 and 0.217.8) unless its route said otherwise; redirects carry none. 0.217.8's 204s still say
        `Content-Type: application/json; charset=utf-8`."""
        legacy = self.state.config.is_legacy

        async def send_no_cache(message: Message) -> None:
            if message["type"] == "http.response.start" and not 300 <= message["status"] < 400:
                response_headers = MutableHeaders(scope=message)
                if "cache-control" not in response_headers:
                    response_headers["Cache-Control"] = NO_CACHE
                if legacy and message["status"] == 204 and "content-type" not in response_headers:
                    response_headers["Content-Type"] = "application/json; charset=utf-8"
            await send(message)

        return send_no_cache

    def _trailing_slash(self, scope: Scope) -> Response | None:
        """Both redirect `GET /threat_models/` to `/threat_models` (PROTOCOL.md 12.11; 0.217.8 too)."""
        path = scope["path"]
        if scope["method"] not in ("GET", "HEAD") or not path.startswith("/threat_models/") or not path.endswith("/"):
            return None
        stripped = path.rstrip("/")
        if self._match({**scope, "path": stripped}) is not None:
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        return go_redirect(stripped + (f"?{query}" if query else ""), 301)

    def _header_problem(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        """406, 301, 404/405 and the Content-Type rules, in TMI's order."""
        method, path = scope["method"], scope["path"]
        legacy = self.state.config.is_legacy
        if not accept_ok(headers.get("accept", "")):
            return self._error(406, "not_acceptable", NOT_ACCEPTABLE[self.state.config.generation])
        redirect = self._trailing_slash(scope)
        if redirect is not None:
            return redirect
        if self._is_socket_path(path):  # a plain HTTP request where a WebSocket upgrade belongs
            return auth.unauthorized(self.state)
        allowed_methods = self._match(scope)
        if legacy:
            problem = self._route_problem_0217(scope, allowed_methods)
            if problem is not None:
                return problem
        elif allowed_methods:
            return self._error(
                405,
                "method_not_allowed",
                f"The HTTP method '{method}' is not supported for this endpoint",
                headers={"Allow": allow_header(allowed_methods, legacy=False)},
            )
        if allowed_methods is not None:
            open_path = path in OPEN_UNKNOWN_PATHS or path.startswith(OPEN_UNKNOWN_PREFIXES)
            if not open_path and not self._signed_in(scope):
                return auth.unauthorized(self.state)
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
        if legacy and content_type in CONTENT_TYPES_0217:  # its OpenAPI validator rejects the body instead
            return self._error(400, "invalid_input", f"Content-Type '{content_type}' is not allowed for this operation")
        if legacy:
            return tmi_error(
                self.state,
                415,
                "unsupported_media_type",
                "The Content-Type header specifies an unsupported media type",
                details={"content_type": content_type, "supported": list(CONTENT_TYPES_0217)},
                headers={"Accept": "application/json"},
            )
        return self._error(
            415,
            "unsupported_media_type",
            f"Content-Type '{content_type}' is not supported; use {' or '.join(allowed)}",
            headers={"Accept": ", ".join(allowed)},
        )

    def _route_problem_0217(self, scope: Scope, allowed_methods: set[str] | None) -> Response | None:
        """0.217: a wrong method (HEAD too: its router has no HEAD of its own) is 400 with Allow, or 401
        without a token on a protected path."""
        method, path = scope["method"], scope["path"]
        protected = not is_public(path, legacy=True)
        if method == "HEAD" and allowed_methods is None:
            allowed_methods = self._path_methods(scope)
        if allowed_methods:
            allow = {"Allow": allow_header(allowed_methods, legacy=True)}
            if protected and not self._signed_in(scope):
                response = auth.unauthorized(self.state)
                response.headers.update(allow)
                return response
            return self._error(400, "invalid_input", "method not allowed", headers=allow)
        return None

    def _path_methods(self, scope: Scope) -> set[str]:
        """Every method some route takes at this path."""
        methods: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match in (Match.FULL, Match.PARTIAL):
                methods |= set(getattr(route, "methods", None) or ())
        return methods

    def _is_socket_path(self, path: str) -> bool:
        return any(
            isinstance(route, WebSocketRoute) and route.path_regex.match(path) is not None for route in self.routes
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


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay_body(raw: bytes, receive: Receive) -> Receive:
    """`receive` again, for an app after a middleware read the body."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()  # lets the app still see http.disconnect

    return replay
