"""PKCE and state helpers for TMI's authorization-code flow (PROTOCOL.md 3.2 and 3.5)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def code_verifier(nbytes: int = 32) -> str:
    """A random verifier: base64url of `nbytes` random bytes (32 bytes -> 43 chars, the minimum)."""
    verifier = _b64url(secrets.token_bytes(nbytes))
    if not _VERIFIER.match(verifier):
        raise ValueError("a PKCE verifier must be 43-128 chars of [A-Za-z0-9-._~]; use 32-96 bytes")
    return verifier


def code_challenge(verifier: str) -> str:
    """The S256 challenge: base64url(sha256(verifier)) without padding."""
    if not _VERIFIER.match(verifier):
        raise ValueError("invalid PKCE verifier: 43-128 chars of [A-Za-z0-9-._~] required")
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state(nbytes: int = 24) -> str:
    """An unguessable OAuth state that fits TMI's pattern `^[a-zA-Z0-9_~.+/=-]*$` (max 256)."""
    return _b64url(secrets.token_bytes(nbytes))
