"""Running one export job in a worker: claim it, make the portfolio store fresh for what it reports (TMI calls
made here, as the person or service account the job is made with), read the report from the store through that
reader's visible set (the pages' selectors), render the PDF, store it atomically, and say what happened in words.

TMI unreachable or busy while the store is made fresh: if the store already holds what the job reports, the PDF
is made from it and says how fresh it is; if not, the job waits for TMI as below.

Idempotent, because acks_late redelivers a task whose worker died and beat may fire twice: a job
that finished is left alone, a job another live worker holds is left to it, and a job whose worker
went quiet (heartbeat older than EXPORT_STALE_SECONDS) is taken over.

Transient TMI trouble (portal.tmi.failures) does not keep the worker: the job goes back to the queue
with a label saying when it is tried again, and its task is sent again with Celery's countdown (TMI's
Retry-After, capped, or a backoff: export_retry_policy). Each run is one of its EXPORT_MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from portal.accounts.service_account import ClientCredentialsMissing, tmi_service_account_configured
from portal.accounts.tmi_failures import Context, failure_words
from portal.accounts.vault import SignInRequired
from portal.audit.services import audit_record
from portal.exports.jobs import export_job_enqueue
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.exports.provenance import job_made_with, job_provenance
from portal.exports.since_report import report_changes_get, report_history_get
from portal.organizations.models import Membership, Role
from portal.portfolio.report_data import ReportFilterError, portfolio_filters_clean
from portal.portfolio.selectors import (
    freshness_get,
    portfolio_report_get,
    portfolio_report_unread,
    threat_model_report_get,
)
from portal.portfolio.sync import portfolio_reader_refresh
from portal.tmi import Failure, RetryPolicy, TMIError, failure_of

logger = logging.getLogger(__name__)

PROGRESS_WRITE_SECONDS = 1.0


class ClaimLost(Exception):
    """Another worker took the job over (this one was presumed dead): stop without writing."""


class MadeWithRefused(Exception):
    """A scheduled run's person can no longer lend their access (left, lost the role): the words say why."""


class NotVisible(Exception):
    """TMI does not list the threat model for the access the job is made with (read again just before)."""

    def __init__(self, access: str) -> None:
        super().__init__(access)
        self.access = access  # whose access, in the provenance's words


@dataclass
class Outcome:
    job_id: int
    action: str  # "done" | "skipped" | "busy" | "failed" | "queued" (again, in `countdown` seconds)
    countdown: float | None = None


def export_retry_policy() -> RetryPolicy:
    """When a job that met transient TMI trouble runs again: EXPORT_MAX_ATTEMPTS runs in all; between
    them TMI's Retry-After, up to EXPORT_RETRY_MAX_SECONDS, or else the client's backoff from
    EXPORT_RETRY_BASE_SECONDS (doubling, capped at EXPORT_RETRY_MAX_SECONDS)."""
    return RetryPolicy(
        max_retries=settings.EXPORT_MAX_ATTEMPTS - 1,
        base_delay=settings.EXPORT_RETRY_BASE_SECONDS,
        max_delay=settings.EXPORT_RETRY_MAX_SECONDS,
        max_retry_after=settings.EXPORT_RETRY_MAX_SECONDS,
    )


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.EXPORT_STALE_SECONDS)


def export_job_claim(*, job_id: int, claim: str) -> tuple[ExportJob | None, str]:
    """Take the job for this run. Returns (job, "") or (None, why not)."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None, "skipped"
        if job.is_finished:
            return None, "skipped"
        if job.status == ExportStatus.RUNNING and job.heartbeat_at and job.heartbeat_at > _stale_before():
            return None, "busy"
        now = timezone.now()
        job.status = ExportStatus.RUNNING
        job.claim = claim
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.attempts += 1
        job.error = ""
        job.save(update_fields=["status", "claim", "heartbeat_at", "started_at", "attempts", "error"])
    _remove_partial_files(job)
    return job, ""


class _Progress:
    """The report code's progress callback: throttled writes, each also a heartbeat."""

    def __init__(self, job: ExportJob, start: int, end: int) -> None:
        self.job, self.start, self.end = job, start, end
        self.last_write = 0.0

    def __call__(self, done: int, total: int, label: str) -> None:
        share = (done / total) if total else 1.0
        percent = int(self.start + (self.end - self.start) * min(max(share, 0.0), 1.0))
        now = time.monotonic()
        if now - self.last_write < PROGRESS_WRITE_SECONDS and done < total:
            return
        self.last_write = now
        _job_update(self.job, progress=percent, progress_label=str(label)[:200])


