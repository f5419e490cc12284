"""Export jobs: creating one, expiring old files, and taking over jobs whose worker died."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.services import audit_record
from portal.exports.models import ExportJob, ExportKind, ExportStatus

logger = logging.getLogger(__name__)


def _enqueue(job_id: int, countdown: float | None = None) -> None:
    from portal.exports.tasks import export_job_run_task  # tasks import services, not the other way round

    try:
        if countdown is None:
            export_job_run_task.delay(job_id)
        else:  # run again later (transient TMI trouble): the message waits in the broker, not a worker
            export_job_run_task.apply_async((job_id,), countdown=countdown)
    except Exception:  # broker down: say so on the job's page rather than wait forever
        logger.exception("export %s: could not reach the task queue", job_id)
        ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.FAILED,
            finished_at=timezone.now(),
            error="The portal could not hand this export to its workers; please try again in a few minutes.",
        )


def export_job_enqueue(*, job: ExportJob, countdown: float | None = None) -> None:
    """Send the job to a worker once the row it reads is committed; with `countdown`, due that many
    seconds later."""
    transaction.on_commit(lambda: _enqueue(job.pk, countdown))


def export_job_create(
    *,
    organization,
    actor,
    kind: str,
    threat_model_id=None,
    filters: dict | None = None,
    request=None,
    schedule=None,
    run_key: str | None = None,
    title: str = "",
    made_with=None,
    made_with_service_account: bool = False,
    shared_with=(),
    spreadsheet: str = "",
) -> ExportJob:
    """A manual export is made with its requester's access, for them; a schedule's run says whose access
    (`made_with`, or the service account) and who receives it (`shared_with`, members)."""
    if kind == ExportKind.THREAT_MODEL and not threat_model_id:
        raise ValidationError({"threat_model_id": "Choose the threat model to export."})
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    with transaction.atomic():
        job = ExportJob(
            organization=organization,
            kind=kind,
            threat_model_id=threat_model_id,
            filters=filters or {},
            requested_by=actor,
            schedule=schedule,
            run_key=run_key,
            title=title or _default_title(kind, filters),
            from_schedule=schedule is not None,
            made_with=made_with if schedule is not None else actor,
            made_with_service_account=schedule is not None and made_with_service_account,
            spreadsheet=spreadsheet if spreadsheet in ("xlsx", "csv") else "",
        )
        # run_key is left to the database's unique constraint: two racing fires of one slot both
        # pass a uniqueness query, only one passes the constraint.
        job.full_clean(exclude=["file", "run_key", "spreadsheet_file"])
        job.save()
        if schedule is not None:
            job.shared_with.set(shared_with)
        audit_record(
            organization=organization,
            action="export.requested",
            actor=actor,
            target=f"export {job.pk}",
            request=request,
            details={
                "kind": kind,
                "threat_model_id": str(threat_model_id or ""),
                "filters": filters or {},
                "schedule": schedule.pk if schedule else None,
                "made_with": "service account" if job.made_with_service_account else job.made_with_id,
                "shared_with": sorted(u.pk for u in shared_with),
            },
        )
        export_job_enqueue(job=job)
    return job


def _default_title(kind: str, filters: dict | None) -> str:
    if kind == ExportKind.THREAT_MODEL:
        return "Threat model report"
    return "Portfolio report" + (" (filtered)" if filters else "")


def export_jobs_reap(*, now=None) -> list[int]:
    """Send again every running job whose worker stopped reporting (it was killed or lost), and every
    job still queued long after it was sent (its message was lost before any worker took it).

    kombu's filesystem transport drops a message its worker took, acknowledged or not, so a worker
    killed mid-export would leave the job running forever; Redis gives the message back after its
    visibility timeout, and then the claim in running.py keeps the two deliveries from both working.
    The same claim makes a second message for a queued job harmless: whichever arrives later finds the
    job finished or held and does nothing."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.EXPORT_STALE_SECONDS)
    stale = list(
        ExportJob.objects.filter(status=ExportStatus.RUNNING, heartbeat_at__lt=stale_before).values_list(
            "pk", flat=True
        )
    )
    for job_id in stale:
        logger.warning("export %s: its worker stopped reporting; sending it again", job_id)
        _enqueue(job_id)
    return stale + export_jobs_requeue_lost(now=now)


def export_jobs_requeue_lost(*, now=None) -> list[int]:
    """Send again jobs queued for longer than EXPORT_QUEUED_LOST_SECONDS. A queued job's heartbeat_at
    records when it was last re-sent (no worker has written it yet), or, for a job queued again after
    transient TMI trouble, when its delayed message is due; so a job whose workers are merely busy gets
    one more message per threshold, not one per reaper tick, and a delayed one is not sent early."""
    now = now or timezone.now()
    lost_before = now - timedelta(seconds=settings.EXPORT_QUEUED_LOST_SECONDS)
    candidates = list(
        ExportJob.objects.filter(status=ExportStatus.QUEUED)
        .filter(Q(heartbeat_at__isnull=True, created_at__lt=lost_before) | Q(heartbeat_at__lt=lost_before))
        .values_list("pk", flat=True)
    )
    sent = []
    for job_id in candidates:
        # Marked before sending: a worker that claims it at once overwrites the mark, never the reverse.
        if ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(heartbeat_at=now):
            logger.warning(
                "export %s: still queued after %s s; sending it again", job_id, settings.EXPORT_QUEUED_LOST_SECONDS
            )
            _enqueue(job_id)
            sent.append(job_id)
    return sent


def export_files_expire(*, now=None) -> int:
    """Delete files past their expiry date and mark their jobs expired."""
    now = now or timezone.now()
    count = 0
    for job in ExportJob.objects.filter(status=ExportStatus.SUCCEEDED, expires_at__lte=now):
        if job.file:
            job.file.delete(save=False)
        if job.spreadsheet_file:
            job.spreadsheet_file.delete(save=False)
        job.status = ExportStatus.EXPIRED
        job.save(update_fields=["file", "spreadsheet_file", "status"])
        count += 1
    return count
