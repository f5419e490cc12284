"""History: a scripted sequence of changes made in TMI (the sandbox, over its REST API, both generations) gives
exactly the expected change rows, with TMI's timestamps where it has them; daily snapshots; retention."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from portal.portfolio.history import portfolio_history_expire
from portal.portfolio.models import Change, ChangeKind, DailySnapshot, StoredThreatModel
from portal.portfolio.sync import portfolio_sync
from tests.portfolio.conftest import stored

pytestmark = pytest.mark.django_db(transaction=True)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _new_changes(seen: set[int]) -> list[tuple]:
    rows = Change.objects.exclude(pk__in=seen).order_by("pk")
    seen.update(row.pk for row in rows)
    return [(r.kind, r.subject, r.before, r.after, r.threat_model.tmi_id, r.threat_tmi_id, r.happened_at) for r in rows]


def test_a_scripted_sequence_of_tmi_changes_gives_exactly_the_expected_rows(organization, owner, sandbox, tmi_as):
    state = sandbox.state
    alice = tmi_as("alice")
    tm_id = next(tm["id"] for tm in state.threat_models.values() if tm["name"] == "Customer Payments API")
    seen: set[int] = set()

    def sync_and_changes() -> list[tuple]:
        report = portfolio_sync(organization, members={owner.pk})
        assert not report.errors and not report.stopped, report
        return _new_changes(seen)

    assert sync_and_changes() == []  # the first sync is the baseline: nothing "changed"

    created = alice.threats.create(tm_id, name="Replayed card tokens", threat_type=["Spoofing"], severity="high")
    raw = lambda: next(t for t in state.threat_models[tm_id]["threats"] if t["id"] == created.id)  # noqa: E731
    assert sync_and_changes() == [
        (ChangeKind.THREAT_CREATED, "Replayed card tokens", "", "", tm_id, created.id, _when(raw()["created_at"]))
    ]
    status = stored_status = StoredThreatModel.objects.get(tmi_id=tm_id).threats.get(tmi_id=created.id).status

    alice.threats.patch(tm_id, created.id, [{"op": "replace", "path": "/mitigated", "value": True}])
    assert sync_and_changes() == [
        (
            ChangeKind.THREAT_CLOSED,
            "Replayed card tokens",
            status,
            status,
            tm_id,
            created.id,
            _when(raw()["modified_at"]),
        )
    ]

    alice.threats.patch(tm_id, created.id, [{"op": "replace", "path": "/mitigated", "value": False}])
    assert sync_and_changes() == [
        (
            ChangeKind.THREAT_REOPENED,
            "Replayed card tokens",
            status,
            status,
            tm_id,
            created.id,
            _when(raw()["modified_at"]),
        )
    ]

    alice.threats.patch(tm_id, created.id, [{"op": "replace", "path": "/severity", "value": "critical"}])
    assert sync_and_changes() == [
        (
            ChangeKind.THREAT_SEVERITY,
            "Replayed card tokens",
            "high",
            "critical",
            tm_id,
            created.id,
            _when(raw()["modified_at"]),
        )
    ]

    alice.threats.patch(tm_id, created.id, [{"op": "add", "path": "/status", "value": "in_progress"}])
    assert sync_and_changes() == [
        (
            ChangeKind.THREAT_STATUS,
            "Replayed card tokens",
            stored_status,
            "in_progress",
            tm_id,
            created.id,
            _when(raw()["modified_at"]),
        )
    ]

    alice.threats.patch(tm_id, created.id, [{"op": "replace", "path": "/status", "value": "mitigated"}])
    assert sync_and_changes() == [
        (
            ChangeKind.THREAT_CLOSED,
            "Replayed card tokens",
            "in_progress",
            "mitigated",
            tm_id,
            created.id,
            _when(raw()["modified_at"]),
        )
    ]

    before_delete = timezone.now()
    alice.threats.delete(tm_id, created.id)
    rows = sync_and_changes()
    assert [row[:6] for row in rows] == [
        (ChangeKind.THREAT_GONE, "Replayed card tokens", "mitigated", "", tm_id, created.id)
    ]
    assert before_delete <= rows[0][6] <= timezone.now()  # TMI's list keeps no trace of it: when the sync saw it

    # The model's status: a security reviewer's field at 1.8 (PROTOCOL.md 5.2).
    state.find_user("alice").is_security_reviewer = True
    old_status = stored(organization, tm_id).status
    alice.threat_models.patch(tm_id, [{"op": "replace", "path": "/status", "value": "approved"}])
    tm = state.threat_models[tm_id]
    assert sync_and_changes() == [
        (
            ChangeKind.MODEL_STATUS,
            "Customer Payments API",
            old_status,
            "approved",
            tm_id,
            "",
            _when(tm.get("status_updated") or tm["modified_at"]),
        )
    ]

    new = alice.threat_models.create(name="Loyalty Points Service", description="Points for purchases.")
    assert sync_and_changes() == [
        (
            ChangeKind.MODEL_CREATED,
            "Loyalty Points Service",
            "",
            "",
            new.id,
            "",
            _when(state.threat_models[new.id]["created_at"]),
        )
    ]

    before_delete = timezone.now()
    alice.threat_models.delete(new.id)
    rows = sync_and_changes()
    assert [row[:6] for row in rows] == [(ChangeKind.MODEL_GONE, "Loyalty Points Service", "", "", new.id, "")]
    assert before_delete <= rows[0][6] <= timezone.now()

    assert sync_and_changes() == []  # nothing changed since: nothing recorded


def test_a_member_who_signs_in_later_adds_no_history(organization, owner, member_factory, sandbox):
    """Models new to the store because a second member's set was read for the first time were not created."""
    portfolio_sync(organization, members={owner.pk})
    bob = member_factory(organization, "bob")
    report = portfolio_sync(organization, members={bob.pk})
    assert not report.errors
    bobs_own = StoredThreatModel.objects.filter(organization=organization, visible_in__visible_set__user=bob).exclude(
        visible_in__visible_set__user=owner
    )
    assert bobs_own.exists()  # models only bob may see, stored for the first time in this pass
    assert not Change.objects.exists()


