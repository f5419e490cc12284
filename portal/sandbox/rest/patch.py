"""RFC 6902 JSON Patch, applied to a copy of a stored object (PROTOCOL.md 5.1)."""

from __future__ import annotations

import copy
from typing import Any

from portal.sandbox.rest.pipeline import invalid_input, read_only_field

OPS = ("add", "remove", "replace", "move", "copy", "test")


def paths(document: list[dict[str, Any]]) -> list[str]:
    """Every path an operation touches (its `path`, and `from` for move/copy)."""
    return [p for op in document for p in (op.get("path"), op.get("from")) if isinstance(p, str)]


def top_field(path: str) -> str:
    """`/metadata/0/value` -> `metadata`."""
    return _tokens(path)[0] if _tokens(path) else ""


def keep_server_fields(original: dict[str, Any], patched: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Undo whatever a patch did to fields the server owns."""
    for key in fields:
        if key in original:
            patched[key] = original[key]
        else:
            patched.pop(key, None)
    return patched


def refuse_read_only(document: list[dict[str, Any]], never: tuple[str, ...]) -> None:
    refused = sorted({top_field(p) for p in paths(document)} & set(never))
    if refused:
        raise read_only_field(refused[0], "PATCH")


def apply(target: dict[str, Any], document: Any) -> dict[str, Any]:
    if not isinstance(document, list) or not document:
        raise invalid_input("Invalid JSON Patch: the body must be a non-empty array of operations")
    result: Any = copy.deepcopy(target)
    for op in document:
        if not isinstance(op, dict) or op.get("op") not in OPS or not isinstance(op.get("path"), str):
            raise invalid_input(f"Invalid JSON Patch operation: {op!r}")
        result = _apply_one(result, op)
    return result


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise invalid_input(f"Invalid JSON Pointer: {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    name = op["op"]
    if name in ("add", "replace", "test") and "value" not in op:
        raise invalid_input(f"Invalid JSON Patch: '{name}' needs a value")
    if name == "test":
        if _get(doc, op["path"]) != op["value"]:
            raise invalid_input(f"JSON Patch test failed at {op['path']}")
        return doc
    if name in ("move", "copy"):
        if not isinstance(op.get("from"), str):
            raise invalid_input(f"Invalid JSON Patch: '{name}' needs 'from'")
        moved = copy.deepcopy(_get(doc, op["from"]))
        if name == "move":
            doc = _remove(doc, op["from"])
        return _add(doc, op["path"], moved)
    if name == "remove":
        return _remove(doc, op["path"])
    if name == "replace":
        _get(doc, op["path"])  # the target must exist
        return _add(_remove(doc, op["path"]), op["path"], copy.deepcopy(op["value"]))
    return _add(doc, op["path"], copy.deepcopy(op["value"]))


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        return None, ""
    node = doc
    for token in tokens[:-1]:
        node = _step(node, token, path)
    return node, tokens[-1]


def _step(node: Any, token: str, path: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise invalid_input(f"JSON Patch path not found: {path}")


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in _tokens(path):
        node = _step(node, token, path)
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    parent, key = _parent(doc, path)
    if parent is None:
        return value
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        index = len(parent) if key == "-" else int(key) if key.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise invalid_input(f"JSON Patch index out of range: {path}")
        parent.insert(index, value)
    else:
        raise invalid_input(f"JSON Patch path not found: {path}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parent, key = _parent(doc, path)
    if parent is None:
        raise invalid_input("JSON Patch cannot remove the whole document")
    if isinstance(parent, dict) and key in parent:
        del parent[key]
    elif isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        del parent[int(key)]
    else:
        raise invalid_input(f"JSON Patch path not found: {path}")
    return doc
