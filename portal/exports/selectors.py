"""Reading export jobs and schedules, always within one organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from portal.accounts.models import TMIConnection
from portal.exports.models import ExportJob, ExportSchedule, ExportStatus, PauseReason, RunAs
from portal.organizations.models import Membership, Role
from portal.organizations.services import membership_relink_pending
from portal.tenant_admin.models import Heartbeat  # the health panel's records, read for the job page


def _visible_to(jobs: QuerySet, *, organization, viewer) -> QuerySet:
    """A report holds what the TMI access it was made with could read, which another member may not be
    allowed to see. So a scheduled run is seen only by the person whose access made it and by the
    recipients it was sent to (fixed when the run was created: a later edit of the schedule, or an admin
    pressing "Run now", shares nothing more); runs made with the organisation's service account also by
    its owners, who alone may choose that account. A manual export is seen only by the member who asked
    for it, whatever the viewer's role: an admin's role does not lend them another member's TMI access."""
    if viewer is None:
        return jobs
    user = viewer.user
    mine = Q(made_with=user) | Q(shared_with=user) | Q(from_schedule=False, requested_by=user)
    if Role(viewer.role) == Role.OWNER:
        mine |= Q(made_with_service_account=True)
    return jobs.filter(pk__in=jobs.filter(mine).values("pk"))


def export_jobs_list(
    *, organization, viewer=None, kind: str | None = None, schedule=None, limit: int | None = 100
) -> QuerySet:
    """`viewer` (a Membership) limits the list to what that member may see; None lists everything."""
    jobs = ExportJob.objects.filter(organization=organization).select_related("requested_by", "schedule")
    jobs = _visible_to(jobs, organization=organization, viewer=viewer)
    if kind:
        jobs = jobs.filter(kind=kind)
    if schedule is not None:
        jobs = jobs.filter(schedule=schedule)
    return jobs[:limit] if limit else jobs


def export_job_get(*, organization, job_id: int, viewer=None) -> ExportJob:
    """The job, or 404 when it belongs to another organisation, does not exist, or `viewer` (a
    Membership) may not see it."""
    jobs = ExportJob.objects.filter(organization=organization, pk=job_id).select_related("organization")
    job = _visible_to(jobs, organization=organization, viewer=viewer).first()
    if job is None:
        raise Http404("No such export")
    return job


@dataclass(frozen=True)
class ExportJobStatus:
    label: str  # the badge: "Waiting to start", "In progress", "Waiting for a worker", "Ready", ...
    detail: str  # the line under the progress bar
    waiting_for_worker: bool


def export_worker_last_seen(*, job: ExportJob) -> datetime | None:
    """When a worker last showed signs of life: the workers' heartbeat (portal.heartbeat, once a minute),
    and for a running job also its own progress writes, which only its worker makes."""
    seen = [Heartbeat.objects.filter(name=Heartbeat.WORKER).values_list("seen_at", flat=True).first()]
    if job.status == ExportStatus.RUNNING:
        seen.append(job.heartbeat_at)
    return max((at for at in seen if at is not None), default=None)


def export_job_status_get(*, job: ExportJob, now: datetime | None = None) -> ExportJobStatus:
    """The job's state in words. A queued or running job with no worker seen for EXPORT_WORKER_QUIET_SECONDS
    says "Waiting for a worker" rather than "In progress": its worker is gone (or none runs), and the
    reaper only sends it again after EXPORT_STALE_SECONDS. It says "In progress" again once a worker is seen."""
    label, detail = job.get_status_display(), job.progress_label
    if job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        now = now or timezone.now()
        seen = export_worker_last_seen(job=job)
        if seen is None or now - seen > timedelta(seconds=settings.EXPORT_WORKER_QUIET_SECONDS):
            if seen is None:
                detail = _("No worker has been seen yet. The export starts as soon as one runs.")
            else:
                detail = _("No worker has been seen for %(duration)s. The export goes on as soon as one runs.") % {
                    "duration": timesince(seen, now)
                }
            return ExportJobStatus(_("Waiting for a worker"), detail, True)
    return ExportJobStatus(label, detail or label, False)


def export_schedules_list(*, organization) -> QuerySet:
    return ExportSchedule.objects.filter(organization=organization).select_related("owner")


def export_schedule_get(*, organization, schedule_id: int) -> ExportSchedule:
    schedule = ExportSchedule.objects.filter(organization=organization, pk=schedule_id).select_related("owner").first()
    if schedule is None:
        raise Http404("No such schedule")
    return schedule


def export_schedule_runs(*, schedule) -> QuerySet:
    return ExportJob.objects.filter(schedule=schedule, organization=schedule.organization).order_by(
        "-created_at", "-pk"
    )


def export_schedule_next_run(*, schedule: ExportSchedule, now: datetime | None = None) -> datetime | None:
    """When beat fires the schedule next, in the schedule's own time zone; None while it is paused (or its
    time zone is unknown). Daily, weekly on `weekday` (0 Monday) or monthly on `day_of_month` (1-28)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if schedule.paused or schedule.time_of_day is None:
        return None
    try:
        zone = ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    local_now = (now or timezone.now()).astimezone(zone)
    day = local_now.date()
    for _step in range(62):  # a month and a bit covers every frequency
        at = datetime.combine(day, schedule.time_of_day, tzinfo=zone)
        fits = (
            schedule.frequency == "daily"
            or (schedule.frequency == "weekly" and day.weekday() == schedule.weekday)
            or (schedule.frequency == "monthly" and day.day == schedule.day_of_month)
        )
        if fits and at > local_now:
            return at
        day += timedelta(days=1)
    return None


def export_schedule_blocked(*, schedule) -> bool:
    """True while the person it runs as must sign in again before the schedule can run as them."""
    if schedule.run_as != RunAs.OWNER:
        return False
    connection = TMIConnection.objects.filter(organization=schedule.organization, user_id=schedule.owner_id).first()
    return connection is None or connection.needs_sign_in


def export_schedule_stop_reason(*, schedule) -> PauseReason | None:
    """Why the person this schedule runs as (or, with the service account, on whose authority) can no
    longer lend that access to its recipients; None while they can."""
    membership = Membership.objects.filter(organization_id=schedule.organization_id, user_id=schedule.owner_id).first()
    if membership is None:
        return PauseReason.LEFT
    needed = Role.OWNER if schedule.run_as == RunAs.CLIENT_CREDENTIALS else Role.ADMIN
    if not Role(membership.role).at_least(needed):
        return PauseReason.ROLE_LOST
    if schedule.run_as == RunAs.OWNER and membership_relink_pending(
        organization_id=schedule.organization_id, user_id=schedule.owner_id
    ):
        return PauseReason.RELINK
    if export_schedule_blocked(schedule=schedule):
        return PauseReason.SIGN_IN
    return None


def organization_owner_emails(organization) -> list[str]:
    return sorted(
        {
            m.user.email
            for m in Membership.objects.select_related("user").filter(organization=organization, role=Role.OWNER)
            if m.user.email
        }
    )


def export_schedule_active_condition():
    """For the token vault's background refresh: an active schedule there runs with the member's own access."""
    return Exists(
        ExportSchedule.objects.filter(
            organization=OuterRef("organization"), owner=OuterRef("user"), paused=False, run_as=RunAs.OWNER
        )
    )
