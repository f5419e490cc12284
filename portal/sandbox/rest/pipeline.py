"""One REST request's way through the checks, in the real server's middleware order (PROTOCOL.md 2.1).

(Accept, 404/405, Content-Type and 1.8 strict JSON are app-wide: `http_rules.RequestRules`.)
path UUIDs (400) -> authentication (401) -> enum normaliser (1.8) -> query and body validation
against the spec (400) -> threat-model gate (404/403) -> the handler. Handlers raise `Problem` for
any TMI error; the pipeline renders it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.sandbox import auth
from portal.sandbox.bodies import media_type
from portal.sandbox.errors import tmi_error
from portal.sandbox.rest import normalise, shapes
from portal.sandbox.rest import spec as spec_module
from portal.sandbox.state import ROLE_RANK, SandboxState, SandboxUser

FORBIDDEN_18 = "You don't have sufficient permissions to perform this action"
FORBIDDEN_0217 = FORBIDDEN_18  # the real 0.217.8 says the same (2026-12-04), not PROTOCOL.md 9.3's text
# Fields the server owns. A POST/PUT body naming one is rejected before schema validation (PROTOCOL.md 5.1),
# except on 1.8's threats, documents, assets, notes and repositories, which refuse only CHILD_REFUSED_FIELDS
# and ignore the rest (PROTOCOL.md 12.1).
READ_ONLY_FIELDS = (
    "id",
    "alias",
    "created_at",
    "modified_at",
    "deleted_at",
    "created_by",
    "owner",
    "threat_model_id",
    "auto_generated",
    "update_vector",
    "status_updated",
    "version",
)
CHILD_REFUSED_FIELDS = ("id", "alias", "created_at", "modified_at")  # `alias` is writable on assets
LENIENT_CHILDREN = ("threats", "documents", "assets", "notes", "repositories")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
EMPTY_PATCH_ON_THREAT_MODEL = "Request body is empty"
MISSING_BODY = "request body has an error: value is required but missing"


class Problem(Exception):
    """A TMI error response raised from anywhere below a handler."""

    def __init__(self, status: int, error: str, description: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.error, self.description, self.headers = status, error, description, headers


def invalid_input(description: str) -> Problem:
    return Problem(400, "invalid_input", description)


def read_only_field(name: str, method: str) -> Problem:
    return invalid_input(f"Field '{name}' is not allowed in {method} requests. It is read-only and set by the server.")


def not_found(description: str) -> Problem:
    return Problem(404, "not_found", description)


def conflict(description: str) -> Problem:
    return Problem(409, "conflict", description)


@dataclass
class Call:
    """What a handler gets: the caller, the checked inputs, and the threat model it is under."""

    state: SandboxState
    request: Request
    user: SandboxUser
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    tm: dict[str, Any] | None = None
    role: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # added to the handler's response

    @property
    def legacy(self) -> bool:
        return self.state.config.is_legacy

    @property
    def service_account(self) -> str | None:
        """The caller's token name ("[Service Account] <credential name>") when a service account calls."""
        token = auth.bearer_token(self.state, self.request)
        claims = self.state.decode_access_token(token) if token else None
        return claims.get("name") if self.state.is_service_subject(claims) else None

    def json(self, content: Any, status: int = 200) -> JSONResponse:
        if not self.legacy:
            content = shapes.without_nulls(content)  # 1.8 sends no nulls (PROTOCOL.md 12.10)
        return JSONResponse(content, status_code=status, headers=self.headers or None)

    def no_content(self) -> Response:
        return Response(status_code=204, headers=self.headers or None)


Handler = Callable[[Call], Response]  # synchronous: the state lives on the event loop's thread


@dataclass(frozen=True)
class Operation:
    """One (path, method) of the spec, with the role its `x-tmi-authz` asks for (PROTOCOL.md 4)."""

    path: str  # the spec's path template, e.g. /threat_models/{threat_model_id}/threats
    method: str
    handler: Handler
    role: str | None  # None: any authenticated user (list and create threat models)
    validate_body: bool = True  # False: the handler checks the body itself
    gated: bool = True  # False: the handler finds the threat model itself (restore of a deleted one)


