"""Failures that are a server's own known bugs, named as such in the report (they still fail: the portal
cannot do that thing on that server). Keyed by the server's version and the check's name."""

from __future__ import annotations

KNOWN_BUGS: dict[tuple[str, str], str] = {
    (
        "0.217.8",
        "access: a member it is shared with as reader can read it",
    ): "a known bug of TMI 0.217.8: a grant's provider_id is rewritten and then ignored, so sharing gives nobody "
    "access (PROTOCOL.md 12b)",
    (
        "0.217.8",
        "collaboration: POST /collaborate starts a session (201)",
    ): "a known bug of TMI 0.217.8: its collaboration check compares the user's email with the owner's provider_id, "
    "so every session start is a 500 (PROTOCOL.md 12b)",
}


def known_bug(version: str, check: str) -> str:
    """Words for a failure that is this server version's own known bug, or ""."""
    return KNOWN_BUGS.get((version, check), "")
