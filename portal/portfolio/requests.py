"""Asking for a sync: beat, a sign-in, a page whose member's visible set is stale, "Refresh now", a live session.

The work runs in a Celery worker (portal/portfolio/tasks.py), sent by name after the current transaction
commits, so nothing here imports the tasks module. With PORTAL_SYNC_INLINE (the tests' default, never
production's) it runs at once in this process instead, against the same TMI server.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.organizations.models import Organization
from portal.portfolio.models import SYNC_LEASE_SECONDS, StoredThreatModel, SyncState

logger = logging.getLogger(__name__)

SYNC_TASK = "portal.portfolio.tasks.portfolio_sync_task"


def portfolio_sync_request(
    organization: Organization,
    *,
    members: set[int] | None = None,
    models: set[str] | None = None,
    full: bool = False,
    inline: bool = True,
) -> None:
    """A pass for the organisation soon: `members`' visible sets and `models` read whatever else is due.
    `inline=False`: with PORTAL_SYNC_INLINE, leave it to the next page that needs it (a sign-in)."""
    members, models = set(members or ()), set(models or ())
    if settings.PORTAL_SYNC_INLINE and not inline:
        return  # nothing is sent: the next page that needs it asks (and must not find this ask pending)
    now = timezone.now()
    if models:
        StoredThreatModel.objects.filter(organization=organization, tmi_id__in=models).update(sync_requested_at=now)
    SyncState.objects.get_or_create(organization=organization)
    SyncState.objects.filter(organization=organization).update(requested_at=now)
    if settings.PORTAL_SYNC_INLINE:
        from portal.portfolio.sync import portfolio_sync

        portfolio_sync(organization, members=members, models=models, full=full or None)
        return

    def send() -> None:
        try:
            current_app.send_task(
                SYNC_TASK,
                args=(organization.pk,),
                kwargs={"members": sorted(members), "models": sorted(models), "full": full},
            )
        except Exception:  # broker down: beat's next pass catches up; the page keeps what the store has
            logger.exception("portfolio sync of %s: could not reach the task queue", organization.slug)

    transaction.on_commit(send)


def portfolio_syncs_due() -> list[int]:
    """Organisations with somebody active (or a service account) whose last pass is older than
    PORTAL_SYNC_SECONDS, or for which a sync was asked since it last finished, and none running."""
    now = timezone.now()
    due_before = now - timedelta(seconds=settings.PORTAL_SYNC_SECONDS)
    active_since = now - timedelta(seconds=settings.PORTAL_ACTIVE_MEMBER_SECONDS)
    lease_before = now - timedelta(seconds=SYNC_LEASE_SECONDS)
    wanted = Organization.objects.filter(
        Q(visible_sets__wanted_at__gte=active_since) | (~Q(tmi_client_id="") & Q(tmi_client_secret__isnull=False))
    ).distinct()
    due = []
    for organization in wanted:
        state = SyncState.objects.filter(organization=organization).first()
        if state is None:
            due.append(organization.pk)
            continue
        if state.running_since and state.running_since > lease_before:
            continue
        # `>=`: a pass that was asked for while it ran leaves requested_at at its own end (sync.portfolio_sync).
        asked = state.requested_at and (state.last_sync_at is None or state.requested_at >= state.last_sync_at)
        if asked or state.last_sync_at is None or state.last_sync_at < due_before:
            due.append(organization.pk)
    return due
