"""Celery tasks: thin wrappers over services. Beat runs the periodic ones (settings.CELERY_BEAT_SCHEDULE)
and each export schedule's row (django-celery-beat)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from portal.exports.jobs import export_files_expire as _expire
from portal.exports.jobs import export_jobs_reap as _reap
from portal.exports.running import export_job_run
from portal.exports.schedules import export_schedule_run


@shared_task(bind=True, name="portal.exports.tasks.export_job_run_task", max_retries=3)
def export_job_run_task(self, job_id: int) -> str:
    # Transient TMI trouble does not hold the worker: export_job_run queues the job again with a countdown
    # ("queued") and returns at once.
    outcome = export_job_run(job_id)
    if outcome.action == "busy":
        # Another worker holds the job and is alive; look again once it would count as dead.
        raise self.retry(countdown=settings.EXPORT_STALE_SECONDS + 1)
    return outcome.action


@shared_task(name="portal.exports.tasks.export_schedule_fire")
def export_schedule_fire(schedule_id: int) -> int | None:
    job = export_schedule_run(schedule_id=schedule_id)
    return job.pk if job else None


@shared_task(name="portal.exports.tasks.export_jobs_reap")
def export_jobs_reap() -> list[int]:
    return _reap()


@shared_task(name="portal.exports.tasks.export_files_expire")
def export_files_expire() -> int:
    return _expire()