def _job_update(job: ExportJob, **fields) -> None:
    """Write through the claim: zero rows means someone else owns the job now."""
    fields["heartbeat_at"] = timezone.now()
    updated = ExportJob.objects.filter(pk=job.pk, claim=job.claim, status=ExportStatus.RUNNING).update(**fields)
    if not updated:
        raise ClaimLost(job.pk)
    for name, value in fields.items():
        setattr(job, name, value)


def _run_as_user(job: ExportJob):
    """Whose access the job was created to use: fixed on the job, never re-read from its schedule."""
    return job.made_with


def _runs_as_service_account(job: ExportJob) -> bool:
    return job.made_with_service_account


def _check_made_with(job: ExportJob) -> None:
    """A scheduled run created before its person left or lost their role must not run with their access."""
    if not job.from_schedule:
        return
    membership = Membership.objects.filter(organization_id=job.organization_id, user_id=job.made_with_id).first()
    needed = Role.OWNER if job.made_with_service_account else Role.ADMIN
    if membership is None or not Role(membership.role).at_least(needed):
        raise MadeWithRefused(job.made_with_id)


def _reader(job: ExportJob):
    """Whose visible set the report is read through: the member's, or (None) the organisation's service
    account's. Raises ClientCredentialsMissing (no service account any more) or SignInRequired (nobody)."""
    if _runs_as_service_account(job):
        if not tmi_service_account_configured(job.organization):
            raise ClientCredentialsMissing(job.organization.slug)
        return None
    user = _run_as_user(job)
    if user is None:
        raise SignInRequired(job.organization.slug)
    return user


def _refresh(job: ExportJob, reader, *, models: set[str] | None, start: int, end: int) -> TMIError | None:
    """Make the store fresh for what the job reports, here in the worker, with the reader's access. Returns the
    transient TMI failure that cut it short (the store's copy then stands), or None. Any other TMI failure, a
    refused sign-in or missing client credentials end the job as before."""
    progress = _Progress(job, start, end)

    def step(done: int, total: int) -> None:
        one = bool(models) and total == 1
        progress(
            done,
            total,
            "Reading the threat model from TMI" if one else f"Reading threat model {done + 1} of {total} from TMI",
        )

    _job_update(job, progress=start, progress_label="Reading from TMI")
    try:
        portfolio_reader_refresh(job.organization, user_id=getattr(reader, "pk", None), models=models, progress=step)
    except TMIError as error:
        if failure_of(error) is not Failure.TRANSIENT:
            raise
        logger.info("export %s: TMI unreachable (%s); reading the store as it is", job.pk, type(error).__name__)
        return error
    except IntegrityError:  # a sync pass wrote the same rows at the same moment: what it wrote stands
        logger.warning("export %s: the store changed under the refresh; reading it as it is", job.pk, exc_info=True)
    return None


def _stale_words(unreachable: TMIError | None) -> str:
    if unreachable is None:
        return ""
    return " · " + _("TMI did not answer when this report was made: it shows the portal's last copy of TMI's data")


def _render(job: ExportJob) -> tuple[bytes, str, list[str]]:
    from portal.reports.render import portfolio_report_pdf, threat_model_report_pdf

    generated_at = timezone.now()
    _check_made_with(job)
    provenance = job_provenance(job)
    reader = _reader(job)
    organization = job.organization
    if job.kind == ExportKind.THREAT_MODEL:
        tm_id = str(job.threat_model_id)
        unreachable = _refresh(job, reader, models={tm_id}, start=2, end=40)
        report = threat_model_report_get(organization=organization, user=reader, threat_model_id=tm_id)
        if report is None:
            if unreachable is not None:
                raise unreachable  # nothing in the store to fall back on: wait for TMI
            raise NotVisible(job_made_with(job))
        title = job.title if job.schedule_id else f"{report.name}: threat model report"[:300]
        _job_update(job, progress=45, progress_label="Laying out the pages", title=title)
        pdf = threat_model_report_pdf(
            report,
            organization=organization,
            generated_at=generated_at,
            progress=_Progress(job, 45, 98),
            provenance=provenance + _stale_words(unreachable),
            changes=report_changes_get(job=job, user=reader, threat_model_ids={tm_id}) if job.schedule_id else None,
        )
        name = getattr(report, "name", "") or "threat-model"
        reported = [tm_id]
    else:
        filters = _report_filters(job.filters)
        portfolio_filters_clean(filters)  # an unknown filter fails before TMI is asked anything
        unreachable = _refresh(job, reader, models=None, start=2, end=40)
        if unreachable is not None:
            listed_at = freshness_get(organization=organization, user=reader).read_at
            if listed_at is None or portfolio_report_unread(organization=organization, user=reader, filters=filters):
                raise unreachable  # the store lacks some of it: wait for TMI
        reports = portfolio_report_get(
            organization=organization, user=reader, filters=filters, progress=_Progress(job, 40, 45)
        )
        history = report_history_get(job=job, user=reader, threat_model_ids={str(r.threat_model.id) for r in reports})
        _job_update(job, progress=45, progress_label="Laying out the pages")
        pdf = portfolio_report_pdf(
            reports,
            history=history,
            organization=organization,
            title=job.title or "Portfolio report",
            filters_description=export_filters_description(job.filters),
            generated_at=generated_at,
            progress=_Progress(job, 45, 98),
            provenance=provenance + _stale_words(unreachable),
            read_at=_oldest(freshness_get(organization=organization, user=reader).read_at, reports),
        )
        name = f"{organization.slug}-portfolio"
        reported = [report.id for report in reports]
    return pdf, f"{slugify(name) or 'report'}-{generated_at:%Y-%m-%d}.pdf", reported


