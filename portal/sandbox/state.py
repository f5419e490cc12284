"""The sandbox's in-memory world: users, tokens, threat models and access control.

Everything the HTTP routes (oauth.py, rest.py) and collaboration (collab.py) share lives
here, so each of them can be read alone. One sandbox process serves one TMI generation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Literal

import jwt

from portal.sandbox.config import SandboxConfig

Role = Literal["reader", "writer", "owner"]
ROLE_RANK: dict[str, int] = {"reader": 1, "writer": 2, "owner": 3}


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_uuid7() -> str:
    """A time-ordered RFC 9562 version 7 UUID (48-bit Unix milliseconds, then random bits), as TMI gives threats."""
    import os
    import time

    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


@dataclass
class SandboxUser:
    internal_uuid: str
    provider: str
    provider_id: str  # the JWT sub
    email: str
    display_name: str
    groups: list[str] = field(default_factory=list)
    is_admin: bool = False
    is_security_reviewer: bool = False

    def principal(self) -> dict[str, Any]:
        """The `User` object TMI puts in responses and server-built WebSocket messages."""
        return {
            "principal_type": "user",
            "provider": self.provider,
            "provider_id": self.provider_id,
            "display_name": self.display_name,
            "email": self.email,
        }


@dataclass
class RefreshRecord:
    user_uuid: str
    expires_at: float
    auth_time: int
    session_expires_at: float | None  # 1.8's absolute lifetime; None at 0.217


@dataclass
class ServiceCredential:
    """A 1.8 client credential (POST /me/client_credentials). Only the secret's hash is kept."""

    id: str
    client_id: str
    secret_sha256: str
    owner_uuid: str
    name: str
    description: str
    created_at: str
    expires_at: float | None = None  # sandbox clock seconds; None never expires
    expires_at_text: str | None = None
    last_used_at: str | None = None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


