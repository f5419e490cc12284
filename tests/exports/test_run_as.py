"""Issue 10, item 2: a schedule never lends one member's TMI access to another.

The sandbox's real ACLs (portal/sandbox/seed.py): "Kubernetes Platform" is bob's (dave reads it); carol
and alice cannot read it. carol is an admin who tries to get it into a PDF through a schedule.
"""

from __future__ import annotations

import io
from datetime import time
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from portal.exports.models import ExportJob, ExportSchedule, ExportStatus
from portal.exports.running import export_job_run
from portal.exports.schedules import export_schedule_create
from portal.sandbox.seed import sid

SECRET_MODEL = "Kubernetes Platform"  # bob owns it; carol has no access in TMI
CAROLS_MODEL = "Identity and SSO Gateway"  # carol owns it


@pytest.fixture
def bob(organization, member_factory):
    """A second admin: the schedules here are his."""
    return member_factory(organization, "bob", role="admin")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(Path(path).read_bytes())).pages)


def every_pdf_text(media: Path) -> str:
    return "\n".join(pdf_text(p) for p in media.rglob("*.pdf")) if media.exists() else ""


def run_now_as(client: Client, schedule) -> ExportJob:
    done = client.post(reverse("tenant_admin:schedule_run", args=["acme", schedule.pk]))
    assert done.status_code == 302, done.content.decode()[:500]
    job = ExportJob.objects.filter(schedule=schedule).latest("pk")
    export_job_run(job.pk)
    job.refresh_from_db()
    return job


FORM = {
    "name": "Platform review",
    "kind": "threat_model",
    "threat_model_id": sid("tm", SECRET_MODEL),
    "frequency": "daily",
    "time_of_day": "06:00",
    "timezone": "UTC",
    "run_as": "owner",
    "recipients_text": "carol@example.com",
}


def bobs_schedule(organization, owner, bob, admin):
    """A daily report of the model only bob can read, made by bob and sent to him."""
    return export_schedule_create(
        organization=organization,
        actor=bob,
        name="Platform review",
        kind="threat_model",
        threat_model_id=sid("tm", SECRET_MODEL),
        frequency="daily",
        time_of_day=time(6, 0),
        timezone="UTC",
        recipients=["bob@example.com"],
    )


def test_an_admin_cannot_make_a_schedule_run_as_another_member(organization, owner, bob, admin, media):
    """carol posts the form naming bob as the person it runs as: the schedule runs as carol, so
    TMI refuses her the model and no PDF with it exists anywhere."""
    carol = signed_in(admin)
    done = carol.post(reverse("tenant_admin:schedule_create", args=["acme"]), {**FORM, "owner": bob.pk})
    assert done.status_code == 302
    schedule = ExportSchedule.objects.get(name="Platform review")
    assert schedule.owner == admin  # the saver, whatever the form said
    mail.outbox.clear()
    job = run_now_as(carol, schedule)
    assert job.status == ExportStatus.FAILED and not job.file
    assert SECRET_MODEL not in every_pdf_text(media)
    assert not [m for m in mail.outbox if m.attachments]


def test_an_admin_who_edits_someone_elses_schedule_takes_it_over(organization, owner, bob, admin, media):
    """bob (who can read the model) made the schedule; carol adds herself as a recipient. From then on it is
    made with carol's access, so she receives nothing she could not read herself."""
    schedule = bobs_schedule(organization, owner, bob, admin)
    carol = signed_in(admin)
    page = carol.get(reverse("tenant_admin:schedule_edit", args=["acme", schedule.pk])).content.decode()
    assert "owner" not in [n for n in _input_names(page)]  # nobody picks the person any more
    saved = carol.post(
        reverse("tenant_admin:schedule_edit", args=["acme", schedule.pk]),
        {**FORM, "owner": bob.pk, "recipients_text": "bob@example.com, carol@example.com"},
    )
    assert saved.status_code == 302
    schedule.refresh_from_db()
    assert schedule.owner == admin
    mail.outbox.clear()
    job = run_now_as(carol, schedule)
    assert job.status == ExportStatus.FAILED
    assert SECRET_MODEL not in every_pdf_text(media)
    assert not [m for m in mail.outbox if m.attachments]


def test_run_now_does_not_hand_another_members_pdf_to_the_admin_who_clicked(organization, owner, bob, admin, media):
    """bob's schedule, sent to bob, made with bob's access: carol may start it, but its file is bob's."""
    schedule = bobs_schedule(organization, owner, bob, admin)
    carol = signed_in(admin)
    job = run_now_as(carol, schedule)
    assert job.status == ExportStatus.SUCCEEDED, job.error  # made for bob, with bob's access
    assert SECRET_MODEL in pdf_text(job.file.path)
    for name in ("exports:job", "exports:download", "exports:status"):
        assert carol.get(reverse(name, args=["acme", job.pk])).status_code == 404, name
    assert signed_in(bob).get(reverse("exports:download", args=["acme", job.pk])).status_code == 200
    history = carol.get(reverse("tenant_admin:schedule_runs", args=["acme", schedule.pk])).content.decode()
    assert f"/o/acme/exports/{job.pk}/download/" not in history
    assert f"exports/{job.pk}/" not in carol.get(reverse("exports:list", args=["acme"])).content.decode()


