"""The history the sync records (change rows, daily snapshots): retention, and the reads trends build on."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.portfolio.models import Change, DailySnapshot


def portfolio_history_expire() -> int:
    """Delete change rows and snapshots older than PORTAL_HISTORY_DAYS; returns how many rows went."""
    cutoff = timezone.now() - timedelta(days=settings.PORTAL_HISTORY_DAYS)
    changes, _ = Change.objects.filter(happened_at__lt=cutoff).delete()
    snapshots, _ = DailySnapshot.objects.filter(day__lt=cutoff.date()).delete()
    return changes + snapshots
