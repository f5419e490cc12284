"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from portal.audit.models import AuditEvent


def audit_events_list(
    *,
    organization,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
) -> QuerySet[AuditEvent]:
    """An organisation's events, newest first, optionally filtered (action prefix such as "member.",
    actor by email/username substring, a time window [since, until), free text in what, who or action)."""
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
        events = events.filter(Q(target__icontains=text) | Q(actor_label__icontains=text) | Q(action__icontains=text))
    return events


def audit_actions_list(*, organization) -> list[str]:
    """The actions this organisation's log holds, for the filter's choices."""
    return sorted(set(AuditEvent.objects.filter(organization=organization).values_list("action", flat=True).distinct()))
