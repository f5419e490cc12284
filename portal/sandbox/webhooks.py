"""1.8's webhooks (PROTOCOL.md 12.21; OpenAPI /admin/webhooks/*), as the real 1.8.22 runs them.

- Subscriptions are for TMI administrators only (403 for anyone else, service accounts included); there is
  no per-user endpoint. A new one is `pending_verification` with a secret (given, or 64 hex characters made
  up) shown once, in the create answer.
- An administrator may own 10 subscriptions (the default quota); the 11th is 429 `rate_limit_exceeded`.
- A target must be https (http only with `webhook_allow_http_targets`) and its host must pass the deny list
  of loopback, `localhost`, private, link-local and metadata hosts: 400 "invalid webhook URL: ...". Hosts in
  `webhook_allowed_hosts` pass it and the send-time SSRF check, as hosts on the real SSRF allow-list do.
- The challenge worker (every 30 s) POSTs `{"challenge", "type": "webhook.challenge"}` with X-Webhook-Event
  `webhook.challenge`; a 200 echoing `{"challenge": <same>}` makes the subscription `active`. After three
  failed challenges it is `pending_delete` and gets nothing.
- Events: only threat-model writes emit (`threat_model.created|updated|deleted`); threats, diagrams and
  the other children never do, though their event types exist. An event goes to the active subscriptions
  OWNED BY THE THREAT MODEL'S OWNER that list its type (or "*") and, when they name one, its threat model.
  The same type for the same object within one second is sent once (the server's dedup key).
- The delivery worker (every 2 s) POSTs the event JSON with X-Webhook-Event, X-Webhook-Delivery-Id,
  X-Webhook-Subscription-Id and X-Webhook-Signature `sha256=<hex HMAC-SHA256 of the raw body>`; a 2xx is
  delivered, anything else is tried again after 1, 5, 15 and 30 minutes (sandbox clock), then failed.
The sandbox watches the threat-model routes' answers (WebhookEvents) rather than reaching into their
handlers, so the REST modules stay unaware of webhooks, as the events are a side effect there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.sandbox import auth
from portal.sandbox.rest import spec as spec_module
from portal.sandbox.rest.addresses import internal_address
from portal.sandbox.rest.pipeline import Call, Operation, Problem, forbidden, invalid_input, route
from portal.sandbox.state import SandboxState

SUBSCRIPTIONS = "/admin/webhooks/subscriptions"
SUBSCRIPTION = "/admin/webhooks/subscriptions/{webhook_id}"
SUBSCRIPTION_TEST = "/admin/webhooks/subscriptions/{webhook_id}/test"
DELIVERIES = "/admin/webhooks/deliveries"
DELIVERY = "/admin/webhooks/deliveries/{delivery_id}"
MAX_CHALLENGES = 3
MAX_SUBSCRIPTIONS = 10  # per owner, the default quota
MAX_ATTEMPTS = 5
BACKOFF_MINUTES = (1, 5, 15, 30)
DEDUP_SECONDS = 10
USER_AGENT = "TMI-Webhook/1.0"
# The real server's seeded deny list (hostname globs), with its descriptions.
DENY_LIST = (
    ("localhost", "Block localhost"),
    ("127.*", "Block loopback addresses (127.0.0.0/8)"),
    ("::1", "Block IPv6 loopback"),
    ("10.*", "Block private network 10.0.0.0/8"),
    *((f"172.{n}.*", "Block private network 172.16.0.0/12") for n in range(16, 32)),
    ("192.168.*", "Block private network 192.168.0.0/16"),
    ("169.254.*", "Block link-local addresses (169.254.0.0/16)"),
    ("fe80:*", "Block IPv6 link-local addresses (fe80::/10)"),
    ("fc00:*", "Block IPv6 unique local addresses (fc00::/7)"),
    ("fd00:*", "Block IPv6 unique local addresses (fd00::/8)"),
    ("metadata.google.internal", "Block GCP metadata service"),
    ("kubernetes.default.svc", "Block Kubernetes internal service"),
    ("255.255.255.255", "Block broadcast address"),
    ("0.0.0.0", "Block null address"),  # noqa: S104 - a pattern refused, not an address bound
)
DNS_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Which threat-model answers emit which event (method, path shape, success status).
_TM_ITEM = re.compile(r"^/threat_models/([0-9a-fA-F-]{36})$")


def signature(body: bytes, secret: str) -> str:
    """X-Webhook-Signature: HMAC-SHA256 over the raw body with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass
