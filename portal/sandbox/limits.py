"""The real servers' rate limits (PROTOCOL.md 2.5, 12.13, 12b.2), read from their middleware.

1.8.22 (`TMI_DISABLE_RATE_LIMITING` turns it all off; build mode `test` lets every auth-flow call through):
  - auth flow (`/oauth2/{authorize,callback,token,refresh,introspect}`): sliding 60 s windows, checked in
    the order per session (the `state` query parameter, else `code`, else a form body's `code` or
    `refresh_token`) 100, per user (`login_hint`, else a form body's `client_id`) 50, per client IP 100.
    Loopback clients are exempt from the IP scope. Every answer carries X-RateLimit-Limit/-Remaining/-Reset
    (of the session scope while allowed); a block adds X-RateLimit-Scope and Retry-After, 429
    `rate_limit_exceeded`. A 200 from /oauth2/token clears its user's count.
  - `/.well-known/*`: 10 a minute per non-loopback IP.
  - REST: none (the per-user limiter never finds its user: PROTOCOL.md 2.5, 12.12).
0.217.8 (always on, loopback included):
  - `GET /` and `/.well-known/*`: 10 a minute per client address, headers on every answer.
  - auth flow: per session (`state`, else `code`, query only) 5 a minute, per IP 100 a minute, per
    `login_hint` 10 an hour, in that order; the 429 body is `{"code", "message", "details"}`.
The client IP is the first X-Forwarded-For address, else X-Real-IP, else the socket's peer (neither server
has trusted proxies configured by default). Counts use the sandbox clock (whole seconds, as the servers'
Redis scores are), so /_sandbox/clock slides the windows; a reset forgets them.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.sandbox.bodies import media_type
from portal.sandbox.errors import tmi_error
from portal.sandbox.faults import CONTROL_PREFIX
from portal.sandbox.http_rules import accept_ok, read_body, replay_body
from portal.sandbox.state import SandboxState

AUTH_FLOW_PATHS = frozenset(
    {
        "/oauth2/authorize",
        "/oauth2/callback",
        "/oauth2/token",
        "/oauth2/refresh",
        "/oauth2/introspect",
        "/saml/login",
        "/saml/acs",
        "/saml/slo",
    }
)
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Limit:
    name: str  # what X-RateLimit-Scope says: session, user, ip
    limit: int
    window: int  # seconds


# Each generation's auth-flow scopes, in the order it checks them (a refused request is not counted further on).
SCOPES_18 = (Limit("session", 100, 60), Limit("user", 50, 60), Limit("ip", 100, 60))
SCOPES_0217 = (Limit("session", 5, 60), Limit("ip", 100, 60), Limit("user", 10, 3600))
PUBLIC_LIMIT = Limit("ip", 10, 60)


class Windows:
    """Sliding windows of request times per key, as the servers keep them in Redis sorted sets."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[int]] = {}

    def clear(self) -> None:
        self.hits.clear()

    def take(self, key: str, limit: int, window: int, now: int) -> int | None:
        """Count one request; None when allowed, else the seconds until the oldest leaves the window."""
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return max(hits[0] + window - now, 1)
        hits.append(now)
        return None

    def info(self, key: str, limit: int, window: int, now: int) -> tuple[int, int]:
        """(remaining, reset at) for the headers."""
        hits = self.hits.get(key) or deque()
        count = sum(1 for t in hits if t >= now - window)
        return max(limit - count, 0), (hits[0] + window if hits else now + window)

    def forget(self, key: str) -> None:
        self.hits.pop(key, None)


def client_ip(scope: Scope, headers: Headers) -> str:
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    if headers.get("x-real-ip"):
        return headers["x-real-ip"]
    client = scope.get("client")
    return client[0] if client else ""


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass
class Verdict:
    """What one limited request gets: headers, and a 429 body when blocked."""

    headers: dict[str, str]
    blocked: Response | None = None
    clears_user: str | None = None  # 1.8: the user count a successful token exchange clears