def _spreadsheet(job: ExportJob, model_ids: list[str]) -> tuple[bytes, str]:
    """The threat register of the models the PDF reports (its open threats), from the same store through the same
    reader's visible set: what the register page would show that access with `?model=...` for each of them."""
    from portal.exports.spreadsheets import export_register_spreadsheet

    return export_register_spreadsheet(job, reader=_reader(job), model_ids=model_ids)


def _oldest(listed_at: datetime | None, reports: list) -> datetime | None:
    """When the oldest part of a portfolio report was read from TMI: the list of models, or a model."""
    times = [t for t in (listed_at, *(r.read_at for r in reports)) if t]
    return min(times) if times else None


def _report_filters(filters: dict | None) -> dict | None:
    """The portal's filter names (those of the threat-model list page) as the reports code names them."""
    if not filters:
        return None
    return {("search" if key == "q" else key): value for key, value in filters.items() if value}


def export_filters_description(filters: dict | None) -> str:
    """A phrase without a final full stop: the report puts it in a table cell and in a sentence of its own."""
    if not filters:
        return "All threat models you can see in TMI"
    parts = []
    if filters.get("q"):
        parts.append(f"names containing “{filters['q']}”")
    if filters.get("status"):
        parts.append(f"status “{filters['status']}”")
    others = {k: v for k, v in filters.items() if k not in ("q", "status") and v}
    parts.extend(f"{k}: {v}" for k, v in others.items())
    return "Threat models with " + ", ".join(parts) if parts else "All threat models you can see in TMI"


