"""Request validation against the running generation's own OpenAPI document (PROTOCOL.md 2.1 step 18).

The real server validates every body and query string with its embedded spec before the handler
runs. The sandbox does the same with the vendored copies. Two adjustments keep the result sane:

- `allOf` compositions are merged into one object schema before validation. The 0.217 document puts
  `additionalProperties: false` on every `allOf` part, which under plain JSON Schema rejects every
  property that is not in *all* parts (so no diagram PUT could ever pass). Merging gives the
  meaning the authors intended: the union of the parts' properties, strict if any part is strict.
- The spec is parsed and merged once per process and generation; compiled validators are cached.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from typing import Any

from jsonschema import ValidationError, validators
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from portal.conformance.contract.specs import SPEC_DIR  # TMI's official documents

_BASE = "urn:tmi-spec"


def _multiple_of(validator, step, instance, schema):
    """`multipleOf` with a float tolerance: 9.1 is a multiple of 0.1 (binary floats say it is not)."""
    if validator.is_type(instance, "number") and step:
        quotient = instance / step
        if abs(quotient - round(quotient)) > 1e-9:
            yield ValidationError(f"{instance!r} is not a multiple of {step!r}")


Validator = validators.extend(OAS30Validator, {"multipleOf": _multiple_of})


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    is_array: bool
    required: bool = False


class Spec:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]
        self._registry = Registry().with_resource(_BASE, Resource.from_contents(document, default_specification=DRAFT4))

    # -- schema access ---------------------------------------------------------------------
    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def properties(self, name: str) -> set[str]:
        return set(self.resolve(self.schemas[name]).get("properties", {}))

    # -- operations ------------------------------------------------------------------------
    def operation(self, path: str, method: str) -> dict[str, Any]:
        return self.document["paths"][path][method.lower()]

    def body_schema(self, path: str, method: str, content_type: str) -> dict[str, Any] | None:
        content = self.operation(path, method).get("requestBody", {}).get("content", {})
        media = content.get(content_type)
        return None if media is None else media.get("schema")

    def content_types(self, path: str, method: str) -> list[str]:
        return list(self.operation(path, method).get("requestBody", {}).get("content", {}))

    @functools.cache  # noqa: B019 - one spec object per generation, kept for the process's life
    def query_params(self, path: str, method: str) -> tuple[Param, ...]:
        item = self.document["paths"][path]
        raw = [*item.get("parameters", []), *self.operation(path, method).get("parameters", [])]
        params = []
        for param in raw:
            param = (
                self.document["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
                if "$ref" in param
                else param
            )
            if param.get("in") == "query":
                schema = self.resolve(param.get("schema", {}))
                params.append(Param(param["name"], schema, schema.get("type") == "array", bool(param.get("required"))))
        return tuple(params)

    # -- validation ------------------------------------------------------------------------
    def validator_for(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            validator = Validator(_absolute_refs(schema), registry=self._registry)
            self._validators[key] = validator
        return validator

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Validation messages, most specific first; empty when the instance is valid."""
        errors = sorted(self.validator_for(schema).iter_errors(instance), key=lambda e: -len(e.absolute_path))
        return [_describe(e) for e in errors]

    def named_errors(self, name: str, instance: Any) -> list[str]:
        return self.schema_errors({"$ref": f"#/components/schemas/{name}"}, instance)

    def patched_errors(self, input_schema: dict[str, Any], full_name: str, patched: dict[str, Any]) -> list[str]:
        """Check a JSON-Patched object: its writable fields must form a valid PUT body, and it may
        hold no field the full schema does not know."""
        writable = set(self.resolve(input_schema).get("properties", {}))
        unknown = sorted(set(patched) - writable - self.properties(full_name))
        if unknown:
            return [f"Additional properties are not allowed ('{unknown[0]}' was unexpected)"]
        return self.schema_errors(input_schema, {k: v for k, v in patched.items() if k in writable})

    _validators: dict[str, Any]


def _describe(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message} at '/{where}'" if where else error.message


def _absolute_refs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: (_BASE + v if k == "$ref" and v.startswith("#") else _absolute_refs(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_absolute_refs(v) for v in schema]
    return schema


def _merge_all_of(node: Any, schemas: dict[str, Any], memo: dict[str, Any]) -> Any:
    """Rewrite every object-valued `allOf` into one merged object schema, depth first."""
    if isinstance(node, list):
        return [_merge_all_of(v, schemas, memo) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _merge_all_of(v, schemas, memo) for k, v in node.items()}
    parts = node.get("allOf")
    if not parts:
        return node
    resolved = []
    for part in parts:
        while "$ref" in part:
            name = part["$ref"].rsplit("/", 1)[-1]
            if name not in memo:
                memo[name] = _merge_all_of(schemas[name], schemas, memo)
            part = memo[name]
        resolved.append(part)
    if not all(p.get("type", "object") == "object" and not ({"oneOf", "anyOf"} & p.keys()) for p in resolved):
        return node
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    merged["type"] = "object"
    props: dict[str, Any] = {}
    required: list[str] = []
    strict = False
    for part in resolved:
        for name, prop in part.get("properties", {}).items():
            props[name] = prop if name not in props else {"allOf": [props[name], prop]}
        required += [r for r in part.get("required", []) if r not in required]
        strict = strict or part.get("additionalProperties") is False
        for key in ("nullable", "description"):
            if key in part and key not in merged:
                merged[key] = part[key]
    merged["properties"] = props
    if required:
        merged["required"] = required
    if strict:
        merged["additionalProperties"] = False
    return merged


@functools.cache
def load(generation: str) -> Spec:
    """The generation's spec with `allOf` merged; parsed once per process."""
    document = json.loads((SPEC_DIR / f"tmi-{generation}-openapi.json").read_text())
    raw_schemas = copy.deepcopy(document["components"]["schemas"])
    memo: dict[str, Any] = {}
    document["components"]["schemas"] = {
        k: memo[k] if k in memo else memo.setdefault(k, _merge_all_of(v, raw_schemas, memo))
        for k, v in raw_schemas.items()
    }
    document["paths"] = _merge_all_of(document["paths"], raw_schemas, memo)
    spec = Spec(document)
    spec._validators = {}
    return spec
