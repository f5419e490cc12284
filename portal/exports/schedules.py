"""Scheduled exports: the admin-facing services (create, update, pause, run now, delete) and the
beat-fired run that happens once per slot.

A schedule lends TMI access to its recipients, so nobody chooses whose: it runs as the person who last
saved or resumed it, or, if an owner chose so, as the organisation's TMI service account (client
credentials). When that person leaves, loses the role that may manage schedules (owner, for the service
account) or must sign in to TMI again, the schedule pauses and the owners are told
(`export_schedules_check_person`); it runs again only once someone with the right saves or resumes it."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.exports.jobs import export_job_create
from portal.exports.models import (
    SPREADSHEET_OF_ATTACHMENT,
    ExportJob,
    ExportKind,
    ExportSchedule,
    Frequency,
    PauseReason,
    RunAs,
    ScheduleKind,
)
from portal.exports.provenance import person_name
from portal.exports.selectors import export_schedule_stop_reason
from portal.organizations.access import OrganizationNotFound, organization_access_resolve
from portal.organizations.events import admin_change_broadcast
from portal.organizations.models import Membership, Role

logger = logging.getLogger(__name__)

FIRE_TASK = "portal.exports.tasks.export_schedule_fire"
# No "owner": whoever saves a schedule is the person it runs as (the actor of create, update and resume).
FIELDS = (
    "name",
    "kind",
    "threat_model_id",
    "filters",
    "frequency",
    "time_of_day",
    "weekday",
    "day_of_month",
    "timezone",
    "run_as",
    "recipients",
    "paused",
    "attachment",
)


def _require_admin(*, organization, actor) -> None:
    try:
        organization_access_resolve(slug=organization.slug, user=actor, minimum_role=Role.ADMIN)
    except OrganizationNotFound:
        raise PermissionDenied("Only the organisation's admins and owners manage scheduled exports.") from None


def _member_emails(organization) -> dict[str, str]:
    """lower-cased email -> the address as the member has it."""
    return {
        m.user.email.lower(): m.user.email
        for m in Membership.objects.select_related("user").filter(organization=organization)
        if m.user.email
    }


def export_schedule_validate(*, organization, schedule: ExportSchedule) -> None:
    """Check what the model alone cannot; raises ValidationError with words, per field."""
    errors: dict[str, str] = {}
    if not (schedule.name or "").strip():
        errors["name"] = "Give the schedule a name people will recognise."
    if schedule.kind == ScheduleKind.THREAT_MODEL and not schedule.threat_model_id:
        errors["threat_model_id"] = "Choose the threat model to export."
    if schedule.kind == ScheduleKind.FILTER and not any((schedule.filters or {}).values()):
        errors["filters"] = "Say which threat models to include (a name to search for or a status)."
    if schedule.frequency == Frequency.WEEKLY and schedule.weekday not in range(7):
        errors["weekday"] = "Choose the day of the week."
    if schedule.frequency == Frequency.MONTHLY and schedule.day_of_month not in range(1, 29):
        errors["day_of_month"] = "Choose a day between 1 and 28 (every month has those)."
    try:
        if schedule.timezone not in available_timezones():
            raise ZoneInfoNotFoundError(schedule.timezone)
        ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"“{schedule.timezone}” is not a time zone; use a name such as Europe/Berlin or UTC."
    saver = Membership.objects.filter(organization=organization, user_id=schedule.owner_id).first()
    if saver is None or not Role(saver.role).at_least(Role.ADMIN):
        errors["owner"] = "Only the organisation's admins and owners save schedules; it runs with their TMI access."
    elif schedule.run_as == RunAs.CLIENT_CREDENTIALS and saver.role != Role.OWNER:
        errors["run_as"] = _(
            "Only an owner may let a schedule use the organisation's TMI service account: its "
            "recipients receive everything that account can read. Choose your own TMI access."
        )
    elif schedule.run_as == RunAs.CLIENT_CREDENTIALS and not (
        organization.tmi_client_id and organization.tmi_client_secret
    ):
        errors["run_as"] = (
            "This organisation has no TMI client credentials stored. An admin can add them under "
            "Admin → TMI connection; until then, the schedule can run with your own TMI access."
        )
    members = _member_emails(organization)
    recipients = schedule.recipients if isinstance(schedule.recipients, list) else None
    if recipients is None:
        errors["recipients"] = "Recipients must be a list of email addresses."
    else:
        strangers = [r for r in recipients if str(r).strip().lower() not in members]
        if strangers:
            errors["recipients"] = (
                "Only members of this organisation can receive its exports; not members: "
                + ", ".join(str(s) for s in strangers)
            )
        else:
            schedule.recipients = sorted({members[str(r).strip().lower()] for r in recipients})
    if errors:
        raise ValidationError(errors)


def _normalise(schedule: ExportSchedule) -> None:
    if schedule.frequency != Frequency.WEEKLY:
        schedule.weekday = None
    if schedule.frequency != Frequency.MONTHLY:
        schedule.day_of_month = None
    if schedule.kind != ScheduleKind.THREAT_MODEL:
        schedule.threat_model_id = None
    if schedule.kind != ScheduleKind.FILTER:
        schedule.filters = {}
    if schedule.time_of_day is not None:
        schedule.time_of_day = schedule.time_of_day.replace(second=0, microsecond=0)


def _periodic_task_sync(schedule: ExportSchedule) -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    cron_weekday = "*" if schedule.weekday is None else str((schedule.weekday + 1) % 7)  # cron: 0 is Sunday
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=str(schedule.time_of_day.minute),
        hour=str(schedule.time_of_day.hour),
        day_of_week=cron_weekday,
        day_of_month="*" if schedule.day_of_month is None else str(schedule.day_of_month),
        month_of_year="*",
        timezone=schedule.timezone,
    )
    task = schedule.periodic_task or PeriodicTask(name=f"export schedule {schedule.pk}", task=FIRE_TASK)
    task.crontab = crontab
    task.interval = None
    task.args = json.dumps([schedule.pk])
    task.enabled = not schedule.paused
    task.save()
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        schedule.save(update_fields=["periodic_task"])


def _apply(schedule: ExportSchedule, fields: dict) -> None:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown schedule fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(schedule, name, value)


def _changes(schedule: ExportSchedule, fields: dict) -> dict:
    return {name: str(getattr(schedule, name + "_id" if name == "owner" else name)) for name in fields}


def _saved_by(schedule: ExportSchedule, actor) -> None:
    """Saving makes the saver the person the schedule runs as; it clears any automatic pause reason."""
    schedule.owner = actor
    schedule.pause_reason = PauseReason.BY_HAND if schedule.paused else ""


def export_schedule_create(*, organization, actor, request=None, **fields) -> ExportSchedule:
    _require_admin(organization=organization, actor=actor)
    with transaction.atomic():
        schedule = ExportSchedule(organization=organization)
        _apply(schedule, fields)
        _saved_by(schedule, actor)
        _normalise(schedule)
        export_schedule_validate(organization=organization, schedule=schedule)
        schedule.full_clean(exclude=["periodic_task"])
        schedule.save()
        _periodic_task_sync(schedule)
        audit_record(
            organization=organization,
            action="schedule.created",
            actor=actor,
            request=request,
            target=schedule.name,
            details={"schedule": schedule.pk, **_changes(schedule, {**fields, "owner": actor})},
        )
    return schedule


def export_schedule_update(*, schedule, actor, request=None, **fields) -> ExportSchedule:
    _require_admin(organization=schedule.organization, actor=actor)
    with transaction.atomic():
        schedule = ExportSchedule.objects.select_for_update().get(pk=schedule.pk)
        previous = schedule.owner_id
        _apply(schedule, fields)
        _saved_by(schedule, actor)
        _normalise(schedule)
        export_schedule_validate(organization=schedule.organization, schedule=schedule)
        schedule.full_clean(exclude=["periodic_task"])
        schedule.save()
        _periodic_task_sync(schedule)
        audit_record(
            organization=schedule.organization,
            action="schedule.updated",
            actor=actor,
            request=request,
            target=schedule.name,
            details={
                "schedule": schedule.pk,
                "runs_as_before": previous,
                **_changes(schedule, {**fields, "owner": actor}),
            },
        )
    return schedule


def export_schedule_pause(*, schedule, actor, paused: bool, request=None) -> ExportSchedule:
    """Pause, or resume. Resuming is saving: the schedule then runs as the person who resumed it (the
    service account stays only when an owner resumes it)."""
    _require_admin(organization=schedule.organization, actor=actor)
    with transaction.atomic():
        schedule = ExportSchedule.objects.select_for_update().select_related("organization").get(pk=schedule.pk)
        previous = schedule.owner_id
        schedule.paused = bool(paused)
        if paused:
            schedule.pause_reason = schedule.pause_reason or PauseReason.BY_HAND
        else:
            _saved_by(schedule, actor)
            export_schedule_validate(organization=schedule.organization, schedule=schedule)
        schedule.save(update_fields=["paused", "pause_reason", "owner", "updated_at"])
        _periodic_task_sync(schedule)
        audit_record(
            organization=schedule.organization,
            action="schedule.paused" if paused else "schedule.resumed",
            actor=actor,
            request=request,
            target=schedule.name,
            details={"schedule": schedule.pk, "runs_as": schedule.owner_id, "runs_as_before": previous},
        )
    return schedule


def export_schedules_check_person(*, organization, user) -> list[ExportSchedule]:
    """Pause every running schedule of `organization` that runs as (or on the authority of) `user` and
    that they can no longer lend (they left, lost the role, or must sign in to TMI again); write an audit
    row for each, tell open admin pages and, after commit, email the owners. Called by the member removal
    and role change services, by the token vault when TMI refuses a refresh, and before each run."""
    from portal.exports.notifications import schedules_paused_notify

    paused = []
    with transaction.atomic():
        for schedule in (
            ExportSchedule.objects.select_for_update()
            .select_related("owner", "organization")
            .filter(organization=organization, owner_id=getattr(user, "pk", user), paused=False)
        ):
            reason = export_schedule_stop_reason(schedule=schedule)
            if reason is None:
                continue
            schedule.paused, schedule.pause_reason = True, reason
            schedule.save(update_fields=["paused", "pause_reason", "updated_at"])
            _periodic_task_sync(schedule)
            audit_record(
                organization=organization,
                action="schedule.paused_automatically",
                actor=None,
                target=schedule.name,
                details={
                    "schedule": schedule.pk,
                    "reason": reason.value,
                    "runs_as": schedule.owner_id,
                    "person": person_name(schedule.owner),
                },
            )
            admin_change_broadcast(
                organization=organization,
                section="schedules",
                actor=None,
                summary=_("The schedule %(name)s is paused: %(reason)s.")
                % {"name": schedule.name, "reason": reason.label},
            )
            paused.append(schedule)
        if paused:
            transaction.on_commit(lambda: schedules_paused_notify(organization=organization, schedules=paused))
    return paused


def export_schedules_check_connection(connection) -> None:
    """The token vault's listener: TMI refused to renew this member's access (accounts.vault). Their
    schedules pause (the owners are told), and after commit they are asked to sign in again."""
    from portal.exports.notifications import sign_in_required_notify

    export_schedules_check_person(organization=connection.organization, user=connection.user_id)
    theirs = list(
        ExportSchedule.objects.filter(
            organization=connection.organization, owner_id=connection.user_id, run_as=RunAs.OWNER
        )
    )
    transaction.on_commit(lambda: sign_in_required_notify(connection=connection, schedules=theirs))


def export_schedules_recheck_person(organization, user_id: int) -> None:
    """Registered with organizations.membership_tmi_access_subscribe: the person's TMI access through the
    organisation changed because it moved to another TMI server. Their schedules pause while they must
    re-link (export_schedules_check_person), and those paused for that reason alone resume once they have,
    still running as them: nobody else's access is lent."""
    export_schedules_check_person(organization=organization, user=user_id)
    for schedule in (
        ExportSchedule.objects.select_for_update()
        .select_related("owner", "organization")
        .filter(organization=organization, owner_id=user_id, paused=True, pause_reason=PauseReason.RELINK)
    ):
        if export_schedule_stop_reason(schedule=schedule) is not None:
            continue
        schedule.paused, schedule.pause_reason = False, ""
        schedule.save(update_fields=["paused", "pause_reason", "updated_at"])
        _periodic_task_sync(schedule)
        audit_record(
            organization=organization,
            action="schedule.resumed_automatically",
            actor=None,
            target=schedule.name,
            details={"schedule": schedule.pk, "runs_as": schedule.owner_id, "person": person_name(schedule.owner)},
        )
        admin_change_broadcast(
            organization=organization,
            section="schedules",
            actor=None,
            summary=_("The schedule %(name)s runs again: %(person)s linked their account at the new TMI server.")
            % {"name": schedule.name, "person": person_name(schedule.owner)},
        )


