"""Reading export jobs and schedules, always within one organisation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from portal.accounts.models import TMIConnection
from portal.exports.models import ExportJob, ExportSchedule, ExportStatus
from portal.organizations.models import Role
from portal.tenant_admin.models import Heartbeat  # the health panel's records, read for the job page


def _visible_to(jobs: QuerySet, *, organization, viewer) -> QuerySet:
    """A report holds what its requester could read in TMI, which another member may not be allowed to
    see. So a member sees the exports they asked for and the scheduled runs they own or receive;
    owners and admins, who run the schedules, see every export of their organisation."""
    if viewer is None or Role(viewer.role).at_least(Role.ADMIN):
        return jobs
    user = viewer.user
    email = (user.email or "").lower()
    schedules = [s.pk for s in ExportSchedule.objects.filter(organization=organization).only("owner", "recipients")
                 if s.owner_id == user.pk or email in {str(r).lower() for r in s.recipients or []}]
    return jobs.filter(Q(requested_by=user) | Q(schedule__in=schedules))


def export_jobs_list(*, organization, viewer=None, kind: str | None = None, schedule=None,
                     limit: int | None = 100) -> QuerySet:
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
                    "duration": timesince(seen, now)}
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
    return ExportJob.objects.filter(schedule=schedule, organization=schedule.organization).order_by("-created_at", "-pk")


def export_schedule_blocked(*, schedule) -> bool:
    """True while the owner must sign in again before the schedule can run as them."""
    if schedule.run_as != "owner":
        return False
    connection = TMIConnection.objects.filter(organization=schedule.organization, user=schedule.owner).first()
    return connection is None or connection.needs_sign_in