def declared(spec: spec_module.Spec, path: str, handlers: dict[str, tuple[Handler, str | None]]) -> list[Operation]:
    """Operations for the methods the generation's spec declares on `path` (the others stay 405/404)."""
    methods = spec.document["paths"].get(path, {})
    return [
        Operation(path, method, handler, role)
        for method, (handler, role) in handlers.items()
        if method.lower() in methods
    ]


def route(state: SandboxState, path: str, ops: list[Operation]) -> list[Route]:
    return [Route(path, _endpoint(state, op), methods=[op.method]) for op in ops]


def _endpoint(state: SandboxState, op: Operation):
    async def endpoint(request: Request) -> Response:
        try:
            return op.handler(await _prepare(state, op, request))
        except _Unauthorized:
            return auth.unauthorized(state)  # the JWT middleware's 401, with no WWW-Authenticate
        except Problem as problem:
            return tmi_error(state, problem.status, problem.error, problem.description, headers=problem.headers)

    return endpoint


async def _prepare(state: SandboxState, op: Operation, request: Request) -> Call:
    params = dict(request.path_params)
    for name, value in params.items():
        if name.endswith("_id") and not is_uuid(value):
            raise Problem(400, "invalid_id", f"Invalid UUID format for parameter: {name}")
    spec = spec_module.load(state.config.generation)
    raw = await request.body() if op.method in _BODY_METHODS else b""
    content_type = media_type(request.headers.get("content-type")) or None
    body = parse_json(raw) if raw.strip() else None
    user = auth.authenticate(state, request)
    if user is None:
        raise _Unauthorized()
    if not state.config.is_legacy and body is not None:
        body = normalise.body(body)
    query = _checked_query(state, spec, op, request)
    if op.method == "PATCH" and body is None:  # (an empty body used to reach the handler: a 500)
        raise invalid_input(
            EMPTY_PATCH_ON_THREAT_MODEL if op.path == "/threat_models/{threat_model_id}" else MISSING_BODY
        )
    if op.method in _BODY_METHODS and op.validate_body:
        body = _validate_body(spec, op, content_type, body, legacy=state.config.is_legacy)
    call = Call(state, request, user, params, query, body)
    if "threat_model_id" in params and op.gated:
        call.tm, call.role = gate(state, user, params["threat_model_id"], op.role)
    return call


class _Unauthorized(Problem):
    def __init__(self) -> None:
        super().__init__(401, "unauthorized", "Authentication required")


def gate(state: SandboxState, user: SandboxUser, tm_id: str, needed: str | None) -> tuple[dict[str, Any], str | None]:
    """The threat model and the caller's role on it, or 404/403 (PROTOCOL.md 4 and 9.3).

    A caller with no role at all gets 403, not 404: the gate looks the model up first, and only then
    compares roles, so "exists but not yours" is an insufficient role like any other."""
    tm = state.get_threat_model(tm_id)
    if tm is None or tm.get("deleted_at"):
        raise not_found("Threat model not found")
    role = state.role_of(user, tm)
    if needed is not None and (role is None or ROLE_RANK[role] < ROLE_RANK[needed]):
        raise forbidden(state)
    return tm, role


def forbidden(state: SandboxState, description: str | None = None) -> Problem:
    default = FORBIDDEN_0217 if state.config.is_legacy else FORBIDDEN_18
    return Problem(403, "forbidden", description or default)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(value) == 36