def export_schedule_delete(*, schedule, actor, request=None) -> None:
    _require_admin(organization=schedule.organization, actor=actor)
    with transaction.atomic():
        name, pk = schedule.name, schedule.pk
        task = schedule.periodic_task
        schedule.delete()  # its past runs stay, with schedule = NULL
        if task is not None:
            task.delete()
        audit_record(
            organization=schedule.organization,
            action="schedule.deleted",
            actor=actor,
            request=request,
            target=name,
            details={"schedule": pk},
        )


def _recipient_users(schedule: ExportSchedule) -> list:
    emails = {str(r).strip().lower() for r in schedule.recipients or []}
    return [
        user
        for user in get_user_model().objects.filter(memberships__organization=schedule.organization)
        if (user.email or "").lower() in emails
    ]


def _job_for(schedule: ExportSchedule, *, actor, run_key: str | None, request=None) -> ExportJob:
    if schedule.kind == ScheduleKind.THREAT_MODEL:
        kind, filters = ExportKind.THREAT_MODEL, {}
    else:
        kind, filters = ExportKind.PORTFOLIO, dict(schedule.filters or {})
    return export_job_create(
        organization=schedule.organization,
        actor=actor,
        kind=kind,
        threat_model_id=schedule.threat_model_id,
        filters=filters,
        request=request,
        schedule=schedule,
        run_key=run_key,
        title=schedule.name,
        made_with=schedule.owner,
        made_with_service_account=schedule.run_as == RunAs.CLIENT_CREDENTIALS,
        shared_with=_recipient_users(schedule),
        spreadsheet=SPREADSHEET_OF_ATTACHMENT.get(schedule.attachment, ""),
    )


