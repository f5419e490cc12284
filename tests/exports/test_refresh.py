"""The token-refresh task: workers racing for one connection never spend a refresh token twice; a
refusal marks the member for sign-in and tells the right people, losing nothing."""

from __future__ import annotations

from datetime import time, timedelta
from time import monotonic, sleep

import pytest
from django.core import mail
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.refresh import tmi_connections_due_list, tmi_tokens_refresh_due, tmi_tokens_refresh_shares
from portal.accounts.tasks import tmi_tokens_refresh_due as refresh_task
from portal.accounts.tasks import tmi_tokens_refresh_share as share_task
from portal.accounts.vault import tmi_client
from portal.audit.models import AuditEvent
from portal.celery import ping
from portal.exports.models import ExportSchedule
from portal.exports.schedules import export_schedule_create
from portal.exports.selectors import export_schedule_blocked
from portal.live.models import LiveConnection
from portal.tmi import TMIClient

SCHEDULE = {
    "name": "Nightly portfolio",
    "kind": "portfolio",
    "frequency": "daily",
    "time_of_day": time(2, 0),
    "timezone": "UTC",
}


def expiring_soon(user, organization, seconds: int = 60) -> TMIConnection:
    connection = TMIConnection.objects.get(user=user, organization=organization)
    connection.expires_at = timezone.now() + timedelta(seconds=seconds)
    connection.save(update_fields=["expires_at"])
    return connection


def lapsing(user, organization) -> TMIConnection:
    """A connection whose refresh token was issued six and a half days ago: it lapses within a day (7 at TMI 1.8)."""
    connection = expiring_soon(user, organization)
    connection.refreshed_at = timezone.now() - timedelta(days=6, hours=12)
    connection.save(update_fields=["refreshed_at"])
    return connection


def test_only_members_with_background_work_are_refreshed(organization, member_factory):
    alice = member_factory(organization, "alice", role="owner")
    bob = member_factory(organization, "bob")
    carol = member_factory(organization, "carol")
    dave = member_factory(organization, "dave", role="admin")
    for user in (alice, bob, carol, dave):
        expiring_soon(user, organization)
    lapsing(alice, organization)
    LiveConnection.objects.create(
        organization=organization,
        user=bob,
        threat_model_id="00000000-0000-0000-0000-000000000001",
        diagram_id="00000000-0000-0000-0000-000000000002",
        channel_name="specific.abc",
    )
    export_schedule_create(organization=organization, actor=alice, **SCHEDULE)
    export_schedule_create(organization=organization, actor=dave, **{**SCHEDULE, "name": "Dave's"})
    # carol has nothing running; dave's schedule will refresh his access token itself when it runs (the vault
    # refreshes on demand), and his refresh token is young; alice's lapses within a day; bob's socket is open.
    assert {c.user.username for c in tmi_connections_due_list()} == {"alice", "bob"}
    assert {c.user.username for c in tmi_connections_due_list(window_seconds=10)} == {"alice"}  # bob: not yet
    report = tmi_tokens_refresh_due()
    assert len(report.refreshed) == 2 and not report.refused
    assert not tmi_connections_due_list()  # fresh now


@pytest.mark.timeout(300)
def test_racing_workers_never_reuse_a_refresh_token(organization, member_factory, workers):
    alice = member_factory(organization, "alice", role="owner")
    export_schedule_create(organization=organization, actor=alice, **SCHEDULE)
    before = lapsing(alice, organization)
    started = [workers.start() for _ in range(3)]
    for _ in started:  # every worker is up and consuming before the race starts
        assert ping.delay().get(timeout=60) == "pong"
    # Six shares of the same member (as beats that overlap would hand out) race in three workers.
    results = [share_task.delay([before.pk]) for _ in range(6)]
    reports = [result.get(timeout=60) for result in results]
    assert all(not r["refused"] and not r["unreachable"] for r in reports), reports
    refreshed = [pk for r in reports for pk in r["refreshed"]]
    assert refreshed == [before.pk], reports  # one refresh; the rest found it fresh or not due
    after = TMIConnection.objects.get(pk=before.pk)
    assert not after.needs_sign_in and after.refresh_token != before.refresh_token
    assert after.expires_at > timezone.now() + timedelta(minutes=5)
    with tmi_client(organization=organization, user=alice) as client:  # the stored pair works at TMI
        assert client.threat_models.list()
    assert refresh_task.delay().get(timeout=60) == 0  # nothing due: beat hands out no share


