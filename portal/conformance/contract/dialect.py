"""Read TMI's OpenAPI-3.0-flavoured schemas the way their authors meant them.

- `nullable: true` (OpenAPI 3.0) means "this schema, or null"; plain JSON Schema validators ignore it.
- An `allOf` with a part that says `additionalProperties: false` (0.217 `Node` = `allOf[Cell, {...}]`, both
  closed; 0.217 `Authorization` = `allOf[Principal (closed), {role}]`) rejects, under JSON-Schema rules, every
  property that only the other parts declare, so no real object can satisfy it. It is read as one closed object
  with the union of the parts' properties and required lists, so an unknown property is still a violation.
"""

from __future__ import annotations

import copy
from typing import Any


def as_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def merge_closed_all_of(document: dict) -> dict:
    """A copy of an OpenAPI document where every closed `allOf` in components/schemas is one closed object."""
    document = copy.deepcopy(document)
    schemas = document.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        schemas[name] = _merged(schema, schemas)
    return document


def _merged(schema: Any, schemas: dict) -> Any:
    if not isinstance(schema, dict) or "allOf" not in schema:
        return schema
    parts = [_local(part, schemas) for part in schema["allOf"]]
    if not any(part.get("additionalProperties") is False for part in parts):
        return schema
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                for prop, prop_schema in value.items():
                    properties[prop] = {"allOf": [properties[prop], prop_schema]} if prop in properties else prop_schema
            elif key == "required":
                required += [item for item in value if item not in required]
            elif key != "additionalProperties":
                merged.setdefault(key, value)
    merged.update(type="object", properties=properties, additionalProperties=False)
    if required:
        merged["required"] = required
    return merged


def _local(part: dict, schemas: dict) -> dict:
    ref = part.get("$ref", "")
    prefix = "#/components/schemas/"
    return _merged(schemas[ref.removeprefix(prefix)], schemas) if ref.startswith(prefix) else part
