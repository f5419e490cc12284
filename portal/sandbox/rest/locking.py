"""TMI 1.8's optimistic locking (PROTOCOL.md 5.1). 0.217 has none."""

from __future__ import annotations

import re

from portal.sandbox.rest.pipeline import Call, Problem

DEPRECATION_WARNING = (
    "299 - \"If-Match header (or body 'version') is required for PUT/PATCH; "
    'future releases will return 428 Precondition Required"'
)
_IF_MATCH = re.compile(r'^(?:W/)?"?(\d+)"?$')


def expected_version(call: Call, body_version: object = None) -> int | str | None:
    """The version the client claims to hold: an int, '*' or None when it sent none."""
    header = call.request.headers.get("if-match")
    if header is None:
        if isinstance(body_version, int) and not isinstance(body_version, bool):
            return body_version
        return None
    header = header.strip()
    if header == "*":
        return "*"
    match = _IF_MATCH.match(header)
    if not match:
        raise Problem(400, "invalid_if_match", "If-Match must be a non-negative integer version or '*'")
    return int(match.group(1))


def check_and_bump(call: Call, entity_id: str, body_version: object = None) -> None:
    """Refuse a stale write with 409, else bump the version and set the response headers."""
    if call.legacy:
        return
    versions = call.state.versions
    current = versions.setdefault(entity_id, 1)
    expected = expected_version(call, body_version)
    if isinstance(expected, int) and expected != current:
        raise Problem(
            409,
            "version_mismatch",
            f"Resource version mismatch: expected {expected}, current {current}. Re-read and retry.",
        )
    versions[entity_id] = current + 1
    if expected is None:
        call.headers.update({"Deprecation": "true", "Warning": DEPRECATION_WARNING})
    else:
        call.headers["ETag"] = f'"{current + 1}"'


def bump(state, entity_id: str) -> None:
    """A write that carries no precondition (bulk endpoints): the version still moves on."""
    if not state.config.is_legacy:
        state.versions[entity_id] = state.versions.get(entity_id, 1) + 1
