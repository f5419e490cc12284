"""The built-in test identity provider: `tmi` at 1.8, `test` at 0.217 (PROTOCOL.md 3.3, 9.2).

It skips a real login: the authorization code itself carries the login hint, and the hint
becomes the user's identity, so the same hint is the same user on every login.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from dataclasses import dataclass

from portal.sandbox.config import SandboxConfig

CODE_PREFIX = "test_auth_code_"
_HINT_MARK = "_hint_"
_VALID_HINT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,18})[a-z0-9]$")


@dataclass(frozen=True)
class Identity:
    provider: str
    provider_id: str
    email: str
    display_name: str


def make_code(now: float, login_hint: str | None) -> str:
    """`test_auth_code_<unix seconds>[_hint_<base64url(hint) with padding>]`; two logins with
    the same hint in the same second share a code, as in TMI."""
    code = f"{CODE_PREFIX}{int(now)}"
    if login_hint:
        code += _HINT_MARK + base64.urlsafe_b64encode(login_hint.encode()).decode("ascii")
    return code


def hint_from_code(code: str) -> str | None:
    _, mark, encoded = code.partition(_HINT_MARK)
    if not mark:
        return None
    try:
        return base64.urlsafe_b64decode(encoded.encode("ascii")).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def identity_for(config: SandboxConfig, login_hint: str | None) -> Identity:
    """A valid hint (3-20 chars of [a-z0-9-], not starting or ending with '-', after lowercasing)
    becomes the provider id; anything else gets a random `testuser-NNNNNNNN`."""
    domain, suffix = ("test.tmi", "Test User") if config.is_legacy else ("tmi.local", "TMI User")
    hint = (login_hint or "").strip().lower()
    if _VALID_HINT.match(hint):
        words = " ".join(word.capitalize() for word in hint.split("-") if word)
        email = config.test_idp_emails.get(hint) or f"{hint}@{domain}"
        return Identity(config.test_idp, hint, email, f"{words} ({suffix})")
    digits = f"{random.randrange(10**8):08d}"
    return Identity(config.test_idp, f"testuser-{digits}", f"testuser-{digits}@{domain}", f"Test User {digits}")
