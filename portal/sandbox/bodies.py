"""Reading OAuth request bodies, which TMI accepts as JSON or (1.8) form-urlencoded."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

FORM = "application/x-www-form-urlencoded"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_form(request: Request) -> bool:
    return media_type(request.headers.get("content-type")) == FORM


async def read_fields(request: Request) -> dict[str, Any] | None:
    """The body's fields; `{}` for an empty body; None when it is not a JSON object or a form."""
    raw = await request.body()
    if not raw.strip():
        return {}
    if is_form(request):
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        fields = json.loads(raw)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None