class Subscription:
    id: str
    owner_id: str  # the administrator's internal uuid
    name: str
    url: str
    events: list[str]
    secret: str
    challenge: str
    created_at: str
    threat_model_id: str | None = None
    status: str = "pending_verification"
    challenges_sent: int = 0
    publication_failures: int = 0
    last_successful_use: str | None = None
    modified_at: str = ""

    def to_json(self, *, with_secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "owner_id": self.owner_id,
            "name": self.name,
            "url": self.url,
            "events": list(self.events),
            "status": self.status,
            "created_at": self.created_at,
            "modified_at": self.modified_at or self.created_at,
            "challenges_sent": self.challenges_sent,
            "publication_failures": self.publication_failures,
        }
        if with_secret:
            body["secret"] = self.secret
        if self.threat_model_id:
            body["threat_model_id"] = self.threat_model_id
        if self.last_successful_use:
            body["last_successful_use"] = self.last_successful_use
        return body

    def wants(self, event_type: str, threat_model_id: str) -> bool:
        if event_type not in self.events and "*" not in self.events:
            return False
        return self.threat_model_id is None or self.threat_model_id == threat_model_id


@dataclass
class Delivery:
    id: str
    subscription_id: str
    event_type: str
    payload: bytes  # the exact bytes sent and signed
    created_at: str
    status: str = "pending"
    attempts: int = 0
    next_retry_at: float | None = None  # sandbox clock
    last_error: str | None = None
    delivered_at: str | None = None

    def to_json(self, state: SandboxState) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "event_type": self.event_type,
            "payload": json.loads(self.payload),
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at,
        }
        if self.next_retry_at is not None and self.status == "pending":
            body["next_retry_at"] = _timestamp(self.next_retry_at)
        if self.last_error:
            body["last_error"] = self.last_error
        if self.delivered_at:
            body["delivered_at"] = self.delivered_at
        return body


def _timestamp(when: float) -> str:
    return datetime.fromtimestamp(when, tz=UTC).isoformat().replace("+00:00", "Z")