def test_daily_snapshots_one_row_per_model_per_day_updated_by_later_syncs(organization, owner, sandbox, tmi_as):
    portfolio_sync(organization, members={owner.pk})
    models = StoredThreatModel.objects.filter(organization=organization)
    today = timezone.localdate()
    assert DailySnapshot.objects.filter(day=today).count() == models.count() > 0
    tm_id = next(tm["id"] for tm in sandbox.state.threat_models.values() if tm["name"] == "Customer Payments API")
    tm = stored(organization, tm_id)
    before = DailySnapshot.objects.get(threat_model=tm, day=today)
    tmi_as("alice").threats.create(tm_id, name="Another one", threat_type=["Tampering"], severity="critical")
    portfolio_sync(organization, members={owner.pk})
    after = DailySnapshot.objects.get(threat_model=tm, day=today)
    assert after.pk == before.pk and after.threats_total == before.threats_total + 1
    assert after.open_by_severity.get("critical", 0) == before.open_by_severity.get("critical", 0) + 1
    assert after.risk_score == stored(organization, tm_id).risk_score
    assert DailySnapshot.objects.filter(day=today).count() == models.count()


def test_a_model_with_no_threats_gets_its_snapshot_on_a_later_day(organization, owner, sandbox, tmi_as):
    new = tmi_as("alice").threat_models.create(name="Empty model", description="Nothing yet.")
    portfolio_sync(organization, members={owner.pk})
    tm = stored(organization, new.id)
    DailySnapshot.objects.filter(threat_model=tm).update(day=timezone.localdate() - timedelta(days=1))  # yesterday's
    portfolio_sync(organization, members={owner.pk}, full=False)
    assert DailySnapshot.objects.filter(threat_model=tm, day=timezone.localdate()).exists()


def test_retention_deletes_history_older_than_the_setting_and_keeps_the_rest(organization, owner, settings):
    portfolio_sync(organization, members={owner.pk})
    tm = StoredThreatModel.objects.filter(organization=organization).first()
    now = timezone.now()
    settings.PORTAL_HISTORY_DAYS = 30

    def change(days: float) -> Change:
        return Change.objects.create(
            organization=organization,
            threat_model=tm,
            kind=ChangeKind.THREAT_CREATED,
            happened_at=now - timedelta(days=days),
        )

    old, young = change(31), change(29)
    today = timezone.localdate()
    old_snapshot = DailySnapshot.objects.create(
        organization=organization, threat_model=tm, day=today - timedelta(days=31)
    )
    young_snapshot = DailySnapshot.objects.create(
        organization=organization, threat_model=tm, day=today - timedelta(days=29)
    )
    assert portfolio_history_expire() == 2
    assert not Change.objects.filter(pk=old.pk).exists() and Change.objects.filter(pk=young.pk).exists()
    assert not DailySnapshot.objects.filter(pk=old_snapshot.pk).exists()
    assert DailySnapshot.objects.filter(pk=young_snapshot.pk).exists()
    assert DailySnapshot.objects.filter(threat_model=tm, day=today).exists()


def test_retention_defaults_to_400_days(organization, owner):
    from django.conf import settings

    assert settings.PORTAL_HISTORY_DAYS == 400
    portfolio_sync(organization, members={owner.pk})
    tm = StoredThreatModel.objects.filter(organization=organization).first()
    now = timezone.now()
    for days in (401, 399):
        Change.objects.create(
            organization=organization,
            threat_model=tm,
            kind=ChangeKind.MODEL_STATUS,
            happened_at=now - timedelta(days=days),
        )
    assert portfolio_history_expire() == 1
    assert list(Change.objects.values_list("kind", flat=True)) == [ChangeKind.MODEL_STATUS]


def test_access_granted_to_an_older_model_is_not_a_model_created(organization, owner, sandbox, tmi_as):
    portfolio_sync(organization, members={owner.pk})
    state = sandbox.state
    tm = next(tm for tm in state.threat_models.values() if tm["name"] == "Data Warehouse ETL")  # dave's; alice -
    alice = state.find_user("alice")
    entry = {"principal_type": "user", "provider": alice.provider, "role": "reader"}
    entry["provider_id"] = alice.email if state.config.is_legacy else alice.provider_id
    dave = tmi_as("dave")
    model = dave.threat_models.get(tm["id"])
    dave.threat_models.update(
        tm["id"],
        name=model.name,
        description=model.description,
        threat_model_framework="STRIDE",
        authorization=[*tm["authorization"], entry],
    )
    portfolio_sync(organization, members={owner.pk})
    assert StoredThreatModel.objects.filter(tmi_id=tm["id"], visible_in__visible_set__user=owner).exists()
    assert not Change.objects.exists()
