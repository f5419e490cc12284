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
    # Rate limits as the real servers enforce them (limits.py; PROTOCOL.md 2.5, 12.13, 12b.2). On by default,
    # as on both real servers; off is 1.8's TMI_DISABLE_RATE_LIMITING (0.217 cannot turn them off). The
    # test suite's sandboxes turn them off unless a test is about them (tests/conftest.py).
    rate_limits: bool = True
    # 1.8 exempts loopback clients from the per-IP auth-flow limit; True counts them too, so that a portal
    # and a sandbox on one machine (tests, benchmarks) meet the limit a remote portal meets. 0.217 never
    # exempts loopback.
    rate_limit_loopback: bool = False
    # TMI administrators (1.8): the login hints (provider user ids) made administrators when they sign in,
    # as the real server's `administrators:` list. Webhook subscriptions are theirs alone (webhooks.py).
    administrators: list[str] = field(default_factory=list)
    # Webhooks (1.8, PROTOCOL.md 12.21). The real server wants https targets unless told otherwise
    # (webhooks.allow_http_targets) and refuses loopback, private and metadata hosts; hosts listed here pass
    # both its deny list and its SSRF check, as hosts on its SSRF allow-list do (a test's receiver on
    # 127.0.0.1). The workers' intervals are the real ones; tests shorten them.
    webhook_allow_http_targets: bool = False
    webhook_allowed_hosts: list[str] = field(default_factory=list)
    webhook_challenge_interval_seconds: float = 30.0
    # 1.8 documents and repositories (rest/addresses.py uri_refusal): the real server resolves every `uri` host
    # when it is written and refuses one that does not resolve. Off by default: the sandbox runs offline and its
    # seeds and tests use example.com-style hosts; on, it asks DNS as the real server does.
    resolve_uri_hosts: bool = False
    webhook_delivery_interval_seconds: float = 2.0

    @property
    def is_legacy(self) -> bool:
        return self.generation == "0.217"

    @property
    def test_idp(self) -> str:
        return "test" if self.is_legacy else "tmi"