def _media_dir(job: ExportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / job.organization.slug


def _remove_partial_files(job: ExportJob) -> None:
    folder = _media_dir(job)
    if folder.is_dir():
        for part in folder.glob(f".{job.pk}-*.part"):
            part.unlink(missing_ok=True)


def _store(job: ExportJob, pdf: bytes, file_name: str) -> str:
    """Write to a hidden temporary file, then rename: a killed worker leaves no half-written PDF."""
    folder = _media_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{job.pk}-{file_name}"
    part = folder / f".{job.pk}-{job.claim}.part"
    with open(part, "wb") as handle:
        handle.write(pdf)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(part, final)
    return str(final.relative_to(settings.MEDIA_ROOT))


def _reason(error: BaseException) -> str:
    if isinstance(error, ClientCredentialsMissing):
        return (
            "This schedule runs with the organisation's TMI client credentials, but none are stored; an admin "
            "must add them, or switch the schedule to run as its owner."
        )
    if isinstance(error, MadeWithRefused):
        return (
            "The person whose TMI access this scheduled export was to be made with is no longer an admin or "
            "owner of the organisation (an owner, for the service account), so it was not made."
        )
    if isinstance(error, ReportFilterError):
        return str(error)
    if isinstance(error, NotVisible):
        return _(
            "TMI does not list this threat model for %(access)s: it may have been deleted, or that access does "
            "not reach it."
        ) % {"access": error.access}
    if isinstance(error, (TMIError, SignInRequired)):  # the words for its kind (accounts/tmi_failures.py)
        return failure_words(error, Context.EXPORT)
    return "Something went wrong while making the PDF; the portal's logs have the details."


def _release(job: ExportJob, error: TMIError, wait: float) -> Outcome:
    """Hand the job back to the queue, due again in `wait` seconds, and free this worker. Its heartbeat
    says when it is due, so the reaper counts it lost only that long after (jobs.export_jobs_requeue_lost)."""
    seconds = max(1, math.ceil(wait))
    released = ExportJob.objects.filter(pk=job.pk, claim=job.claim, status=ExportStatus.RUNNING).update(
        status=ExportStatus.QUEUED,
        claim="",
        heartbeat_at=timezone.now() + timedelta(seconds=wait),
        progress_label=f"TMI is busy; trying again in {seconds} second{'s' if seconds != 1 else ''}",
    )
    if not released:
        return Outcome(job.pk, "skipped")  # taken over meanwhile: the other run carries on
    logger.info("export %s: TMI trouble (%s); trying again in %.1f s", job.pk, type(error).__name__, wait)
    export_job_enqueue(job=job, countdown=wait)
    return Outcome(job.pk, "queued", countdown=wait)


def export_job_run(job_id: int) -> Outcome:
    """Run the job to the end (success or a failure in words), or, on transient TMI trouble while
    attempts remain, queue it again with a countdown and return at once."""
    claim = uuid.uuid4().hex
    job, why_not = export_job_claim(job_id=job_id, claim=claim)
    if job is None:
        return Outcome(job_id, why_not)
    try:
        try:
            _job_update(job, progress=1, progress_label="Reading from TMI")
            pdf, file_name, model_ids = _render(job)
        except TMIError as error:
            wait = export_retry_policy().wait(error, job.attempts - 1)
            if wait is None:
                raise  # not transient, or the last attempt: it fails in words below
            return _release(job, error, wait)
        _job_update(job, progress=99, progress_label="Saving the file")  # still ours? (raises ClaimLost if not)
        relative = _store(job, pdf, file_name)
        if job.spreadsheet:
            _job_update(job, progress_label="Making the spreadsheet")
            sheet, sheet_name = _spreadsheet(job, model_ids)
            _job_update(
                job,
                spreadsheet_file=_store(job, sheet, sheet_name),
                spreadsheet_name=sheet_name,
                spreadsheet_size=len(sheet),
            )
        now = timezone.now()
        _job_update(
            job,
            status=ExportStatus.SUCCEEDED,
            progress=100,
            progress_label="Ready",
            file=relative,
            file_name=file_name,
            size=len(pdf),
            finished_at=now,
            expires_at=now + timedelta(days=settings.EXPORT_FILE_DAYS),
        )
    except ClaimLost:
        logger.warning("export %s was taken over by another worker; this run stops", job_id)
        return Outcome(job_id, "skipped")
    except (
        SignInRequired,
        ClientCredentialsMissing,
        MadeWithRefused,
        NotVisible,
        TMIError,
        ReportFilterError,
    ) as error:
        return _fail(job, error)
    except Exception as error:  # a bug or a renderer crash still ends in words, not a spinner forever
        logger.exception("export %s failed", job_id)
        return _fail(job, error)
    audit_record(
        organization=job.organization,
        action="export.succeeded",
        actor=None,
        target=f"export {job.pk}",
        details={"file_name": file_name, "size": len(pdf), "attempts": job.attempts},
    )
    from portal.exports.notifications import export_succeeded_notify

    export_succeeded_notify(job=job)
    return Outcome(job_id, "done")


def _fail(job: ExportJob, error: BaseException) -> Outcome:
    reason = _reason(error)
    try:
        _job_update(job, status=ExportStatus.FAILED, error=reason, finished_at=timezone.now())
    except ClaimLost:
        return Outcome(job.pk, "skipped")
    audit_record(
        organization=job.organization,
        action="export.failed",
        actor=None,
        target=f"export {job.pk}",
        details={"reason": reason, "error": type(error).__name__},
    )
    if job.schedule_id is not None:
        audit_record(
            organization=job.organization,
            action="schedule.run_failed",
            actor=None,
            target=job.schedule.name,
            details={"schedule": job.schedule_id, "job": job.pk, "reason": reason},
        )
        if isinstance(error, (SignInRequired, MadeWithRefused)) and job.made_with_id is not None:
            from portal.exports.schedules import export_schedules_check_person

            export_schedules_check_person(organization=job.organization, user=job.made_with_id)
    from portal.exports.notifications import export_failed_notify

    export_failed_notify(job=job)
    return Outcome(job.pk, "failed")