def _compact(value: Any) -> bytes:
    """JSON as Go's encoder writes it: no spaces, map keys sorted (struct fields keep their order)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Webhooks:
    """The subscriptions and deliveries of one sandbox; a reset forgets them."""

    state: SandboxState
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    recent_events: dict[tuple[str, str, int], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state.on_reset(self.clear)

    def clear(self) -> None:
        self.subscriptions.clear()
        self.deliveries.clear()
        self.recent_events.clear()

    # -- events --------------------------------------------------------------------------------------
    def emit(self, event_type: str, tm: dict[str, Any], data: dict[str, Any]) -> None:
        """One threat-model event: a pending delivery for each active subscription of the model's owner."""
        now = self.state.now()
        self.recent_events = {k: t for k, t in self.recent_events.items() if t > now}
        key = (event_type, tm["id"], int(now))
        if key in self.recent_events:
            return  # the server's 1-second dedup window
        self.recent_events[key] = now + DEDUP_SECONDS
        owner_id = self._owner_uuid(tm.get("owner"))
        payload = _compact(
            {
                "event_type": event_type,
                "threat_model_id": tm["id"],
                "object_id": tm["id"],
                "object_type": "threat_model",
                "owner_id": owner_id,
                "timestamp": self.state.timestamp(),
                "data": data,
            }
        )
        for sub in self.subscriptions.values():
            if sub.status == "active" and sub.owner_id == owner_id and sub.wants(event_type, tm["id"]):
                self.queue(sub, event_type, payload)

    def _owner_uuid(self, owner: Any) -> str:
        """The owner's internal uuid; its provider id when no such user is known (as the server falls back)."""
        if not isinstance(owner, dict):
            return str(owner or "")
        for user in self.state.users.values():
            if user.provider == owner.get("provider") and user.provider_id == owner.get("provider_id"):
                return user.internal_uuid
        return str(owner.get("provider_id") or "")

    def queue(self, sub: Subscription, event_type: str, payload: bytes) -> Delivery:
        delivery = Delivery(str(uuid.uuid4()), sub.id, event_type, payload, self.state.timestamp())
        self.deliveries[delivery.id] = delivery
        return delivery

    # -- the workers ---------------------------------------------------------------------------------
    async def challenge_pending(self, client: httpx.AsyncClient) -> None:
        for sub in [s for s in self.subscriptions.values() if s.status == "pending_verification"]:
            if sub.challenges_sent >= MAX_CHALLENGES:
                sub.status = "pending_delete"
                continue
            body = _compact({"challenge": sub.challenge, "type": "webhook.challenge"})
            headers = {"X-Webhook-Event": "webhook.challenge", "X-Webhook-Subscription-Id": sub.id}
            answer = await self._post(client, sub.url, body, headers, timeout=10)
            try:
                echoed = json.loads(answer.content).get("challenge") if isinstance(answer, httpx.Response) else None
            except (ValueError, AttributeError):
                echoed = None
            if isinstance(answer, httpx.Response) and answer.status_code == 200 and echoed == sub.challenge:
                sub.status, sub.modified_at = "active", self.state.timestamp()
            else:
                sub.challenges_sent += 1

    async def deliver_due(self, client: httpx.AsyncClient) -> None:
        now = self.state.now()
        due = [
            d
            for d in self.deliveries.values()
            if d.status == "pending" and (d.next_retry_at is None or d.next_retry_at <= now)
        ]
        for delivery in due:
            sub = self.subscriptions.get(delivery.subscription_id)
            if sub is None or sub.status != "active":
                delivery.status, delivery.delivered_at = "failed", self.state.timestamp()
                continue
            headers = {
                "X-Webhook-Event": delivery.event_type,
                "X-Webhook-Delivery-Id": delivery.id,
                "X-Webhook-Subscription-Id": sub.id,
            }
            if sub.secret:
                headers["X-Webhook-Signature"] = signature(delivery.payload, sub.secret)
            answer = await self._post(client, sub.url, delivery.payload, headers, timeout=30)
            if isinstance(answer, httpx.Response) and 200 <= answer.status_code < 300:
                async_callback = answer.headers.get("x-tmi-callback") == "async"
                delivery.status = "in_progress" if async_callback else "delivered"
                delivery.delivered_at = None if async_callback else self.state.timestamp()
                sub.last_successful_use, sub.publication_failures = self.state.timestamp(), 0
                continue
            error = answer if isinstance(answer, str) else f"HTTP {answer.status_code}: {answer.text[:10240]}"
            self._failed(delivery, sub, error)

    def _failed(self, delivery: Delivery, sub: Subscription, error: str) -> None:
        delivery.attempts += 1
        delivery.last_error = error
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_retry_at = "failed", None
            sub.publication_failures += 1
            return
        minutes = BACKOFF_MINUTES[min(delivery.attempts - 1, len(BACKOFF_MINUTES) - 1)]
        delivery.next_retry_at = self.state.now() + minutes * 60

    async def _post(
        self, client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> httpx.Response | str:
        """The answer, or why there was none (the send-time SSRF check included)."""
        host = urlsplit(url).hostname or ""
        if host not in self.state.config.webhook_allowed_hosts and internal_address(url):
            return f"request failed: {host} resolves to an internal address"
        try:
            return await client.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            return f"request failed: {type(exc).__name__}"


@contextlib.asynccontextmanager
async def running(hooks: Webhooks) -> AsyncIterator[None]:
    """The challenge and delivery workers, while the app is up."""
    config = hooks.state.config

    async def every(seconds: float, work) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            while True:
                await asyncio.sleep(seconds)
                await work(client)

    tasks = [
        asyncio.create_task(every(config.webhook_challenge_interval_seconds, hooks.challenge_pending)),
        asyncio.create_task(every(config.webhook_delivery_interval_seconds, hooks.deliver_due)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


# -- the threat-model writes that emit ---------------------------------------------------------------
class WebhookEvents:
    """Pure ASGI middleware: after a threat model's create (201), PUT/PATCH (200) or DELETE (204) succeeds,
    emit its event, as the real handlers do after writing."""

    def __init__(self, app: ASGIApp, *, hooks: Webhooks) -> None:
        self.app = app
        self.hooks = hooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        event = _event_of(scope) if scope["type"] == "http" else None
        if event is None:
            await self.app(scope, receive, send)
            return
        event_type, tm_id = event
        state = self.hooks.state
        before = dict(state.threat_models.get(tm_id) or {}) if tm_id else {}
        status, chunks = 0, []

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and event_type.endswith("created"):
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, watch)
        if status != {"created": 201, "updated": 200, "deleted": 204}[event_type.rsplit(".", 1)[1]]:
            return
        if event_type.endswith("created"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                tm_id = json.loads(b"".join(chunks))["id"]
        tm = state.threat_models.get(tm_id or "") or before
        if not tm:
            return
        if event_type.endswith("deleted"):
            self.hooks.emit(event_type, before or tm, {"name": (before or tm).get("name")})
        else:
            self.hooks.emit(event_type, tm, {"name": tm.get("name"), "description": tm.get("description")})


def _event_of(scope: Scope) -> tuple[str, str | None] | None:
    method, path = scope["method"], scope["path"]
    if path == "/threat_models" and method == "POST":
        return "threat_model.created", None
    item = _TM_ITEM.match(path)
    if item and method in ("PUT", "PATCH"):
        return "threat_model.updated", item.group(1)
    if item and method == "DELETE":
        return "threat_model.deleted", item.group(1)
    return None


# -- the admin routes --------------------------------------------------------------------------------
def url_problem(state: SandboxState, url: str) -> str | None:
    """Why the real server refuses a target at creation (scheme, hostname, deny list), or None."""
    allow_http = state.config.webhook_allow_http_targets
    lowered = url.lower()
    if allow_http and not lowered.startswith(("http://", "https://")):
        return f"URL must start with http:// or https:// (found: {url[:7]})"
    if not allow_http and not lowered.startswith("https://"):
        return f"URL must start with https:// (found: {url[:8]})"
    try:
        host = urlsplit(url).hostname or ""
    except ValueError as exc:
        return f"invalid URL format: {exc}"
    if not host:
        return "URL must contain a valid hostname"
    if len(host) > 253 or not all(DNS_LABEL.match(label) for label in host.split(".")):
        return "invalid hostname: " + host
    if host in state.config.webhook_allowed_hosts:
        return None
    for pattern, description in DENY_LIST:
        if fnmatch.fnmatchcase(host.lower(), pattern):
            return f"URL blocked: {description} (pattern: {pattern})"
    return None


def _bare(status: int, error: str) -> Problem:
    """The webhook handlers' errors: `{"error": "<sentence>", "error_description": ""}`."""
    return Problem(status, error, "")


def _administrator(call: Call) -> None:
    token = auth.bearer_token(call.state, call.request)
    if call.state.is_service_subject(call.state.decode_access_token(token) if token else None):
        raise forbidden(call.state, "Administrative operations require interactive authentication")
    if not call.user.is_admin:
        raise forbidden(call.state, "Administrator access required")


def _page(call: Call) -> tuple[int, int]:
    return int(call.query.get("offset") or 0), min(int(call.query.get("limit") or 20), 100)


def routes(hooks: Webhooks) -> list[Route]:
    state = hooks.state

    def list_subscriptions(call: Call) -> Response:
        _administrator(call)
        offset, limit = _page(call)
        found = list(hooks.subscriptions.values())
        if call.query.get("threat_model_id"):
            found = [s for s in found if s.threat_model_id == call.query["threat_model_id"]]
        page = [s.to_json() for s in found[offset : offset + limit]]
        return call.json({"subscriptions": page, "total": len(hooks.subscriptions), "limit": limit, "offset": offset})

    def create_subscription(call: Call) -> Response:
        _administrator(call)
        # The per-owner quota (webhook_quotas: 10 subscriptions). Its request counts are never recorded by the
        # server, so its headers always say 10 of 10 left.
        call.headers.update(
            {
                "X-RateLimit-Limit": str(MAX_SUBSCRIPTIONS),
                "X-RateLimit-Remaining": str(MAX_SUBSCRIPTIONS),
                "X-RateLimit-Reset": str(int(state.now()) + 60),
            }
        )
        owned = sum(1 for s in hooks.subscriptions.values() if s.owner_id == call.user.internal_uuid)
        if owned >= MAX_SUBSCRIPTIONS:
            raise Problem(
                429,
                "rate_limit_exceeded",
                f"subscription limit exceeded: {owned}/{MAX_SUBSCRIPTIONS} (limit: {MAX_SUBSCRIPTIONS})",
                headers={**call.headers, "Retry-After": "60"},
            )
        body = call.body
        problem = url_problem(state, body["url"])
        if problem:
            raise _bare(400, f"invalid webhook URL: {problem}")
        now = state.timestamp()
        sub = Subscription(
            id=str(uuid.uuid4()),
            owner_id=call.user.internal_uuid,
            name=body["name"],
            url=body["url"],
            events=list(body["events"]),
            secret=body.get("secret") or secrets.token_hex(32),
            challenge=secrets.token_hex(32),
            created_at=now,
            modified_at=now,
            threat_model_id=body.get("threat_model_id") or None,
        )
        hooks.subscriptions[sub.id] = sub
        return call.json(sub.to_json(with_secret=True), status=201)

    def subscription(call: Call) -> Subscription:
        _administrator(call)
        found = hooks.subscriptions.get(call.params["webhook_id"])
        if found is None:
            raise _bare(404, "subscription not found")
        return found

    def get_subscription(call: Call) -> Response:
        return call.json(subscription(call).to_json())

    def delete_subscription(call: Call) -> Response:
        sub = subscription(call)
        hooks.subscriptions.pop(sub.id, None)
        for delivery_id in [d.id for d in hooks.deliveries.values() if d.subscription_id == sub.id]:
            hooks.deliveries.pop(delivery_id)
        return call.no_content()

    def test_subscription(call: Call) -> Response:
        _administrator(call)
        if call.body is not None:  # optional; when sent, the spec's validator checks it
            errors = spec_module.load(state.config.generation).named_errors("WebhookTestRequest", call.body)
            if errors:
                raise invalid_input(f"request body has an error: doesn't match schema: {errors[0]}")
        sub = subscription(call)
        event_type = (call.body or {}).get("event_type") or (sub.events[0] if sub.events else "webhook.test")
        payload = _compact(
            {
                "message": "This is a test webhook delivery",
                "subscription_id": sub.id,
                "timestamp": state.timestamp(),
                "type": "test",
            }
        )
        delivery = hooks.queue(sub, event_type, payload)
        return call.json(
            {"delivery_id": delivery.id, "status": "", "message": "Test delivery created and queued for sending"},
            status=202,
        )

    def list_deliveries(call: Call) -> Response:
        _administrator(call)
        offset, limit = _page(call)
        found = list(hooks.deliveries.values())
        wanted = call.query.get("subscription_id")
        if wanted:
            if wanted not in hooks.subscriptions:
                raise _bare(404, "subscription not found")
            found = [d for d in found if d.subscription_id == wanted]
        page = [d.to_json(state) for d in found[offset : offset + limit]]
        return call.json({"deliveries": page, "total": len(found), "limit": limit, "offset": offset})

    def get_delivery(call: Call) -> Response:
        _administrator(call)
        delivery = hooks.deliveries.get(call.params["delivery_id"])
        if delivery is None:
            raise _bare(404, "delivery not found")
        return call.json(delivery.to_json(state))

    operations = [
        (SUBSCRIPTIONS, [Operation(SUBSCRIPTIONS, "GET", list_subscriptions, None)]),
        (SUBSCRIPTIONS, [Operation(SUBSCRIPTIONS, "POST", create_subscription, None)]),
        (SUBSCRIPTION_TEST, [Operation(SUBSCRIPTION_TEST, "POST", test_subscription, None, validate_body=False)]),
        (SUBSCRIPTION, [Operation(SUBSCRIPTION, "GET", get_subscription, None)]),
        (SUBSCRIPTION, [Operation(SUBSCRIPTION, "DELETE", delete_subscription, None)]),
        (DELIVERIES, [Operation(DELIVERIES, "GET", list_deliveries, None)]),
        (DELIVERY, [Operation(DELIVERY, "GET", get_delivery, None)]),
    ]
    return [r for path, ops in operations for r in route(state, path, ops)]
