"""Report schedule pages: create with clear errors, pause and resume, run now, the history with its files."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError
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
    done = client.post(
        url("schedule_create"),
        {
            "name": "Monday board pack",
            "kind": "portfolio",
            "frequency": "weekly",
            "weekday": "0",
            "time_of_day": "07:30",
            "timezone": "Europe/London",
            "run_as": "owner",
            "owner": world.users["admin"].pk,
            "recipients_text": "alice@example.com",
        },
    )
    assert done.status_code == 302
    schedule = ExportSchedule.objects.get(organization=world.acme, name="Monday board pack")
    assert schedule.owner == world.users["admin"] and schedule.recipients == ["alice@example.com"]
    html = client.get(url("schedules")).content.decode()
    assert "Monday board pack" in html and "Every week" in html
    assert AuditEvent.objects.filter(action="schedule.created", target="Monday board pack").exists()


def test_bad_schedule_input_is_explained_and_kept(world):
    page = client_for(world.users["admin"]).post(
        url("schedule_create"),
        {
            "name": "Nightly",
            "kind": "portfolio",
            "frequency": "daily",
            "time_of_day": "02:00",
            "timezone": "Mars/Olympus",
            "run_as": "owner",
            "owner": world.users["admin"].pk,
            "recipients_text": "stranger@elsewhere.test",
        },
    )
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
    assert ExportSchedule.objects.get(pk=world.schedule.pk).owner == world.users["owner"]  # pausing lends nothing
    client.post(url("schedule_pause", world.schedule.pk), {"paused": "0"})
    resumed = ExportSchedule.objects.get(pk=world.schedule.pk)
    assert not resumed.paused
    assert resumed.owner == world.users["admin"]  # resuming is saving: it now runs with bob's access
    signed_in_at_tmi(world, "admin")
    done = client.post(url("schedule_run", world.schedule.pk))
    assert done["Location"] == url("schedule_runs", world.schedule.pk)
    job = ExportJob.objects.get(schedule=world.schedule)
    assert job.requested_by == world.users["admin"] and job.made_with == world.users["admin"]
    history = client.get(url("schedule_runs", world.schedule.pk)).content.decode()
    assert f'href="/o/acme/exports/{job.pk}/"' in history


def test_the_history_links_to_finished_files(world):
    job = ExportJob.objects.create(
        organization=world.acme,
        kind="portfolio",
        schedule=world.schedule,
        status="succeeded",
        file_name="portfolio.pdf",
    )
    job.file.save("portfolio.pdf", ContentFile(b"%PDF-1.7"), save=True)
    failed = ExportJob.objects.create(
        organization=world.acme,
        kind="portfolio",
        schedule=world.schedule,
        status="failed",
        error="TMI did not answer in time.",
    )
    ExportJob.objects.filter(schedule=world.schedule).update(from_schedule=True, made_with=world.users["owner"])
    html = client_for(world.users["owner"]).get(url("schedule_runs", world.schedule.pk)).content.decode()
    assert f'href="/o/acme/exports/{job.pk}/download/">portfolio.pdf</a>' in html
    assert "TMI did not answer in time." in html and f'/o/acme/exports/{failed.pk}/"' in html


def signed_in_at_tmi(world, who, **fields):
    return TMIConnection.objects.create(
        organization=world.acme,
        user=world.users[who],
        provider="tmi",
        subject=world.users[who].username,
        access_token="a",
        refresh_token="r",
        expires_at="2030-01-01T00:00:00Z",
        **fields,
    )


def test_owners_who_must_sign_in_again_are_named(world):
    TMIConnection.objects.create(
        organization=world.acme,
        user=world.users["owner"],
        provider="tmi",
        subject="alice",
        access_token="a",
        refresh_token="r",
        expires_at="2030-01-01T00:00:00Z",
        needs_sign_in=True,
    )
    client = client_for(world.users["admin"])
    assert "must sign in again" in client.get(url("schedules")).content.decode()
    health = client.get(url("health")).content.decode().split('id="health-sign-in"', 1)[1]
    assert "Owners of scheduled reports" in health and "alice@example.com" in health and "Weekly portfolio" in health


def test_deleting_a_schedule_keeps_its_past_runs(world):
    job = ExportJob.objects.create(
        organization=world.acme, kind="portfolio", schedule=world.schedule, status="failed", error="gone"
    )
    client_for(world.users["admin"]).post(url("schedule_delete", world.schedule.pk))
    assert not ExportSchedule.objects.filter(pk=world.schedule.pk).exists()
    assert ExportJob.objects.get(pk=job.pk).schedule is None
    assert AuditEvent.objects.filter(action="schedule.deleted", target="Weekly portfolio").exists()


# -- whose access a schedule lends (issue 10, item 2) ----------------------------------------------


def _bobs_schedule(world):
    from tests.tenant_admin.conftest import schedule_make

    schedule = schedule_make(world.acme, world.users["admin"], "Bob's weekly")
    ExportSchedule.objects.filter(pk=schedule.pk).update(recipients=["bob@example.com", "dave@example.com"])
    AuditEvent.objects.all().delete()
    return schedule


def _admin_events(organization):
    """Subscribe to the organisation's admin group on the channel layer, as an open admin page does."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from portal.organizations.events import admin_group

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(admin_group(organization.pk), channel)

    def received() -> list[dict]:
        import asyncio

        async def drain():
            events = []
            while True:
                try:
                    events.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
                except TimeoutError:
                    return events

        return async_to_sync(drain)()

    return received


