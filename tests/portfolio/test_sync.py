"""The sync against the sandbox over real sockets, both TMI generations: what a first pass stores, what an
incremental pass costs, and how TMI's changes (updates, deletes, access removed) reach the store."""

from __future__ import annotations

import pytest

from portal.portfolio.models import StoredDiagram, StoredThreat, StoredThreatModel, SyncState, VisibleModel
from portal.portfolio.sync import portfolio_sync
from tests.portfolio.conftest import expected_counts, readable_ids, sandbox_calls, sandbox_calls_afresh, stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_first_sync_stores_every_model_the_member_can_list_with_its_content(organization, owner, sandbox):
    report = portfolio_sync(organization, members={owner.pk})
    assert not report.errors and not report.stopped and not report.skipped
    ids = readable_ids(sandbox, "alice")
    rows = {tm.tmi_id: tm for tm in StoredThreatModel.objects.filter(organization=organization)}
    assert set(rows) == ids
    assert set(VisibleModel.objects.filter(visible_set__user=owner).values_list("threat_model__tmi_id", flat=True)) == ids
    state = sandbox.state
    for tm_id, row in rows.items():
        tm = state.threat_models[tm_id]
        assert row.name == tm["name"] and row.synced_at and row.content_synced_at and row.threats_synced_at
        by_severity, live, score = expected_counts(tm)
        assert (row.open_by_severity, row.threats_total, row.risk_score) == (by_severity, live, score)
        assert row.open_total == sum(by_severity.values())
        threats = StoredThreat.objects.filter(threat_model=row, gone_at__isnull=True)
        assert set(threats.values_list("tmi_id", flat=True)) == {
            t["id"] for t in tm.get("threats", []) if not t.get("deleted_at")
        }
        assert all(t.synced_at for t in threats)
        diagrams = StoredDiagram.objects.filter(threat_model=row)
        assert {d.tmi_id for d in diagrams} == {d["id"] for d in tm.get("diagrams", [])}
        assert all(d.svg.startswith("<svg") and d.data.get("cells") is not None for d in diagrams)
        for name in ("documents", "assets", "repositories"):
            assert {c["id"] for c in getattr(row, name)} == {c["id"] for c in tm.get(name, [])}, name
        assert {n["id"]: n.get("content") for n in row.notes} == {
            n["id"]: n.get("content") for n in tm.get("notes", [])
        }
    assert any(row.notes for row in rows.values()) and any(d for d in StoredDiagram.objects.all())
    sync_state = SyncState.objects.get(organization=organization)
    assert sync_state.last_sync_at and sync_state.last_full_sync_at and not sync_state.last_error
    assert sync_state.running_since is None and sync_state.last_calls == report.calls > 0


def test_an_incremental_sync_after_no_change_makes_one_threats_call_per_model(organization, owner, sandbox):
    portfolio_sync(organization, members={owner.pk})
    sandbox_calls_afresh(sandbox)
    report = portfolio_sync(organization, members={owner.pk})
    calls = sandbox_calls(sandbox)
    ids = readable_ids(sandbox, "alice")
    assert report.models_checked == len(ids) and report.models_read_whole == 0 and report.changes == 0
    assert sum(calls.values()) == report.calls
    list_calls = calls.pop("GET /threat_models")
    assert list_calls == 1  # a dozen models: one page
    assert calls == {f"GET /threat_models/{tm_id}/threats": 1 for tm_id in ids}


def _first_threat(sandbox, tm_id: str) -> dict:
    return next(t for t in sandbox.state.threat_models[tm_id]["threats"] if not t.get("deleted_at"))


def _model_of(sandbox, name: str) -> str:
    return next(tm["id"] for tm in sandbox.state.threat_models.values() if tm["name"] == name)


