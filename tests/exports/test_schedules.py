"""Scheduled exports: the admin services, beat's rows, one job per slot, notifications."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django_celery_beat.models import PeriodicTask

from portal.audit.models import AuditEvent
from portal.exports.forms import ExportScheduleForm
from portal.exports.models import ExportJob, ExportStatus
from portal.exports.running import export_job_run
from portal.exports.schedules import (
    export_schedule_create,
    export_schedule_delete,
    export_schedule_pause,
    export_schedule_run,
    export_schedule_run_now,
    export_schedule_slot,
    export_schedule_update,
)
from portal.exports.selectors import export_schedule_blocked, export_schedule_get, export_schedule_runs
from portal.exports.tasks import export_schedule_fire
from portal.sandbox.seed import sid
from tests.exports.conftest import wait_for

pytestmark = pytest.mark.parametrize("generation", ["1.8"])

WEEKLY = {
    "name": "Weekly payments report",
    "kind": "threat_model",
    "threat_model_id": sid("tm", "Customer Payments API"),
    "frequency": "weekly",
    "time_of_day": time(7, 30),
    "weekday": 0,
    "timezone": "Europe/Berlin",
    "recipients": ["bob@example.com"],
}


def test_admins_create_a_schedule_that_beat_will_fire(organization, owner, admin, member):
    schedule = export_schedule_create(organization=organization, actor=admin, **WEEKLY)
    assert schedule.owner == admin and schedule.recipients == ["bob@example.com"]
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "portal.exports.tasks.export_schedule_fire" and json.loads(task.args) == [schedule.pk]
    assert task.enabled and task.crontab.hour == "7" and task.crontab.minute == "30"
    assert task.crontab.day_of_week == "1"  # Monday in cron's numbering
    assert str(task.crontab.timezone) == "Europe/Berlin"
    assert AuditEvent.objects.filter(action="schedule.created", actor=admin).count() == 1

    export_schedule_update(schedule=schedule, actor=owner, frequency="monthly", day_of_month=3)
    task.refresh_from_db()
    assert task.crontab.day_of_month == "3" and task.crontab.day_of_week == "*"
    export_schedule_pause(schedule=schedule, actor=owner, paused=True)
    task.refresh_from_db()
    assert not task.enabled
    assert export_schedule_run(schedule_id=schedule.pk) is None  # paused: nothing runs
    export_schedule_pause(schedule=schedule, actor=owner, paused=False)
    task.refresh_from_db()
    assert task.enabled
    assert [e.action for e in AuditEvent.objects.order_by("pk") if e.action.startswith("schedule.")] == [
        "schedule.created",
        "schedule.updated",
        "schedule.paused",
        "schedule.resumed",
    ]

    export_schedule_delete(schedule=schedule, actor=owner)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert AuditEvent.objects.filter(action="schedule.deleted").exists()


def test_members_cannot_manage_schedules(organization, other_organization, owner, admin, member, member_factory):
    with pytest.raises(PermissionDenied):
        export_schedule_create(organization=organization, actor=member, **WEEKLY)
    schedule = export_schedule_create(organization=organization, actor=owner, **WEEKLY)
    outsider = member_factory(other_organization, "dave", role="owner")
    for call in (
        lambda a: export_schedule_update(schedule=schedule, actor=a, name="x"),
        lambda a: export_schedule_pause(schedule=schedule, actor=a, paused=True),
        lambda a: export_schedule_run_now(schedule=schedule, actor=a),
        lambda a: export_schedule_delete(schedule=schedule, actor=a),
    ):
        for actor in (member, outsider):
            with pytest.raises(PermissionDenied):
                call(actor)
    schedule.refresh_from_db()
    assert schedule.name == WEEKLY["name"] and not schedule.paused and not ExportJob.objects.exists()


def test_bad_schedules_are_refused_with_words(organization, owner, admin, member, member_factory, other_organization):
    stranger = member_factory(other_organization, "dave")
    cases = {
        "recipients": {"recipients": ["someone@elsewhere.test"]},
        "timezone": {"timezone": "Mars/Olympus"},
        "weekday": {"weekday": None},
        "run_as": {"run_as": "client_credentials"},
    }
    for field, change in cases.items():
        with pytest.raises(ValidationError) as caught:
            export_schedule_create(organization=organization, actor=owner, **{**WEEKLY, **change})
        assert field in caught.value.message_dict, field
        assert all(len(m) > 15 for m in caught.value.message_dict[field])
    # Nobody names the person a schedule runs as: it is whoever saves it.
    with pytest.raises(TypeError, match="owner"):
        export_schedule_create(organization=organization, actor=owner, **{**WEEKLY, "owner": stranger})
    with pytest.raises(ValidationError) as caught:
        export_schedule_create(
            organization=organization, actor=owner, **{**WEEKLY, "frequency": "monthly", "day_of_month": 31}
        )
    assert "between 1 and 28" in caught.value.message_dict["day_of_month"][0]
    assert not PeriodicTask.objects.filter(task="portal.exports.tasks.export_schedule_fire").exists()


def test_the_slot_is_the_latest_due_time_in_the_schedules_time_zone(organization, owner, admin, member):
    schedule = export_schedule_create(organization=organization, actor=owner, **WEEKLY)
    # Monday 2026-11-23 07:30 in Berlin is 06:30 UTC.
    expected = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
    for now in (
        datetime(2026, 11, 23, 6, 30, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 6, 34, tzinfo=UTC),  # beat late, or a redelivery
        datetime(2026, 11, 29, 22, 0, tzinfo=UTC),
    ):
        assert export_schedule_slot(schedule=schedule, now=now) == expected
    assert export_schedule_slot(schedule=schedule, now=datetime(2026, 11, 23, 6, 29, tzinfo=UTC)) == datetime(
        2026, 11, 16, 6, 30, tzinfo=UTC
    )


def test_a_slot_fired_twice_creates_one_job(organization, owner, admin, member, django_capture_on_commit_callbacks):
    schedule = export_schedule_create(organization=organization, actor=owner, **WEEKLY)
    now = datetime(2026, 11, 23, 6, 30, 2, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = export_schedule_run(schedule_id=schedule.pk, now=now)
        second = export_schedule_run(schedule_id=schedule.pk, now=now.replace(minute=31))
    assert first is not None and second is None and len(queued) == 1
    assert first.run_key == f"{schedule.pk}@2026-11-23T06:30Z"
    assert list(export_schedule_runs(schedule=schedule)) == [first]
    assert AuditEvent.objects.filter(action="schedule.run_started").count() == 1


@pytest.mark.timeout(300)
def test_beat_firing_twice_through_a_real_worker_runs_once(organization, owner, admin, member, workers):
    schedule = export_schedule_create(organization=organization, actor=owner, **WEEKLY)
    workers.start()
    results = [export_schedule_fire.delay(schedule.pk), export_schedule_fire.delay(schedule.pk)]
    outcomes = [result.get(timeout=60) for result in results]
    assert sorted(outcomes, key=lambda o: o is None)[1] is None and sum(o is not None for o in outcomes) == 1
    job = ExportJob.objects.get(schedule=schedule)

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=120, what="the scheduled export")
    assert job.status == ExportStatus.SUCCEEDED, (job.error, workers.logs())
    assert ExportJob.objects.filter(schedule=schedule).count() == 1


def test_recipients_get_the_file_and_a_link(organization, owner, admin, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    schedule = export_schedule_create(organization=organization, actor=owner, **WEEKLY)
    job = export_schedule_run_now(schedule=schedule, actor=admin)
    mail.outbox.clear()
    assert export_job_run(job.pk).action == "done"
    [message] = mail.outbox
    assert message.to == ["bob@example.com"] and schedule.name in message.subject
    assert f"/o/acme/exports/{job.pk}/" in message.body
    [(name, content, mimetype)] = message.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")

    settings.EXPORT_ATTACH_MAX_BYTES = 10  # large files: a link only
    job = export_schedule_run_now(schedule=schedule, actor=admin)
    mail.outbox.clear()
    export_job_run(job.pk)
    assert mail.outbox[0].attachments == [] and f"/o/acme/exports/{job.pk}/" in mail.outbox[0].body


def test_a_failed_run_tells_its_person_and_the_admins(organization, owner, admin, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    schedule = export_schedule_create(
        organization=organization, actor=admin, **{**WEEKLY, "threat_model_id": sid("tm", "No such model")}
    )
    job = export_schedule_run(schedule_id=schedule.pk)
    mail.outbox.clear()
    assert export_job_run(job.pk).action == "failed"
    [message] = [m for m in mail.outbox if "failed" in m.subject]
    assert sorted(message.to) == ["alice@example.com", "carol@example.com"]  # carol made it; alice is an owner
    assert "TMI does not list this threat model for the TMI access of carol@example.com" in message.body
    assert "Made with the TMI access of carol@example.com" in message.body
    assert AuditEvent.objects.filter(action="schedule.run_failed", organization=organization).count() == 1
    assert export_schedule_get(organization=organization, schedule_id=schedule.pk) == schedule  # nothing lost


def test_beat_pauses_a_schedule_whose_person_must_sign_in_again(
    organization, owner, admin, member, django_capture_on_commit_callbacks
):
    """However the mark came (a refused refresh, a new TMI address, a sign-out), beat runs nothing as them."""
    schedule = export_schedule_create(organization=organization, actor=admin, **WEEKLY)
    admin.tmi_connections.update(needs_sign_in=True)
    assert export_schedule_blocked(schedule=schedule)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert export_schedule_run(schedule_id=schedule.pk) is None
    schedule.refresh_from_db()
    assert schedule.paused and schedule.pause_reason == "sign_in" and not ExportJob.objects.exists()
    [told] = [m for m in mail.outbox if "paused" in m.subject]
    assert told.to == ["alice@example.com"] and "must sign in to TMI again" in told.body
    assert AuditEvent.objects.filter(action="schedule.paused_automatically", organization=organization).count() == 1


def test_the_form_parses_for_the_services(organization, owner, admin, member):
    data = {
        "name": "Filtered",
        "kind": "filter",
        "filter_q": "Payments",
        "frequency": "daily",
        "time_of_day": "06:00",
        "timezone": "UTC",
        "run_as": "owner",
        "recipients_text": "bob@example.com, carol@example.com",
    }
    form = ExportScheduleForm(data, organization=organization, actor=owner)
    assert form.is_valid(), form.errors
    schedule = export_schedule_create(organization=organization, actor=owner, **form.schedule_fields())
    assert schedule.filters == {"q": "Payments"} and schedule.recipients == ["bob@example.com", "carol@example.com"]
    bad = ExportScheduleForm(
        {**data, "recipients_text": "eve@evil.test", "timezone": "Nowhere/City"},
        organization=organization,
        actor=owner,
    )
    assert not bad.is_valid()
    assert "not members" in str(bad.errors["recipients_text"]) and "time zone" in str(bad.errors["timezone"])
