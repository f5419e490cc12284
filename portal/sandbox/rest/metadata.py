"""`.../metadata` on a threat model and on each child (PROTOCOL.md 5.6): plain arrays of {key, value}.

As the real servers answer (2026-12-04): at 1.8.22 a PUT changes an existing key only (404 "Metadata not
found" for a new one) and a second POST of a key is 409; at 0.217.8 a POST of an existing key replaces its
value (201), every PUT is 400 (its spec and its Go binding disagree on whether the body has `key`), and a
DELETE of a key that is not there is a 500."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from portal.sandbox.rest import children, shapes
from portal.sandbox.rest.children import Kind
from portal.sandbox.rest.pipeline import Call, Operation, Problem, conflict, declared, invalid_input, not_found
from portal.sandbox.rest.spec import Spec
from portal.sandbox.rest.spec import load as load_spec
from portal.sandbox.rest.threat_models import ITEM as TM_ITEM


def _owner(call: Call, kind: Kind | None) -> dict[str, Any]:
    return call.tm if kind is None else children.find(call, kind)


def _entries(owner: dict[str, Any]) -> list[dict[str, Any]]:
    return owner.setdefault("metadata", [])


def _changed(call: Call, owner: dict[str, Any]) -> None:
    """A child's metadata is a write of the child alone, as every other child write is (PROTOCOL.md 12.9). The
    threat model's own metadata leaves its modified_at alone: the real 1.8.22 and 0.217.8 both did
    (POST /threat_models/{id}/metadata, then GET: the same modified_at, 2026-12-04)."""
    if owner is not call.tm:
        call.state.touch(owner)


ENTRY_NOT_FOUND = "Metadata entry not found"  # GET, both generations
NOT_FOUND = "Metadata not found"  # PUT and DELETE at 1.8
PUT_0217_KEY_REQUIRED = (
    "Invalid request body: Key: 'Metadata.Key' Error:Field validation for 'Key' failed on the 'required' tag"
)
PUT_0217_KEY_UNSUPPORTED = 'error in openapi3filter.RequestError: request body has an error: doesn\'t match schema: property "key" is unsupported'


def _entry(owner: dict[str, Any], key: str, missing: str = ENTRY_NOT_FOUND) -> dict[str, Any]:
    found = next((m for m in _entries(owner) if m["key"] == key), None)
    if found is None:
        raise not_found(missing)
    return found


def _listed(call: Call, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A whole list as an answer, ordered by key (the real 1.8.22, differences.md 1.8 #34; the real 0.217.8's bulk
    answer too)."""
    return shapes.sorted_metadata([dict(m) for m in entries])


def list_metadata(call: Call, kind: Kind | None) -> Response:
    return call.json(_listed(call, _entries(_owner(call, kind))))


def create_metadata(call: Call, kind: Kind | None) -> Response:
    owner = _owner(call, kind)
    key = call.body["key"]
    existing = next((m for m in _entries(owner) if m["key"] == key), None)
    if existing is not None and not call.legacy:
        raise conflict(f"Metadata key already exists: {key}")
    entry = {"key": key, "value": call.body["value"]}
    if existing is not None:  # 0.217 upserts
        existing["value"] = entry["value"]
    else:
        _entries(owner).append(entry)
    _changed(call, owner)
    return call.json(dict(entry), 201)


def get_metadata(call: Call, kind: Kind | None) -> Response:
    return call.json(dict(_entry(_owner(call, kind), call.params["key"])))


# PROTOCOL.md 5.6: PUT .../metadata/{key} takes {"value"}. The 1.8 spec declares the assets variant
# as a whole Metadata object (key required); the sandbox accepts both forms everywhere.
PUT_BODY = {
    "type": "object",
    "required": ["value"],
    "additionalProperties": False,
    "properties": {"key": {"type": "string"}, "value": {"type": "string", "minLength": 1, "maxLength": 1024}},
}


def put_metadata(call: Call, kind: Kind | None) -> Response:
    owner, key = _owner(call, kind), call.params["key"]
    if call.legacy and isinstance(call.body, dict) and "key" in call.body:
        raise invalid_input(PUT_0217_KEY_UNSUPPORTED)
    errors = load_spec(call.state.config.generation).schema_errors(PUT_BODY, call.body)
    if errors:
        raise invalid_input(f"request body has an error: doesn't match schema: {errors[0]}")
    if call.legacy:  # its handler binds the body as a whole Metadata, which then lacks `key`
        raise invalid_input(PUT_0217_KEY_REQUIRED)
    if call.body.get("key", key) != key:
        raise invalid_input("The key in the body must match the key in the path")
    entry = _entry(owner, key, NOT_FOUND)
    entry["value"] = call.body["value"]
    _changed(call, owner)
    return call.json(dict(entry))


def delete_metadata(call: Call, kind: Kind | None) -> Response:
    owner = _owner(call, kind)
    if call.legacy and not any(m["key"] == call.params["key"] for m in _entries(owner)):
        raise Problem(500, "server_error", "Failed to delete metadata")
    _entries(owner).remove(_entry(owner, call.params["key"], NOT_FOUND))
    _changed(call, owner)
    return call.no_content()


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = [m["key"] for m in items]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate is not None:
        raise invalid_input(f"Duplicate metadata key in request: {duplicate}")
    return [{"key": m["key"], "value": m["value"]} for m in items]


def bulk_create(call: Call, kind: Kind | None) -> Response:
    owner, items = _owner(call, kind), _unique(call.body)
    existing = {m["key"] for m in _entries(owner)}
    clash = next((m["key"] for m in items if m["key"] in existing), None)
    if clash is not None:
        raise conflict(f"Metadata key already exists: {clash}")
    _entries(owner).extend(items)
    _changed(call, owner)
    return call.json(_listed(call, _entries(owner)), 201)


def bulk_replace(call: Call, kind: Kind | None) -> Response:
    owner = _owner(call, kind)
    owner["metadata"] = _unique(call.body)
    _changed(call, owner)
    return call.json(_listed(call, owner["metadata"]))


def bulk_upsert(call: Call, kind: Kind | None) -> Response:
    owner = _owner(call, kind)
    current = {m["key"]: m for m in _entries(owner)}
    for item in _unique(call.body):
        if item["key"] in current:
            current[item["key"]]["value"] = item["value"]
        else:
            _entries(owner).append(item)
    _changed(call, owner)
    return call.json(_listed(call, _entries(owner)))


_HANDLERS = {
    "": {"GET": (list_metadata, "reader"), "POST": (create_metadata, "writer")},
    "/bulk": {"POST": (bulk_create, "writer"), "PUT": (bulk_replace, "writer"), "PATCH": (bulk_upsert, "writer")},
    "/{key}": {"GET": (get_metadata, "reader"), "PUT": (put_metadata, "writer"), "DELETE": (delete_metadata, "writer")},
}


def operations(spec: Spec, kind: Kind | None) -> list[tuple[str, list[Operation]]]:
    """Only the methods the generation's spec declares (0.217 has no bulk PATCH)."""
    base = (TM_ITEM if kind is None else kind.item_path) + "/metadata"
    out = []
    for suffix, methods in _HANDLERS.items():
        path = base + suffix
        bound = {m: (functools.partial(handler, kind=kind), role) for m, (handler, role) in methods.items()}
        ops = [replace(op, validate_body=op.handler.func is not put_metadata) for op in declared(spec, path, bound)]
        if ops:
            out.append((path, ops))
    return out