def _refuse_if_stopped(schedule: ExportSchedule) -> None:
    reason = (
        PauseReason(schedule.pause_reason)
        if schedule.paused and schedule.pause_reason and schedule.pause_reason != PauseReason.BY_HAND
        else export_schedule_stop_reason(schedule=schedule)
    )
    if reason is not None:
        export_schedules_check_person(organization=schedule.organization, user=schedule.owner_id)
        raise ValidationError(
            _("“%(name)s” cannot run: %(reason)s. Resume it, or save it, to make it run with your own TMI access.")
            % {"name": schedule.name, "reason": reason.label}
        )


def export_schedule_run_now(*, schedule, actor, request=None) -> ExportJob:
    """Start a run at once, as the schedule stands: made with its person's access and sent to its
    recipients (the admin who clicks gets the file only if they are one of those)."""
    _require_admin(organization=schedule.organization, actor=actor)
    schedule = ExportSchedule.objects.select_related("organization", "owner").get(pk=schedule.pk)
    _refuse_if_stopped(schedule)
    with transaction.atomic():
        job = _job_for(schedule, actor=actor, run_key=None, request=request)
        ExportSchedule.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())
        audit_record(
            organization=schedule.organization,
            action="schedule.run_started",
            actor=actor,
            request=request,
            target=schedule.name,
            details={"schedule": schedule.pk, "job": job.pk, "manual": True},
        )
    return job