class RateLimits:
    """Pure ASGI middleware, outside RequestRules: 0.217 limits before anything else; 1.8 just after its
    Accept check (a request it refuses with 406 is left to RequestRules, uncounted)."""

    def __init__(self, app: ASGIApp, *, state: SandboxState) -> None:
        self.app = app
        self.state = state
        self.windows = Windows()
        state.on_reset(self.windows.clear)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.state.config.rate_limits or path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        legacy = self.state.config.is_legacy
        if not legacy and not accept_ok(headers.get("accept", "")) and path != "/":
            await self.app(scope, receive, send)
            return
        form: dict[str, str] = {}
        if path in AUTH_FLOW_PATHS and not legacy and media_type(headers.get("content-type")) == FORM:
            raw = await read_body(receive)
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            receive = replay_body(raw, receive)
        verdict = self._judge(scope, headers, form)
        if verdict is None:
            await self.app(scope, receive, send)
            return
        if verdict.blocked is not None:
            verdict.blocked.headers.update(verdict.headers)
            await verdict.blocked(scope, receive, send)
            return
        await self.app(scope, receive, self._adding(verdict, send))

    def _adding(self, verdict: Verdict, send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(verdict.headers)
                if verdict.clears_user and message["status"] == 200:
                    self.windows.forget(f"user:{verdict.clears_user}")
            await send(message)

        return send_with_headers

    # -- the generations' rules -------------------------------------------------------------------
    def _judge(self, scope: Scope, headers: Headers, form: dict[str, str]) -> Verdict | None:
        path = scope["path"]
        legacy = self.state.config.is_legacy
        public = path.startswith("/.well-known/") or (legacy and path == "/")
        if public:
            return self._public(scope, headers)
        if path in AUTH_FLOW_PATHS:
            return self._auth_flow(scope, headers, form)
        return None

    def _now(self) -> int:
        return int(self.state.now())

    def _public(self, scope: Scope, headers: Headers) -> Verdict | None:
        address = client_ip(scope, headers)
        legacy = self.state.config.is_legacy
        if not address or (not legacy and is_loopback(address) and not self.state.config.rate_limit_loopback):
            return None
        key, now = f"public:{address}", self._now()
        retry_after = self.windows.take(key, PUBLIC_LIMIT.limit, PUBLIC_LIMIT.window, now)
        remaining, reset_at = self.windows.info(key, PUBLIC_LIMIT.limit, PUBLIC_LIMIT.window, now)
        found = {
            "X-RateLimit-Limit": str(PUBLIC_LIMIT.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset_at),
        }
        if retry_after is None:
            return Verdict(found)
        found["Retry-After"] = str(retry_after)
        description = "IP rate limit exceeded. Please retry after the specified time."
        if legacy:
            body = {
                "code": "rate_limit_exceeded",
                "message": description,
                "details": {"limit": PUBLIC_LIMIT.limit, "scope": "ip", "window": "minute", "retry_after": retry_after},
            }
            return Verdict(found, JSONResponse(body, status_code=429))
        return Verdict(found, tmi_error(self.state, 429, "rate_limit_exceeded", description))

    def _identifiers(self, scope: Scope, headers: Headers, form: dict[str, str]) -> dict[str, str]:
        query = QueryParams(scope.get("query_string", b""))
        legacy = self.state.config.is_legacy
        session = query.get("state") or query.get("RelayState") or query.get("code") or ""
        user = (query.get("login_hint") or "").strip().lower()
        if not legacy:  # 1.8 also reads a form body (gin's PostForm; a JSON body is not read)
            session = session or form.get("code") or form.get("refresh_token") or ""
            user = user or (form.get("client_id") or "").strip().lower()
        address = client_ip(scope, headers)
        if not legacy and is_loopback(address) and not self.state.config.rate_limit_loopback:
            address = ""
        return {"session": session, "user": user, "ip": address}

    def _auth_flow(self, scope: Scope, headers: Headers, form: dict[str, str]) -> Verdict:
        legacy = self.state.config.is_legacy
        if not legacy and self.state.config.build_mode == "test":
            # 1.8's limiter lets everything through in build mode `test`, with an empty result's headers.
            return Verdict({"X-RateLimit-Limit": "0", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"})
        ids = self._identifiers(scope, headers, form)
        now = self._now()
        scopes = SCOPES_0217 if legacy else SCOPES_18
        for limit in scopes:
            if not ids[limit.name]:
                continue
            key = f"{limit.name}:{ids[limit.name]}"
            retry_after = self.windows.take(key, limit.limit, limit.window, now)
            if retry_after is not None:
                remaining, reset_at = self.windows.info(key, limit.limit, limit.window, now)
                return self._blocked(limit, retry_after, remaining, reset_at)
        session = scopes[0]
        if ids["session"]:
            remaining, reset_at = self.windows.info(f"session:{ids['session']}", session.limit, session.window, now)
        else:
            remaining, reset_at = session.limit, now + session.window
        clears = ids["user"] if not legacy and scope["path"] == "/oauth2/token" and ids["user"] else None
        return Verdict(
            {
                "X-RateLimit-Limit": str(session.limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(reset_at),
            },
            clears_user=clears,
        )

    def _blocked(self, limit: Limit, retry_after: int, remaining: int, reset_at: int) -> Verdict:
        found = {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset_at),
            "X-RateLimit-Scope": limit.name,
            "Retry-After": str(retry_after),
        }
        description = f"Auth flow rate limit exceeded ({limit.name} scope). Please retry after the specified time."
        if self.state.config.is_legacy:
            body = {
                "code": "rate_limit_exceeded",
                "message": description,
                "details": {"limit": limit.limit, "scope": limit.name, "retry_after": retry_after},
            }
            return Verdict(found, JSONResponse(body, status_code=429))
        return Verdict(found, tmi_error(self.state, 429, "rate_limit_exceeded", description))