def test_a_threat_updated_in_tmi_arrives_by_modified_after(organization, owner, sandbox, tmi_as, generation):
    portfolio_sync(organization, members={owner.pk})
    tm_id = _model_of(sandbox, "Customer Payments API")
    threat = _first_threat(sandbox, tm_id)
    new_severity = "low" if threat.get("severity", "").lower() != "low" else "critical"
    tmi_as("alice").threats.patch(tm_id, threat["id"], [{"op": "replace", "path": "/severity", "value": new_severity}])
    before = stored(organization, tm_id).modified_at
    sandbox_calls_afresh(sandbox)
    report = portfolio_sync(organization, members={owner.pk})
    row = StoredThreat.objects.get(threat_model__tmi_id=tm_id, tmi_id=threat["id"])
    assert row.severity == new_severity and row.data["severity"].lower() == new_severity
    tm = stored(organization, tm_id)
    assert (tm.open_by_severity, tm.threats_total, tm.risk_score) == expected_counts(sandbox.state.threat_models[tm_id])
    calls = sandbox_calls(sandbox)
    if generation == "1.8":  # the model's modified_at stays: the change came by modified_after, one call
        assert tm.modified_at == before and report.models_read_whole == 0
        assert calls[f"GET /threat_models/{tm_id}/threats"] == 1 and f"GET /threat_models/{tm_id}" not in calls
    else:  # 0.217 moves the model's modified_at with its children: read whole
        assert report.models_read_whole == 1


def test_a_threat_deleted_in_tmi_is_marked_gone(organization, owner, sandbox, tmi_as):
    portfolio_sync(organization, members={owner.pk})
    tm_id = _model_of(sandbox, "Customer Payments API")
    threat = _first_threat(sandbox, tm_id)
    tmi_as("alice").threats.delete(tm_id, threat["id"])
    portfolio_sync(organization, members={owner.pk})
    row = StoredThreat.objects.get(threat_model__tmi_id=tm_id, tmi_id=threat["id"])
    assert row.gone_at is not None
    tm = stored(organization, tm_id)
    assert (tm.open_by_severity, tm.threats_total, tm.risk_score) == expected_counts(sandbox.state.threat_models[tm_id])
    assert tm.threats_total == tm.threat_count


def test_a_model_deleted_in_tmi_is_marked_gone(organization, owner, sandbox, tmi_as):
    portfolio_sync(organization, members={owner.pk})
    tm_id = _model_of(sandbox, "Partner Webhooks Service")  # alice owns it
    tmi_as("alice").threat_models.delete(tm_id)
    report = portfolio_sync(organization, members={owner.pk})
    assert report.gone == 1 and stored(organization, tm_id).gone_at is not None
    assert not VisibleModel.objects.filter(threat_model__tmi_id=tm_id).exists()


def test_access_removed_leaves_the_members_set_but_the_model_is_not_gone(
    organization, owner, member, sandbox, tmi_as, generation
):
    tm_id = _model_of(sandbox, "Customer Payments API")  # alice owns it, bob writes
    portfolio_sync(organization, members={owner.pk, member.pk})
    assert VisibleModel.objects.filter(visible_set__user=member, threat_model__tmi_id=tm_id).exists()
    acl = [e for e in sandbox.state.threat_models[tm_id]["authorization"] if e.get("provider_id") not in ("bob", "bob@test.tmi")]
    alice = tmi_as("alice")
    model = alice.threat_models.get(tm_id)
    alice.threat_models.update(
        tm_id, name=model.name, threat_model_framework="STRIDE", authorization=acl, description=model.description
    )
    assert tm_id not in readable_ids(sandbox, "bob")
    report = portfolio_sync(organization, members={owner.pk, member.pk})
    assert not report.errors
    assert not VisibleModel.objects.filter(visible_set__user=member, threat_model__tmi_id=tm_id).exists()
    assert VisibleModel.objects.filter(visible_set__user=owner, threat_model__tmi_id=tm_id).exists()
    assert stored(organization, tm_id).gone_at is None


def test_a_model_nobody_may_list_any_more_is_not_marked_gone(organization, member, sandbox, tmi_as):
    tm_id = _model_of(sandbox, "Customer Payments API")  # bob writes; only alice (not a reader here) owns it
    portfolio_sync(organization, members={member.pk})
    acl = [e for e in sandbox.state.threat_models[tm_id]["authorization"] if e.get("provider_id") not in ("bob", "bob@test.tmi")]
    alice = tmi_as("alice")
    model = alice.threat_models.get(tm_id)
    alice.threat_models.update(
        tm_id, name=model.name, threat_model_framework="STRIDE", authorization=acl, description=model.description
    )
    report = portfolio_sync(organization, members={member.pk})
    assert report.gone == 0 and stored(organization, tm_id).gone_at is None
    assert not VisibleModel.objects.filter(visible_set__user=member, threat_model__tmi_id=tm_id).exists()
