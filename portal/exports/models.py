"""Export jobs (one PDF each) and the schedules that create them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def export_file_path(job: ExportJob, filename: str) -> str:
    return f"exports/{job.organization.slug}/{job.pk}-{filename}"


class ExportKind(models.TextChoices):
    THREAT_MODEL = "threat_model", _("One threat model")
    PORTFOLIO = "portfolio", _("Portfolio")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("In progress")
    SUCCEEDED = "succeeded", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExportJob(models.Model):
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="export_jobs")
    kind = models.CharField(max_length=20, choices=ExportKind.choices)
    threat_model_id = models.UUIDField(null=True, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    schedule = models.ForeignKey(
        "exports.ExportSchedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="export_jobs"
    )
    title = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=12, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_label = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    file = models.FileField(upload_to=export_file_path, max_length=500, blank=True)
    file_name = models.CharField(max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Which run currently owns the job, and when it last showed signs of life: a worker that dies
    # stops beating, and the reaper (or a redelivery) takes the job over.
    claim = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # A scheduled run's slot ("<schedule id>@<minute>"): a second fire of the same slot is refused here.
    run_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # Whose TMI access the file is made with, and who receives it, fixed when the job is created: the PDF
    # holds what that access can read, so only that person and these recipients may open it (a later edit
    # of the schedule, or an admin pressing "Run now", changes neither).
    from_schedule = models.BooleanField(default=False)
    made_with = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    made_with_service_account = models.BooleanField(default=False)
    shared_with = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # A scheduled run may also make the threat register as a spreadsheet ("xlsx" or "csv"; "" none), fixed when
    # the job is created like its access; the file sits beside the PDF and expires with it.
    spreadsheet = models.CharField(max_length=4, blank=True)
    spreadsheet_file = models.FileField(upload_to=export_file_path, max_length=500, blank=True)
    spreadsheet_name = models.CharField(max_length=300, blank=True)
    spreadsheet_size = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.kind}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.SUCCEEDED, ExportStatus.FAILED, ExportStatus.EXPIRED)


class ScheduleKind(models.TextChoices):
    THREAT_MODEL = "threat_model", _("One threat model")
    FILTER = "filter", _("Threat models matching a filter")
    PORTFOLIO = "portfolio", _("The whole portfolio")


class Frequency(models.TextChoices):
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class RunAs(models.TextChoices):
    # "owner" is the stored value from before the rule below; it means the person who last saved the schedule.
    OWNER = "owner", _("My own TMI access (the person who saves the schedule)")
    CLIENT_CREDENTIALS = "client_credentials", _("The organisation's TMI service account (client credentials)")


class PauseReason(models.TextChoices):
    """Why a schedule is paused. Every reason but BY_HAND was the portal's own doing: the person it runs as
    can no longer lend their access, and it stays paused until someone with the right saves or resumes it."""

    BY_HAND = "by_hand", _("paused by an admin")
    LEFT = "left", _("the person it runs as left the organisation")
    ROLE_LOST = "role_lost", _("the person it runs as may no longer manage schedules")
    SIGN_IN = "sign_in", _("the person it runs as must sign in to TMI again")
    # The organisation moved to another TMI server; it resumes by itself when they have re-linked.
    RELINK = "relink", _("the person it runs as has not yet linked their account at the organisation's new TMI server")


class Attachment(models.TextChoices):
    """What a scheduled run's email carries: the PDF, and optionally the threat register as a spreadsheet (the
    register's open threats of the same models, read from the same store with the same TMI access)."""

    PDF = "pdf", _("The PDF report")
    PDF_XLSX = "pdf_xlsx", _("The PDF report and the threat register as an Excel file")
    PDF_CSV = "pdf_csv", _("The PDF report and the threat register as a CSV file")


SPREADSHEET_OF_ATTACHMENT = {Attachment.PDF: "", Attachment.PDF_XLSX: "xlsx", Attachment.PDF_CSV: "csv"}


class ExportSchedule(models.Model):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="export_schedules"
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("what"), max_length=20, choices=ScheduleKind.choices, default=ScheduleKind.PORTFOLIO)
    threat_model_id = models.UUIDField(_("threat model id"), null=True, blank=True)
    filters = models.JSONField(_("filter"), default=dict, blank=True)
    frequency = models.CharField(_("how often"), max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    time_of_day = models.TimeField(_("time of day"))
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), null=True, blank=True, help_text=_("0 is Monday, 6 is Sunday")
    )
    day_of_month = models.PositiveSmallIntegerField(_("day of the month"), null=True, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    run_as = models.CharField(_("made with"), max_length=20, choices=RunAs.choices, default=RunAs.OWNER)
    # The person who last saved (or resumed) the schedule: it runs with their TMI access, or, for
    # client credentials, on their authority (they must be an owner). Nobody picks someone else.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="export_schedules", verbose_name=_("saved by")
    )
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    attachment = models.CharField(_("attach"), max_length=10, choices=Attachment.choices, default=Attachment.PDF)
    paused = models.BooleanField(_("paused"), default=False)
    pause_reason = models.CharField(_("why paused"), max_length=20, choices=PauseReason.choices, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="export_schedule",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name