SERVICE_SUB_PREFIX = "sa:"


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        # What else holds per-run records (faults, OAuth logins, live sockets) clears itself on reset().
        self._reset_hooks: list[Callable[[], None]] = []
        # The collaboration hub that owns `sessions` (portal.sandbox.collab.hub.Hub), created on first use.
        self.collab: Any = None
        self.requests_in_flight = 0  # TMI calls being answered now; a reset does not forget them
        self._clear()

    def on_reset(self, hook: Callable[[], None]) -> None:
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        """Back to a just-started server: the other parts' records first (live sockets are cut), then users,
        tokens, stored objects and the clock, then the seed again. Tests share one server per generation and
        reset it between them (/_sandbox/reset), which costs far less than a new server per test."""
        for hook in self._reset_hooks:
            hook()
        self._clear()
        if self.config.seed:
            from portal.sandbox import seed

            seed.load(self, self.config.seed)

    def _clear(self) -> None:
        self.clock_offset = 0.0  # tests move time forward through /_sandbox/clock
        self.users: dict[str, SandboxUser] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        # What a real server's logs would show and bench/refresh.py counts: refreshes per user, and refresh
        # tokens presented again after they were spent (single use: TMI refuses the second).
        self.spent_refresh_tokens: set[str] = set()
        self.refreshes_by_user: dict[str, int] = {}
        self.refresh_tokens_reused = 0
        self.revoked_jtis: set[str] = set()
        # threat model id -> the stored object, in the running generation's shape, with its
        # children embedded as lists: threats, diagrams, documents, assets, notes, repositories.
        self.threat_models: dict[str, dict[str, Any]] = {}
        # Optimistic-locking versions (1.8): entity id -> int.
        self.versions: dict[str, int] = {}
        # 1.8 alias counters: "threat_models" (global) and one per threat model id (its children).
        self.alias_counters: dict[str, int] = {}
        # diagram id -> live collaboration session object (owned by collab.py).
        self.sessions: dict[str, Any] = {}
        # 1.8 service-account credentials: credential id -> record.
        self.credentials: dict[str, ServiceCredential] = {}
        # Every `sub` an accepted access token carried, in order (tests ask "who really called?").
        self.seen_subjects: deque[str] = deque(maxlen=10_000)
        # The most TMI calls there were at once since the start or reset (control calls not counted).
        self.most_requests_in_flight = self.requests_in_flight
        # How many calls each "METHOD /path" got (control calls not counted): "was GET / asked again?"
        self.requests_seen: Counter[str] = Counter()

    # -- time ------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    # -- users -----------------------------------------------------------------------
    def user_for_login(self, *, provider: str, provider_id: str, email: str, display_name: str) -> SandboxUser:
        """Find or create a user: same provider and id means the same user on every login."""
        for user in self.users.values():
            if user.provider == provider and user.provider_id == provider_id:
                return user
        user = SandboxUser(new_uuid(), provider, provider_id, email, display_name)
        self.users[user.internal_uuid] = user
        return user

    def user_by_sub(self, sub: str) -> SandboxUser | None:
        return next((u for u in self.users.values() if u.provider_id == sub), None)

    def find_user(self, ref: str) -> SandboxUser | None:
        """Resolve a principal reference by internal uuid, then provider id, then email."""
        if ref in self.users:
            return self.users[ref]
        return next(
            (u for u in self.users.values() if u.provider_id == ref),
            next((u for u in self.users.values() if u.email == ref), None),
        )

    # -- tokens ----------------------------------------------------------------------
    def issue_tokens(
        self, user: SandboxUser, *, auth_time: int | None = None, session_expires_at: float | None = None
    ) -> dict[str, Any]:
        """Mint an access JWT and a fresh single-use refresh token (PROTOCOL.md 3.5, 3.10, 9.2)."""
        now = int(self.now())
        auth_time = auth_time or now
        cfg = self.config
        claims: dict[str, Any] = {
            "email": user.email,
            "name": user.display_name,
            "idp": user.provider,
            "iss": cfg.base_url,
            "sub": user.provider_id,
            "aud": [cfg.base_url],
            "exp": now + cfg.access_token_seconds,
            "nbf": now,
            "iat": now,
            "jti": new_uuid(),
        }
        if cfg.vouches_for_emails:  # HEAD omits the claim when false (PROTOCOL.md 3.10)
            claims["email_verified"] = True
        if user.groups:
            claims["groups"] = list(user.groups)
        if not cfg.is_legacy:
            claims["tmi_is_administrator"] = user.is_admin
            claims["tmi_is_security_reviewer"] = user.is_security_reviewer
            claims["auth_time"] = auth_time
        access = jwt.encode(claims, cfg.jwt_secret, algorithm="HS256")
        refresh = new_uuid()
        if cfg.is_legacy:
            refresh_expiry, session_expires_at = now + 30 * 86400, None
        else:
            if session_expires_at is None:
                session_expires_at = auth_time + cfg.session_lifetime_days * 86400
            refresh_expiry = min(now + cfg.refresh_token_days * 86400, session_expires_at)
        self.refresh_tokens[refresh] = RefreshRecord(user.internal_uuid, refresh_expiry, auth_time, session_expires_at)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": cfg.access_token_seconds,
            "token_type": "Bearer" if cfg.is_legacy else "bearer",
        }

    def rotate_refresh_token(self, refresh_token: str) -> dict[str, Any] | None:
        """Single use: the old token is deleted before the new pair is minted."""
        record = self.refresh_tokens.pop(refresh_token, None)
        if record is None and refresh_token in self.spent_refresh_tokens:
            self.refresh_tokens_reused += 1
        if record is not None:
            self.spent_refresh_tokens.add(refresh_token)
            self.refreshes_by_user[record.user_uuid] = self.refreshes_by_user.get(record.user_uuid, 0) + 1
        if record is None or record.expires_at <= self.now():
            return None
        if record.session_expires_at is not None and record.session_expires_at <= self.now():
            return None
        user = self.users.get(record.user_uuid)
        if user is None:
            return None
        return self.issue_tokens(user, auth_time=record.auth_time, session_expires_at=record.session_expires_at)

    def decode_access_token(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired, unrevoked access JWT; None otherwise."""
        try:
            claims = jwt.decode(
                token,
                self.config.jwt_secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        if claims.get("exp", 0) <= self.now() or claims.get("jti") in self.revoked_jtis:
            return None
        return claims

    def user_from_access_token(self, token: str) -> SandboxUser | None:
        claims = self.decode_access_token(token)
        if claims is None:
            return None
        sub = claims["sub"]
        if sub.startswith(SERVICE_SUB_PREFIX):
            user = self.service_account_owner(sub)
        else:
            user = self.user_by_sub(sub)
        if user is not None:
            self.seen_subjects.append(sub)
        if user is not None:
            user.groups = list(claims.get("groups", []))
        return user

    def revoke_access_token(self, token: str) -> bool:
        claims = self.decode_access_token(token)
        if claims is None:
            return False
        self.revoked_jtis.add(claims["jti"])
        return True

    # -- service accounts (1.8 client credentials, PROTOCOL.md 3.5) -----------------------
    def credential_create(
        self,
        owner: SandboxUser,
        *,
        name: str,
        description: str = "",
        expires_at: float | None = None,
        expires_at_text: str | None = None,
    ) -> tuple[ServiceCredential, str]:
        """A new credential and its secret, which is returned this once and stored only as a hash."""
        secret = secrets.token_urlsafe(32)  # 43 characters, no prefix (the real 1.8.22; its client_id has tmi_cc_)
        record = ServiceCredential(
            id=new_uuid(),
            client_id="tmi_cc_" + secrets.token_urlsafe(16),
            secret_sha256=_sha256(secret),
            owner_uuid=owner.internal_uuid,
            name=name,
            description=description,
            created_at=self.timestamp(),
            expires_at=expires_at,
            expires_at_text=expires_at_text,
        )
        self.credentials[record.id] = record
        return record, secret

    def credential_check(self, client_id: str, client_secret: str) -> ServiceCredential | None:
        """The live credential these match, or None (unknown id, wrong secret, expired, owner gone)."""
        record = next((c for c in self.credentials.values() if c.client_id == client_id), None)
        if record is None or not hmac.compare_digest(record.secret_sha256, _sha256(client_secret)):
            return None
        if record.expires_at is not None and record.expires_at <= self.now():
            return None
        if record.owner_uuid not in self.users:
            return None
        return record

    def issue_service_token(self, record: ServiceCredential) -> dict[str, Any]:
        """An access JWT for the service account (sub `sa:<credential id>:<owner provider id>`) and an
        empty refresh token: a client renews by asking again with its secret."""
        owner = self.users[record.owner_uuid]
        record.last_used_at = self.timestamp()
        now = int(self.now())
        cfg = self.config
        claims: dict[str, Any] = {
            "email": owner.email,
            "name": f"[Service Account] {record.name}",  # as the real 1.8.22 names it
            "idp": owner.provider,
            "iss": cfg.base_url,
            "sub": f"{SERVICE_SUB_PREFIX}{record.id}:{owner.provider_id}",
            "aud": [cfg.base_url],
            "exp": now + cfg.access_token_seconds,
            "nbf": now,
            "iat": now,
            "jti": new_uuid(),
            "tmi_is_administrator": owner.is_admin,  # the owner's standing, as /me shows it (real 1.8.22)
            "tmi_is_security_reviewer": owner.is_security_reviewer,
            "auth_time": now,
        }
        if owner.groups:
            claims["groups"] = list(owner.groups)
        access = jwt.encode(claims, cfg.jwt_secret, algorithm="HS256")
        return {
            "access_token": access,
            "refresh_token": "",
            "expires_in": cfg.access_token_seconds,
            "token_type": "bearer",
        }

    def service_account_owner(self, sub: str) -> SandboxUser | None:
        """The user a service-account token acts for. TMI's documents say only that the account acts
        with its owner's access, so that is the sandbox's rule: the owner's roles, nothing more.
        A deleted credential stops new grants only; its tokens live until they expire (real 1.8.22)."""
        _, _, rest = sub.partition(SERVICE_SUB_PREFIX)
        credential_id, _, owner_sub = rest.partition(":")
        record = self.credentials.get(credential_id)
        if record is None:  # deleted: the real 1.8.22 honours its tokens until they expire
            return self.user_by_sub(owner_sub)
        owner = self.users.get(record.owner_uuid)
        return owner if owner is not None and owner.provider_id == owner_sub else None

    @staticmethod
    def is_service_subject(claims: dict[str, Any] | None) -> bool:
        return bool(claims) and str(claims.get("sub", "")).startswith(SERVICE_SUB_PREFIX)

    @staticmethod
    def new_opaque_token(nbytes: int = 32) -> str:
        return secrets.token_urlsafe(nbytes)

    # -- access control (PROTOCOL.md 4 and 9.3) ----------------------------------------
    def role_of(
        self, user: SandboxUser, tm: dict[str, Any], *, with_groups: bool = True, groups: list[str] | None = None
    ) -> Role | None:
        """The caller's role on a threat model, or None. `with_groups=False` is the 1.8
        WebSocket check, which runs without the caller's groups. `groups` replaces the user's own
        (1.8 works out a collaboration participant's role with the groups of whoever asks)."""
        if self._is_owner_field(user, tm.get("owner")):
            return "owner"
        best: Role | None = None
        for entry in tm.get("authorization") or []:
            if self._entry_matches(user, entry, with_groups=with_groups, groups=groups):
                role = entry.get("role")
                if role in ROLE_RANK and (best is None or ROLE_RANK[role] > ROLE_RANK[best]):
                    best = role
        return best

    def _is_owner_field(self, user: SandboxUser, owner: Any) -> bool:
        if isinstance(owner, dict) and self.config.is_legacy:  # 0.217 owner principal: provider_id = email
            return owner.get("provider_id") in (user.email, user.provider_id, user.internal_uuid)
        if isinstance(owner, dict):
            return owner.get("provider_id") == user.provider_id and owner.get("provider") == user.provider
        if isinstance(owner, str):  # 0.217 stores the owner as a string (email or provider id)
            return owner in (user.email, user.provider_id, user.internal_uuid)
        return False

    def _entry_matches(
        self, user: SandboxUser, entry: dict[str, Any], *, with_groups: bool, groups: list[str] | None = None
    ) -> bool:
        pid = entry.get("provider_id")
        if entry.get("principal_type") == "group":
            if pid == "everyone":
                return True
            if not with_groups or pid not in (user.groups if groups is None else groups):
                return False
            if self.config.is_legacy:
                return entry.get("provider") in ("*", user.provider)
            return entry.get("provider") in ("tmi", user.provider)
        if self.config.is_legacy:  # loose matching, provider ignored
            return pid in (user.email, user.provider_id, user.internal_uuid)
        return pid == user.internal_uuid or (pid == user.provider_id and entry.get("provider") == user.provider)

    # -- diagrams ---------------------------------------------------------------------
    def get_threat_model(self, tm_id: str) -> dict[str, Any] | None:
        return self.threat_models.get(tm_id)

    def get_diagram(self, tm_id: str, diagram_id: str) -> dict[str, Any] | None:
        tm = self.threat_models.get(tm_id)
        if tm is None:
            return None
        return next((d for d in tm.get("diagrams", []) if d["id"] == diagram_id), None)

    def touch(self, obj: dict[str, Any]) -> None:
        obj["modified_at"] = self.timestamp()

    def timestamp(self) -> str:
        """RFC 3339 UTC; 1.8 truncates to microseconds."""
        from datetime import datetime

        return datetime.fromtimestamp(self.now(), tz=UTC).isoformat().replace("+00:00", "Z")

    def has_active_session(self, diagram_id: str) -> bool:
        return diagram_id in self.sessions

    def next_alias(self, scope: str = "threat_models") -> int:
        """1.8's short integer ids: global for threat models, per threat model for children."""
        self.alias_counters[scope] = self.alias_counters.get(scope, 0) + 1
        return self.alias_counters[scope]