def _paused_for(schedule, reason, world, mail_outbox):
    from portal.exports.schedules import export_schedule_run

    schedule.refresh_from_db()
    assert schedule.paused and schedule.pause_reason == reason
    assert not schedule.periodic_task.enabled
    event = AuditEvent.objects.get(action="schedule.paused_automatically", target="Bob's weekly")
    assert event.details["reason"] == reason and event.details["runs_as"] == world.users["admin"].pk
    [told] = [m for m in mail_outbox if "Bob's weekly" in m.subject]
    assert told.to == ["alice@example.com"]  # the owners
    assert "made with the TMI access of bob@example.com" in told.body
    assert "sent to: bob@example.com, dave@example.com" in told.body
    assert export_schedule_run(schedule_id=schedule.pk) is None and not ExportJob.objects.filter(schedule=schedule)
    return told


def test_a_schedule_whose_person_leaves_pauses_and_the_owners_are_told(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    schedule = _bobs_schedule(world)
    bob = world.acme.memberships.get(user=world.users["admin"])
    events = _admin_events(world.acme)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(world.users["owner"]).post(url("member_remove", bob.pk)).status_code == 302
    told = _paused_for(schedule, "left", world, mailoutbox)
    assert "left the organisation" in told.body and "resumes or saves it" in told.body
    assert any(e.get("section") == "schedules" and "Bob's weekly" in e.get("summary", "") for e in events())
    html = client_for(world.users["owner"]).get(url("schedules")).content.decode()
    assert "Paused because the person it runs as left the organisation" in html
    # Resuming is saving, so it is checked as a save: bob, a recipient, is no longer a member.
    alice = client_for(world.users["owner"])
    refused = alice.post(url("schedule_pause", schedule.pk), {"paused": "0"}, follow=True).content.decode()
    assert "not members: bob@example.com" in refused
    assert ExportSchedule.objects.get(pk=schedule.pk).paused
    # alice saves it without bob: it runs again, from now on with her access.
    saved = alice.post(
        url("schedule_edit", schedule.pk),
        {
            "name": "Bob's weekly",
            "kind": "portfolio",
            "frequency": "weekly",
            "weekday": "0",
            "time_of_day": "07:00",
            "timezone": "UTC",
            "run_as": "owner",
            "recipients_text": "dave@example.com",
        },
        follow=True,
    ).content.decode()
    assert "from now on it is made with the TMI access of alice@example.com" in saved
    schedule.refresh_from_db()
    assert not schedule.paused and schedule.pause_reason == "" and schedule.owner == world.users["owner"]


def test_a_schedule_whose_person_loses_the_admin_role_pauses(world, mailoutbox, django_capture_on_commit_callbacks):
    schedule = _bobs_schedule(world)
    bob = world.acme.memberships.get(user=world.users["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.users["owner"]).post(url("member_role", bob.pk), {"role": "member"})
    assert world.acme.memberships.get(pk=bob.pk).role == "member"
    told = _paused_for(schedule, "role_lost", world, mailoutbox)
    assert "may no longer manage schedules" in told.body


def test_run_now_of_a_schedule_whose_person_left_is_refused_in_words(world):
    schedule = _bobs_schedule(world)
    world.acme.memberships.filter(user=world.users["admin"]).delete()  # e.g. removed in Django's admin
    client = client_for(world.users["owner"])
    done = client.post(url("schedule_run", schedule.pk), follow=True)
    assert "cannot run: the person it runs as left the organisation" in done.content.decode()
    assert not ExportJob.objects.filter(schedule=schedule).exists()
    schedule.refresh_from_db()
    assert schedule.paused and schedule.pause_reason == "left"


def test_the_form_has_no_person_to_pick_and_warns_before_taking_over(world):
    schedule = _bobs_schedule(world)
    html = client_for(world.users["owner"]).get(url("schedule_edit", schedule.pk)).content.decode()
    assert 'name="owner"' not in html
    assert "Until now this report is made with the TMI access of bob@example.com" in html
    assert "it is sent to: bob@example.com, dave@example.com" in html


def test_only_owners_choose_the_service_account(world):
    from portal.exports.schedules import export_schedule_pause, export_schedule_update

    world.acme.tmi_client_id, world.acme.tmi_client_secret = "tmi_cc_x", "s"
    world.acme.save(update_fields=["tmi_client_id", "tmi_client_secret"])
    data = {
        "name": "Service pack",
        "kind": "portfolio",
        "frequency": "daily",
        "time_of_day": "02:00",
        "timezone": "UTC",
        "run_as": "client_credentials",
        "recipients_text": "dave@example.com",
    }
    admin = client_for(world.users["admin"])
    admin_form = admin.get(url("schedule_create")).content.decode()
    assert 'value="client_credentials"' not in admin_form and "Only an owner may choose" in admin_form
    assert 'value="client_credentials"' in client_for(world.users["owner"]).get(url("schedule_create")).content.decode()
    refused = admin.post(url("schedule_create"), data)
    assert refused.status_code == 400 and not ExportSchedule.objects.filter(name="Service pack").exists()
    assert client_for(world.users["owner"]).post(url("schedule_create"), data).status_code == 302
    schedule = ExportSchedule.objects.get(name="Service pack")
    assert schedule.run_as == "client_credentials" and schedule.owner == world.users["owner"]
    # An admin's edit switches it to the admin's own access, saying so first.
    page = admin.get(url("schedule_edit", schedule.pk)).content.decode()
    assert "Until now this report is made with the organisation&#x27;s TMI service account" in page
    saved = admin.post(url("schedule_edit", schedule.pk), {**data, "run_as": "owner"}, follow=True)
    assert "from now on it is made with the TMI access of bob@example.com" in saved.content.decode()
    schedule.refresh_from_db()
    assert schedule.run_as == "owner" and schedule.owner == world.users["admin"]
    # Straight through the services: an admin cannot keep or resume the service account either.
    export_schedule_update(schedule=schedule, actor=world.users["owner"], run_as="client_credentials")
    export_schedule_pause(schedule=schedule, actor=world.users["owner"], paused=True)
    with pytest.raises(ValidationError) as caught:
        export_schedule_pause(schedule=schedule, actor=world.users["admin"], paused=False)
    assert "Only an owner" in caught.value.messages[0]
    with pytest.raises(ValidationError):
        export_schedule_update(schedule=schedule, actor=world.users["admin"], name="Mine now")
    schedule.refresh_from_db()
    assert schedule.paused and schedule.owner == world.users["owner"] and schedule.name == "Service pack"


def test_an_owner_who_chose_the_service_account_and_is_demoted_pauses_it(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    from portal.tenant_admin.services import membership_role_change

    world.acme.tmi_client_id, world.acme.tmi_client_secret = "tmi_cc_x", "s"
    world.acme.save(update_fields=["tmi_client_id", "tmi_client_secret"])
    second_owner = world.acme.memberships.get(user=world.users["admin"])
    second_owner.role = "owner"
    second_owner.save(update_fields=["role"])
    from portal.exports.schedules import export_schedule_create

    schedule = export_schedule_create(
        organization=world.acme,
        actor=world.users["admin"],
        name="Bob's weekly",
        kind="portfolio",
        frequency="daily",
        time_of_day=time(2, 0),
        timezone="UTC",
        run_as="client_credentials",
        recipients=["dave@example.com"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        membership_role_change(
            organization=world.acme, actor=world.users["owner"], membership_id=second_owner.pk, role="admin"
        )
    schedule.refresh_from_db()
    assert schedule.paused and schedule.pause_reason == "role_lost"
    [told] = [m for m in mailoutbox if "Bob's weekly" in m.subject]
    assert "the organisation's TMI service account" in told.body
