"""What a portfolio report says changed, and its trends, read from the store through the reader's visible set (the
pages' selectors) for the models the report holds:

- A scheduled report: "Since the last report": the changes TMI dates after this schedule's previous successful run
  started (its worker made the store fresh then, so what it printed was read after that moment; a change in the
  minute the previous run was reading may be told twice, never missed). This schedule's first report says it is
  the first, and shows the last 7 days.
- A report made on demand: "What changed in the last 7 days".
A scheduled report of one threat model opens with its "Since the last report" too (no trends: those are the
portfolio's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from portal.exports.models import ExportJob, ExportStatus
from portal.portfolio.changes import WhatChanged, what_changed_get
from portal.portfolio.trends import Trends, closed_per_week_trend, models_by_status_trend, open_threats_trend

ON_DEMAND_DAYS = 7


@dataclass(frozen=True)
class ReportHistory:
    changes: WhatChanged
    trends: Trends


def previous_report(job: ExportJob) -> ExportJob | None:
    """This schedule's last run that made its PDF (None: on demand, or the schedule's first)."""
    if not job.schedule_id:
        return None
    return (
        ExportJob.objects.filter(schedule_id=job.schedule_id, status=ExportStatus.SUCCEEDED, started_at__isnull=False)
        .exclude(pk=job.pk)
        .order_by("-started_at")
        .first()
    )


def report_changes_get(*, job: ExportJob, user: Any, threat_model_ids: set[str]) -> WhatChanged:
    """What changed in the report's models: since this schedule's last report, or (on demand, or a schedule's first)
    in the last 7 days. `user`: whose visible set the report is read through (None: the service account's)."""
    now = timezone.now()
    previous = previous_report(job)
    if previous is not None:
        since, period, first = previous.started_at, "report", False
    else:
        since, period, first = now - timedelta(days=ON_DEMAND_DAYS), ("report" if job.schedule_id else "days"), True
    return what_changed_get(
        organization=job.organization,
        user=user,
        since=since,
        until=now,
        period=period,
        first=first and bool(job.schedule_id),
        threat_model_ids=threat_model_ids,
    )


def report_history_get(*, job: ExportJob, user: Any, threat_model_ids: set[str]) -> ReportHistory:
    """A portfolio report's what changed and its trends (the report's models, as `user` sees them)."""
    scope = {"organization": job.organization, "user": user, "threat_model_ids": threat_model_ids}
    trends = Trends(
        open_threats=open_threats_trend(**scope),
        models_by_status=models_by_status_trend(**scope),
        closed_per_week=closed_per_week_trend(**scope),
    )
    return ReportHistory(
        changes=report_changes_get(job=job, user=user, threat_model_ids=threat_model_ids), trends=trends
    )