def _input_names(html: str) -> list[str]:
    import re

    return re.findall(r'name="([^"]+)"', html)


def _expire_and_spend_refresh_token(sandbox, user, organization):
    """Someone spends the member's refresh token behind the portal's back, and the access token is due: the
    next refresh is refused by TMI, which is how "must sign in again" happens for real."""
    from datetime import timedelta

    from django.utils import timezone

    from portal.accounts.models import TMIConnection
    from portal.tmi import TMIClient

    connection = TMIConnection.objects.get(user=user, organization=organization)
    with TMIClient(sandbox.base_url) as raw:
        raw.auth.refresh(connection.refresh_token)
    connection.expires_at = timezone.now() - timedelta(seconds=5)
    connection.save(update_fields=["expires_at"])
    return connection


def test_a_schedule_pauses_when_tmi_says_its_person_must_sign_in_again(
    organization, owner, bob, admin, sandbox, media, django_capture_on_commit_callbacks
):
    """The refusal happens inside a run (the vault's refresh path, not the beat task): the schedule pauses,
    the owners hear why, the audit log says so, and beat runs nothing until someone resumes it."""
    from portal.audit.models import AuditEvent
    from portal.exports.schedules import export_schedule_run, export_schedule_run_now

    schedule = bobs_schedule(organization, owner, bob, admin)
    connection = _expire_and_spend_refresh_token(sandbox, bob, organization)
    job = export_schedule_run_now(schedule=schedule, actor=bob)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert export_job_run(job.pk).action == "failed"
    connection.refresh_from_db()
    schedule.refresh_from_db()
    assert connection.needs_sign_in
    assert schedule.paused and schedule.pause_reason == "sign_in"
    [told] = [m for m in mail.outbox if "paused" in m.subject]
    assert told.to == ["alice@example.com"]  # the owners
    assert "must sign in to TMI again" in told.body and "the TMI access of bob@example.com" in told.body
    [asked] = [m for m in mail.outbox if m.to == ["bob@example.com"]]  # bob is asked to sign in again
    assert "/o/acme/login/" in asked.body and "Platform review" in asked.body
    event = AuditEvent.objects.get(action="schedule.paused_automatically", organization=organization)
    assert event.details["reason"] == "sign_in" and event.details["schedule"] == schedule.pk
    assert export_schedule_run(schedule_id=schedule.pk) is None
    assert ExportJob.objects.filter(schedule=schedule).count() == 1


def test_the_words_say_whose_access_and_who_receives_it(
    organization, owner, bob, admin, media, django_capture_on_commit_callbacks
):
    """Form (before saving), list, email and PDF cover all say it, escaped."""
    alice = owner
    alice.first_name, alice.last_name = "Alice", "<b>Liddell</b>"
    alice.save(update_fields=["first_name", "last_name"])
    client = signed_in(alice)
    form = client.get(reverse("tenant_admin:schedule_create", args=["acme"])).content.decode()
    assert (
        "This report will be made with YOUR TMI access (Alice &lt;b&gt;Liddell&lt;/b&gt;): everything you can "
        "read in TMI may appear in it"
    ) in form
    payments = {
        **FORM,
        "name": "Payments pack",
        "threat_model_id": sid("tm", "Customer Payments API"),
        "recipients_text": "bob@example.com\ncarol@example.com",
    }
    assert client.post(reverse("tenant_admin:schedule_create", args=["acme"]), payments).status_code == 302
    schedule = ExportSchedule.objects.get(name="Payments pack")
    listing = client.get(reverse("tenant_admin:schedules", args=["acme"])).content.decode()
    assert "made with the TMI access of Alice &lt;b&gt;Liddell&lt;/b&gt;" in listing
    assert "sent to bob@example.com, carol@example.com" in listing
    assert "<b>Liddell" not in listing
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        job = run_now_as(client, schedule)
    assert job.status == ExportStatus.SUCCEEDED, job.error
    words = "Made with the TMI access of Alice <b>Liddell</b> · Sent to bob@example.com, carol@example.com"
    [ready] = [m for m in mail.outbox if "ready" in m.subject]
    assert sorted(ready.to) == ["bob@example.com", "carol@example.com"] and words in ready.body
    assert words in " ".join(pdf_text(job.file.path).split())