def parse_json(raw: bytes) -> Any:
    """The body as JSON. Content-Type and 1.8's strict-JSON rules were already enforced by
    `http_rules.RequestRules`, which runs before every route."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_input(f"Request body is not valid JSON: {exc}") from None


# -- validation ----------------------------------------------------------------------------------
def _validate_body(spec: spec_module.Spec, op: Operation, content_type: str | None, body: Any, *, legacy: bool) -> Any:
    """The body the handler gets: checked against the spec, with 1.8's ignored server fields dropped."""
    schema = spec.body_schema(op.path, op.method, content_type or "application/json")
    if schema is None:
        return body
    if body is None:
        raise invalid_input(MISSING_BODY)
    if isinstance(body, dict) and op.method in ("POST", "PUT"):
        collection = _child_collection(op.path)
        if not legacy and collection == "threats" and op.method == "POST" and "threat_type" not in body:
            body = {**body, "threat_type": []}  # the real 1.8.22 does not require it and stores [] (2026-12-04)
        if not legacy and collection in LENIENT_CHILDREN:
            refused = [f for f in CHILD_REFUSED_FIELDS if not (f == "alias" and collection == "assets")]
            for name in refused:
                if name in body:
                    raise read_only_field(name, op.method)
            body = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS or k in refused}
        for name in READ_ONLY_FIELDS:
            if name in body:
                raise read_only_field(name, op.method)
    errors = spec.schema_errors(schema, body)
    if errors:
        text = f"request body has an error: doesn't match schema: {errors[0]}"
        if not legacy and _child_collection(op.path) == "threats":  # the real 1.8.22's threat validator
            raise Problem(400, "invalid_id", f"multiple errors encountered: {text}")
        raise invalid_input(text)
    return body


def _child_collection(path: str) -> str | None:
    """`threats` for `/threat_models/{threat_model_id}/threats[/{threat_id}]`; None for anything else."""
    parts = path.split("/")
    return parts[3] if len(parts) in (4, 5) and parts[1] == "threat_models" else None


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
RFC3339_0217 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")  # zone optional
# kin-openapi's date-time pattern, as the real servers quote it in their refusal
DATE_TIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|10|11|12)-(0[1-9]|[12][0-9]|3[01])T([0-1][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)"
    r"(\.[0-9]+)?(Z|(\+|-)[0-9]{2}:[0-9]{2})$"
)
DATE_TIME_PATTERN_0217 = DATE_TIME_PATTERN[:-1] + "?$"

# Array parameters that also take one comma-separated value (the threat-model status filter; the
# bulk delete's `threat_ids`, declared with explode: false).
_CSV_ARRAY_PARAMS = {"status", "threat_ids"}


def _checked_query(state: SandboxState, spec: spec_module.Spec, op: Operation, request: Request) -> dict[str, Any]:
    """Typed query parameters of the operation; unknown ones are ignored, as kin-openapi does."""
    legacy = state.config.is_legacy
    out: dict[str, Any] = {}
    for param in spec.query_params(op.path, op.method):
        values = request.query_params.getlist(param.name)
        if not values:
            if param.required:
                raise invalid_input(f'parameter "{param.name}" in query has an error: value is required but missing')
            if "default" in param.schema:
                out[param.name] = param.schema["default"]
            continue
        if not legacy and param.name in normalise.QUERY_KEYS:
            values = [normalise.value(v) for v in values]
        if param.is_array:
            if param.name in _CSV_ARRAY_PARAMS:
                values = [part.strip() for v in values for part in v.split(",") if part.strip()]
            value: Any = [_coerce(param.name, param.schema.get("items", {}), v) for v in values]
        else:
            value = _coerce(param.name, param.schema, values[0])
        if param.name in ("limit", "offset") and legacy and op.path.endswith("/threats"):
            if param.name == "limit" and not 1 <= value <= 100:
                raise invalid_input("Limit must be between 1 and 100")
        errors = spec.schema_errors(param.schema, value)
        if param.schema.get("format") == "date-time" and not (RFC3339_0217 if legacy else RFC3339).match(str(value)):
            # a bare date too (PROTOCOL.md 12.15); both real servers call it `invalid_id` (sic), and 0.217.8
            # checks the format even where it ignores the filter
            raise Problem(
                400,
                "invalid_id",
                f'error in openapi3filter.RequestError: parameter "{param.name}" in query has an error: '
                f"string doesn't match the format \"date-time\": string doesn't match pattern "
                f'"{(DATE_TIME_PATTERN_0217 if legacy else DATE_TIME_PATTERN)}"',
            )
        if errors:
            raise invalid_input(f'parameter "{param.name}" in query has an error: {errors[0]}')
        out[param.name] = value
    return out


def _coerce(name: str, schema: dict[str, Any], raw: str) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        raise invalid_input(f'parameter "{name}" in query has an error: value {raw!r} is not a {kind}') from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise invalid_input(f'parameter "{name}" in query has an error: value {raw!r} is not a boolean')
        return raw.lower() == "true"
    return raw
