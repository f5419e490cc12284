from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Generation = Literal["1.8", "0.217"]
GENERATIONS: tuple[Generation, ...] = ("1.8", "0.217")

# What GET / reports for each generation (PROTOCOL.md 1.1 and 9.1).
SERVER_BUILDS: dict[str, str] = {"1.8": "1.8.22", "0.217": "0.217.1-development"}


@dataclass
class SandboxConfig:
    generation: Generation = "1.8"
    # Public base URL, used for iss/aud, auth_url, websocket_url. Set by the runner once the port is known.
    base_url: str = "http://127.0.0.1:8080"
    jwt_secret: str = "sandbox-jwt-secret-not-for-production"
    access_token_seconds: int = 3600
    refresh_token_days: int = 7  # 1.8; 0.217 uses 30 days and no absolute cap
    session_lifetime_days: int = 7  # 1.8 absolute cap counted from the original login
    # 1.8 client_callback allow-list: exact URLs, or prefixes ending in '*'.
    client_callback_allowlist: list[str] = field(
        default_factory=lambda: [
            "http://127.0.0.1:8000/*",
            "http://localhost:8000/*",
            "http://127.0.0.1:*",
            "http://localhost:*",
        ]
    )
    build_mode: str = "dev"  # TMI_BUILD_MODE: 'dev' or 'test' allow the test IdP code exchange (1.8)
    seed: str | None = None  # 'demo' for the deterministic demo data
    # Collaboration timing (PROTOCOL.md 6.5, 7.11). Tests shorten these.
    ws_inactivity_timeout_seconds: float = 300.0
    ws_cleanup_interval_seconds: float = 15.0
    ws_ping_interval_seconds: float = 30.0
    ws_ticket_seconds: float = 30.0
    # A real TMI runs its database and Redis health checks on every GET / (280-570 ms, PROTOCOL.md 13): a delay
    # here lets a test or the demo feel what a client that keeps asking costs.
    root_delay_ms: int = 0
    # Tests only (off by default): play a TMI server run by someone else, which may claim anything.
    # `test_idp_emails` maps a login hint to the email the test IdP reports for it (instead of
    # <hint>@<domain>); `vouches_for_emails` puts `email_verified: true` in every access token.
    test_idp_emails: dict[str, str] = field(default_factory=dict)
    vouches_for_emails: bool = False

    @property
    def is_legacy(self) -> bool:
        return self.generation == "0.217"

    @property
    def test_idp(self) -> str:
        return "test" if self.is_legacy else "tmi"