def export_schedule_slot(*, schedule: ExportSchedule, now: datetime | None = None) -> datetime:
    """The latest time this schedule was due at or before `now` (UTC, to the minute). Beat firing
    twice, late, or a task redelivered minutes later all land on the same slot."""
    zone = ZoneInfo(schedule.timezone)
    local = (now or timezone.now()).astimezone(zone)
    at = schedule.time_of_day or time(0, 0)

    def on(day) -> datetime:
        return datetime.combine(day, time(at.hour, at.minute), tzinfo=zone)

    if schedule.frequency == Frequency.WEEKLY:
        day = local.date() - timedelta(days=(local.weekday() - (schedule.weekday or 0)) % 7)
        slot = on(day) if on(day) <= local else on(day - timedelta(days=7))
    elif schedule.frequency == Frequency.MONTHLY:
        day = local.date().replace(day=schedule.day_of_month or 1)
        if on(day) > local:
            previous = day.replace(day=1) - timedelta(days=1)
            day = previous.replace(day=schedule.day_of_month or 1)
        slot = on(day)
    else:
        slot = on(local.date()) if on(local.date()) <= local else on(local.date() - timedelta(days=1))
    return slot.astimezone(ZoneInfo("UTC")).replace(second=0, microsecond=0)


def export_schedule_run(*, schedule_id: int, now: datetime | None = None) -> ExportJob | None:
    """Beat's run of a schedule: one job per slot, however often it fires. None when there is
    nothing to do (paused, deleted, or this slot already has its job)."""
    schedule = ExportSchedule.objects.select_related("organization", "owner").filter(pk=schedule_id).first()
    if schedule is None or schedule.paused:
        return None
    if export_schedules_check_person(organization=schedule.organization, user=schedule.owner_id):
        return None  # its person can no longer lend their access: paused, and the owners told
    slot = export_schedule_slot(schedule=schedule, now=now)
    run_key = f"{schedule.pk}@{slot:%Y-%m-%dT%H:%MZ}"
    try:
        with transaction.atomic():
            job = _job_for(schedule, actor=None, run_key=run_key)
            ExportSchedule.objects.filter(pk=schedule.pk).update(last_run_at=timezone.now())
            audit_record(
                organization=schedule.organization,
                action="schedule.run_started",
                actor=None,
                target=schedule.name,
                details={"schedule": schedule.pk, "job": job.pk, "slot": run_key},
            )
    except IntegrityError:
        logger.info("schedule %s: slot %s already has its job", schedule.pk, run_key)
        return None
    return job
