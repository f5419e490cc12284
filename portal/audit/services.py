"""Writing the audit log. Every service that changes something a tenant cares about calls `audit_record`."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from portal.audit.models import AuditEvent


def _client_address(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy rewrites
    # REMOTE_ADDR (configure the proxy, not this function).
    if request is None:
        return None
    meta = getattr(request, "META", None)
    if meta is not None:
        return meta.get("REMOTE_ADDR") or None
    client = (getattr(request, "scope", None) or {}).get("client")  # a Channels scope
    return client[0] if client else None


def _user_agent(request) -> str:
    meta = getattr(request, "META", None) or {}
    return str(meta.get("HTTP_USER_AGENT", ""))[:300]


def audit_record(
    *, organization, action: str, actor=None, target: str = "", request=None, details: dict[str, Any] | None = None
) -> AuditEvent:
    """Record one event. `actor` None means the portal itself (a schedule, the refresh task).
    `request` (an HttpRequest) supplies where from; `details` must be JSON-serialisable and hold no secrets."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor,
        actor_label=(actor.email or actor.get_username()) if actor is not None else "",
        action=action,
        target=str(target)[:500],
        details=details or {},
        ip_address=_client_address(request),
        user_agent=_user_agent(request),
    )


aaudit_record = database_sync_to_async(audit_record)
