"""Reading the audit log."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from portal.audit.models import AuditEvent


def audit_events_list(*, organization, action: str | None = None, actor: str | None = None,
                      since: datetime | None = None, until: datetime | None = None,
                      text: str | None = None) -> QuerySet[AuditEvent]:
    """An organisation's events, newest first, optionally filtered (action prefix such as "member.",
    actor by email/username substring, a time window, free text in target)."""
    events = AuditEvent.objects.filter(organization=organization)
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(Q(actor_label__icontains=actor))
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    if text:
        events = events.filter(target__icontains=text)
    return events
