"""Short-lived OAuth records TMI keeps in Redis: `oauth_state:<state>` and `pkce:<code>` (10 min)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portal.sandbox.state import SandboxState

RECORD_SECONDS = 600


@dataclass
class _Entry:
    value: Any
    expires_at: float


@dataclass
class ExpiringMap:
    """A dict whose entries vanish after RECORD_SECONDS of sandbox time (so the test clock moves them)."""

    state: SandboxState
    entries: dict[str, _Entry] = field(default_factory=dict)

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = _Entry(value, self.state.now() + RECORD_SECONDS)

    def get(self, key: str) -> Any | None:
        entry = self.entries.get(key)
        if entry is None or entry.expires_at <= self.state.now():
            self.entries.pop(key, None)
            return None
        return entry.value

    def pop(self, key: str) -> Any | None:
        value = self.get(key)
        self.entries.pop(key, None)
        return value


@dataclass
class LoginRecord:
    provider: str
    client_callback: str | None
    login_hint: str | None
    code_challenge: str


class OAuthStore:
    def __init__(self, state: SandboxState) -> None:
        self.logins = ExpiringMap(state)  # state parameter -> LoginRecord
        self.challenges = ExpiringMap(state)  # authorization code -> PKCE code_challenge
        state.on_reset(self.logins.entries.clear)
        state.on_reset(self.challenges.entries.clear)
