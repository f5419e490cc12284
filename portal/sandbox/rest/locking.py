"""TMI 1.8's optimistic locking (PROTOCOL.md 5.1). 0.217 has none.

As the real 1.8.22 does it: only a conditional write (If-Match: N or *) moves the version on; a write
without If-Match changes the object but not its version (so a client holding version N still passes
If-Match: N afterwards), and answers with Deprecation/Warning instead of an ETag. The body field `version`
is not part of the schema there (400 'property "version" is unsupported'), so the header is the only way."""

from __future__ import annotations

import re

from portal.sandbox.rest.pipeline import Call, Problem

DEPRECATION_WARNING = (
    "299 - \"If-Match header (or body 'version') is required for PUT/PATCH; "
    'future releases will return 428 Precondition Required"'
)
_IF_MATCH = re.compile(r'^(?:W/)?"?(\d+)"?$')
# The spec's pattern for the header; the OpenAPI validator refuses anything else before the handler runs.
IF_MATCH_PATTERN = '^\\s*(\\*|(W/)?"?[0-9]+"?)\\s*$'
STALE = "Resource version does not match If-Match precondition; refetch and retry"


def expected_version(call: Call) -> int | str | None:
    """The version the client claims to hold: an int, '*' or None when it sent none."""
    header = call.request.headers.get("if-match")
    if header is None or not header.strip():
        return None
    header = header.strip()
    if header == "*":
        return "*"
    match = _IF_MATCH.match(header)
    if not match:
        raise Problem(
            400,
            "invalid_input",
            'error in openapi3filter.RequestError: parameter "If-Match" in header has an error: '
            f'string doesn\'t match the regular expression "{IF_MATCH_PATTERN}"',
        )
    return int(match.group(1))


def check_and_bump(call: Call, entity_id: str, body_version: object = None) -> None:
    """(`body_version` is never set: the pipeline refuses a body `version` before a handler runs.) Refuse a stale write with 409; a conditional write bumps the version and answers its ETag, an
    unconditional one leaves the version as it was and answers Deprecation/Warning."""
    if call.legacy:
        return
    versions = call.state.versions
    current = versions.setdefault(entity_id, 1)
    expected = expected_version(call)
    if expected is None:
        call.headers.update({"Deprecation": "true", "Warning": DEPRECATION_WARNING})
        return
    if isinstance(expected, int) and expected != current:
        raise Problem(409, "version_mismatch", STALE)
    versions[entity_id] = current + 1
    call.headers["ETag"] = f'"{current + 1}"'


def bump(state, entity_id: str) -> None:
    """A write that carries no precondition (bulk endpoints) leaves the version alone, as every
    unconditional write does at 1.8.22."""
    del state, entity_id