@pytest.mark.timeout(300)
def test_beat_hands_the_tokens_due_out_in_shares(organization, member_factory, workers):
    members = [member_factory(organization, f"member{n}", role="owner") for n in range(9)]
    for member in members:
        export_schedule_create(organization=organization, actor=member, **{**SCHEDULE, "name": member.username})
    before = {member.pk: lapsing(member, organization).refresh_token for member in members}
    for _ in range(2):
        workers.start()
    assert ping.delay().get(timeout=60) == "pong"
    # One share per place at the server (the organisation's tmi_max_concurrency, 4 by default).
    assert refresh_task.delay().get(timeout=60) == organization.tmi_max_concurrency
    deadline = monotonic() + 60
    while tmi_connections_due_list().exists() and monotonic() < deadline:
        sleep(0.2)
    after = {c.user_id: c for c in TMIConnection.objects.filter(user__in=members)}
    assert not tmi_connections_due_list().exists()
    assert all(not c.needs_sign_in and c.refresh_token != before[pk] for pk, c in after.items())


def _due_members(organization, member_factory, count: int, prefix: str = "member") -> list[int]:
    """Connections due for beat, in expiry order (each a second later than the one before)."""
    ids = []
    for n in range(count):
        member = member_factory(organization, f"{prefix}{n}", role="owner")
        export_schedule_create(organization=organization, actor=member, **{**SCHEDULE, "name": member.username})
        connection = lapsing(member, organization)
        connection.expires_at = timezone.now() + timedelta(seconds=60 + n)
        connection.save(update_fields=["expires_at"])
        ids.append(connection.pk)
    return ids


def test_shares_one_per_place_at_the_server(organization, member_factory):
    ids = _due_members(organization, member_factory, 10)
    shares = tmi_tokens_refresh_shares()
    assert len(shares) == organization.tmi_max_concurrency == 4
    assert sorted(len(share) for share in shares) == [2, 2, 3, 3]  # even, so no worker finishes long after
    assert sorted(pk for share in shares for pk in share) == sorted(ids)  # each connection in exactly one
    assert [share[0] for share in shares] == ids[:4]  # the soonest expiring start the shares


def test_shares_follow_the_server_places_and_cap(organization, member_factory, settings):
    ids = _due_members(organization, member_factory, 10)
    organization.tmi_max_concurrency = 16
    organization.save(update_fields=["tmi_max_concurrency"])
    assert sorted(len(share) for share in tmi_tokens_refresh_shares()) == [1] * 10  # never an empty share
    organization.tmi_max_concurrency = 2
    organization.save(update_fields=["tmi_max_concurrency"])
    settings.TMI_REFRESH_SHARE_MAX = 3
    shares = tmi_tokens_refresh_shares()
    assert sorted(len(share) for share in shares) == [2, 2, 3, 3]  # 10 in shares of at most 3: 4 shares
    assert sorted(pk for share in shares for pk in share) == sorted(ids)


def test_organisations_on_one_server_share_its_places(organization, other_organization, member_factory):
    other_organization.tmi_max_concurrency = 2
    other_organization.save(update_fields=["tmi_max_concurrency"])
    ids = _due_members(organization, member_factory, 5) + _due_members(other_organization, member_factory, 5, "o")
    shares = tmi_tokens_refresh_shares()
    # One server: its places are the fewest any organisation on it allows, as the gate is one.
    assert len(shares) == 2 and sorted(pk for share in shares for pk in share) == sorted(ids)


def test_a_refused_refresh_asks_for_sign_in_and_loses_nothing(
    organization, member_factory, sandbox, django_capture_on_commit_callbacks
):
    member_factory(organization, "alice", role="owner")
    member_factory(organization, "carol", role="admin")
    bob = member_factory(organization, "bob", role="admin")
    schedule = export_schedule_create(organization=organization, actor=bob, **SCHEDULE)  # runs as bob
    connection = lapsing(bob, organization)
    with TMIClient(sandbox.base_url) as raw:  # someone spends bob's refresh token behind the portal's back
        raw.auth.refresh(connection.refresh_token)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report = tmi_tokens_refresh_due()
    assert report.refused == [connection.pk]
    connection.refresh_from_db()
    assert connection.needs_sign_in
    to_bob = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert len(to_bob) == 1 and "sign in" in to_bob[0].body.lower() and "/o/acme/login/" in to_bob[0].body
    assert schedule.name in to_bob[0].body and "paused" in to_bob[0].body
    # The schedule stops lending bob's access, and the owners hear of it.
    to_owners = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert len(to_owners) == 1 and schedule.name in to_owners[0].body and "sign in" in to_owners[0].body
    event = AuditEvent.objects.get(action="tokens.refresh_refused", organization=organization)
    assert event.details["user_id"] == bob.pk
    paused = AuditEvent.objects.get(action="schedule.paused_automatically", organization=organization)
    assert paused.details["schedule"] == schedule.pk and paused.details["reason"] == "sign_in"
    assert ExportSchedule.objects.filter(pk=schedule.pk, paused=True, pause_reason="sign_in").exists()  # not deleted
    assert export_schedule_blocked(schedule=schedule)
    assert tmi_tokens_refresh_due().refused == []  # not asked again until bob signs in
