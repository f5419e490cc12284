"""Reading export jobs and schedules, always within one organisation."""
from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from portal.accounts.models import TMIConnection
from portal.exports.models import ExportJob, ExportSchedule


def export_jobs_list(*, organization, kind: str | None = None, schedule=None, limit: int | None = 100) -> QuerySet:
    jobs = ExportJob.objects.filter(organization=organization).select_related("requested_by", "schedule")
    if kind:
        jobs = jobs.filter(kind=kind)
    if schedule is not None:
        jobs = jobs.filter(schedule=schedule)
    return jobs[:limit] if limit else jobs


def export_job_get(*, organization, job_id: int) -> ExportJob:
    """The job, or 404 when it belongs to another organisation or does not exist."""
    job = ExportJob.objects.filter(organization=organization, pk=job_id).select_related("organization").first()
    if job is None:
        raise Http404("No such export")
    return job


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
