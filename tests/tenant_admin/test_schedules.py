"""Report schedule pages: create with clear errors, pause and resume, run now, the history with its files."""
from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from portal.accounts.models import TMIConnection
from portal.audit.models import AuditEvent
from portal.exports.models import ExportJob, ExportSchedule
from tests.tenant_admin.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def url(name, *args):
    return reverse(f"tenant_admin:{name}", args=["acme", *args])


def test_a_schedule_is_created_from_the_page(world):
    client = client_for(world.users["admin"])
    done = client.post(url("schedule_create"), {
        "name": "Monday board pack", "kind": "portfolio", "frequency": "weekly", "weekday": "0",
        "time_of_day": "07:30", "timezone": "Europe/London", "run_as": "owner", "owner": world.users["admin"].pk,
        "recipients_text": "alice@example.com"})
    assert done.status_code == 302
    schedule = ExportSchedule.objects.get(organization=world.acme, name="Monday board pack")
    assert schedule.owner == world.users["admin"] and schedule.recipients == ["alice@example.com"]
    html = client.get(url("schedules")).content.decode()
    assert "Monday board pack" in html and "Every week" in html
    assert AuditEvent.objects.filter(action="schedule.created", target="Monday board pack").exists()


def test_bad_schedule_input_is_explained_and_kept(world):
    page = client_for(world.users["admin"]).post(url("schedule_create"), {
        "name": "Nightly", "kind": "portfolio", "frequency": "daily", "time_of_day": "02:00",
        "timezone": "Mars/Olympus", "run_as": "owner", "owner": world.users["admin"].pk,
        "recipients_text": "stranger@elsewhere.test"})
    html = page.content.decode()
    assert page.status_code == 400
    assert "is not a time zone" in html and "not members: stranger@elsewhere.test" in html
    assert 'value="Nightly"' in html
    assert not ExportSchedule.objects.filter(name="Nightly").exists()


def test_pause_resume_and_run_now(world):
    client = client_for(world.users["admin"])
    client.post(url("schedule_pause", world.schedule.pk), {"paused": "1"})
    assert ExportSchedule.objects.get(pk=world.schedule.pk).paused
    assert "paused" in client.get(url("schedules")).content.decode()
    client.post(url("schedule_pause", world.schedule.pk), {"paused": "0"})
    assert not ExportSchedule.objects.get(pk=world.schedule.pk).paused
    done = client.post(url("schedule_run", world.schedule.pk))
    assert done["Location"] == url("schedule_runs", world.schedule.pk)
    job = ExportJob.objects.get(schedule=world.schedule)
    assert job.requested_by == world.users["admin"]
    history = client.get(url("schedule_runs", world.schedule.pk)).content.decode()
    assert f'href="/o/acme/exports/{job.pk}/"' in history


def test_the_history_links_to_finished_files(world):
    job = ExportJob.objects.create(organization=world.acme, kind="portfolio", schedule=world.schedule,
                                   status="succeeded", file_name="portfolio.pdf")
    job.file.save("portfolio.pdf", ContentFile(b"%PDF-1.7"), save=True)
    failed = ExportJob.objects.create(organization=world.acme, kind="portfolio", schedule=world.schedule,
                                      status="failed", error="TMI did not answer in time.")
    html = client_for(world.users["owner"]).get(url("schedule_runs", world.schedule.pk)).content.decode()
    assert f'href="/o/acme/exports/{job.pk}/download/">portfolio.pdf</a>' in html
    assert "TMI did not answer in time." in html and f'/o/acme/exports/{failed.pk}/"' in html


def test_owners_who_must_sign_in_again_are_named(world):
    TMIConnection.objects.create(organization=world.acme, user=world.users["owner"], provider="tmi",
                                 subject="alice", access_token="a", refresh_token="r",
                                 expires_at="2030-01-01T00:00:00Z", needs_sign_in=True)
    client = client_for(world.users["admin"])
    assert "must sign in again" in client.get(url("schedules")).content.decode()
    health = client.get(url("health")).content.decode().split('id="health-sign-in"', 1)[1]
    assert "Owners of scheduled reports" in health and "alice@example.com" in health and "Weekly portfolio" in health


def test_deleting_a_schedule_keeps_its_past_runs(world):
    job = ExportJob.objects.create(organization=world.acme, kind="portfolio", schedule=world.schedule,
                                   status="failed", error="gone")
    client_for(world.users["admin"]).post(url("schedule_delete", world.schedule.pk))
    assert not ExportSchedule.objects.filter(pk=world.schedule.pk).exists()
    assert ExportJob.objects.get(pk=job.pk).schedule is None
    assert AuditEvent.objects.filter(action="schedule.deleted", target="Weekly portfolio").exists()
