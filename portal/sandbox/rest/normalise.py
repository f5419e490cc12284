"""TMI 1.8's enum normaliser (PROTOCOL.md 2.4): certain keys' string values become snake_case."""

from __future__ import annotations

import re
from typing import Any

QUERY_KEYS = frozenset({"severity", "sort_by", "sort_order", "format", "change_type", "object_type"})
BODY_KEYS = frozenset(
    {
        "change_type",
        "default_theme",
        "event_type",
        "grant_type",
        "object_type",
        "op",
        "permissions",
        "position",
        "principal_type",
        "refType",
        "role",
        "shape",
        "status",
        "subject_type",
        "token_type",
        "token_type_hint",
        "severity",
        "jump",
        "textAnchor",
        "textVerticalAnchor",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def value(text: str) -> str:
    """ "In Progress" -> "in_progress", "camelCase" -> "camel_case", "High" -> "high"."""
    return re.sub(r"\s+", "_", _CAMEL.sub(r"_\1", text.strip())).lower()


def body(node: Any) -> Any:
    """Rewrite listed keys at any depth. A JSON Patch `value` is left alone: its key is `value`."""
    if isinstance(node, list):
        return [body(item) for item in node]
    if isinstance(node, dict):
        return {k: value(v) if k in BODY_KEYS and isinstance(v, str) else body(v) for k, v in node.items()}
    return node
