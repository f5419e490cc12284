"""PKCE S256 (RFC 7636) as TMI checks it (PROTOCOL.md 3.2, 3.5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def challenge_for(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifies(verifier: str, challenge: str) -> bool:
    """Constant-time, so a client cannot learn the challenge byte by byte."""
    return hmac.compare_digest(challenge_for(verifier).encode(), challenge.encode())
