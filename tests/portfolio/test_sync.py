"""The sync against the sandbox over real sockets, both TMI generations: what a first pass stores, what an
incremental pass costs, and how TMI's changes (updates, deletes, access removed) reach the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.portfolio.models import Change, StoredDiagram, StoredThreat, StoredThreatModel, SyncState, VisibleModel
from portal.portfolio.sync import portfolio_sync
from tests.portfolio.conftest import expected_counts, readable_ids, sandbox_calls, sandbox_calls_afresh, stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_first_sync_stores_every_model_the_member_can_list_with_its_content(organization, owner, sandbox):
    report = portfolio_sync(organization, members={owner.pk})
    assert not report.errors and not report.stopped and not report.skipped
    ids = readable_ids(sandbox, "alice")
    rows = {tm.tmi_id: tm for tm in StoredThreatModel.objects.filter(organization=organization)}
    assert set(rows) == ids
    assert (
        set(VisibleModel.objects.filter(visible_set__user=owner).values_list("threat_model__tmi_id", flat=True)) == ids
    )
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
    if tm.modified_at == before:  # 1.8 (PROTOCOL.md 12.9): the change came by modified_after, in one call
        assert report.models_read_whole == 0 and report.changes == 1
        assert calls[f"GET /threat_models/{tm_id}/threats"] == 1 and f"GET /threat_models/{tm_id}" not in calls
    else:  # a server that moves the model's modified_at with its children: the model is read whole
        assert generation == "0.217" and report.models_read_whole == 1


def test_a_threat_deleted_in_tmi_is_marked_gone(organization, owner, sandbox, tmi_as):
    portfolio_sync(organization, members={owner.pk})
    tm_id = _model_of(sandbox, "Customer Payments API")
    threat = _first_threat(sandbox, tm_id)
    before = stored(organization, tm_id).modified_at
    tmi_as("alice").threats.delete(tm_id, threat["id"])
    sandbox_calls_afresh(sandbox)
    report = portfolio_sync(organization, members={owner.pk})
    row = StoredThreat.objects.get(threat_model__tmi_id=tm_id, tmi_id=threat["id"])
    assert row.gone_at is not None and report.changes == 1
    tm = stored(organization, tm_id)
    assert (tm.open_by_severity, tm.threats_total, tm.risk_score) == expected_counts(sandbox.state.threat_models[tm_id])
    assert tm.threats_total == tm.threat_count
    if tm.modified_at == before:  # 1.8: the list's threat_count fell, so the model's whole threat list was read
        calls = sandbox_calls(sandbox)
        assert calls[f"GET /threat_models/{tm_id}/threats"] == 2 and f"GET /threat_models/{tm_id}" not in calls


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
    acl = [
        e
        for e in sandbox.state.threat_models[tm_id]["authorization"]
        if e.get("provider_id") not in ("bob", "bob@test.tmi")
    ]
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
    acl = [
        e
        for e in sandbox.state.threat_models[tm_id]["authorization"]
        if e.get("provider_id") not in ("bob", "bob@test.tmi")
    ]
    alice = tmi_as("alice")
    model = alice.threat_models.get(tm_id)
    alice.threat_models.update(
        tm_id, name=model.name, threat_model_framework="STRIDE", authorization=acl, description=model.description
    )
    report = portfolio_sync(organization, members={member.pk})
    assert report.gone == 0 and stored(organization, tm_id).gone_at is None
    assert not VisibleModel.objects.filter(visible_set__user=member, threat_model__tmi_id=tm_id).exists()


def test_a_spent_rest_budget_stops_the_pass_and_the_next_continues(organization, owner, sandbox, settings):
    from portal.organizations.tmi_budget import tmi_budget_forget

    settings.PORTAL_TMI_REST_CALLS_PER_MINUTE = 25
    # The client would wait out the budget's refusal (Retry-After, capped) and be refused again: 20 s a pass.
    settings.TMI_MAX_RETRIES = 0
    tmi_budget_forget(sandbox.base_url)
    ids = readable_ids(sandbox, "alice")
    sandbox_calls_afresh(sandbox)
    first = portfolio_sync(organization, members={owner.pk})
    assert first.stopped == "budget"
    assert sum(sandbox_calls(sandbox).values()) == 25  # none beyond the budget reached TMI
    state = SyncState.objects.get(organization=organization)
    assert state.last_sync_at is None and state.running_since is None  # not finished; not left running
    done = set(StoredThreatModel.objects.filter(content_synced_at__isnull=False).values_list("tmi_id", flat=True))
    assert done and done < ids
    passes = 1
    while True:  # each pass in a fresh minute continues: what was read whole is not read whole again
        tmi_budget_forget(sandbox.base_url)
        report = portfolio_sync(organization, members={owner.pk})
        passes += 1
        now_done = set(
            StoredThreatModel.objects.filter(content_synced_at__isnull=False).values_list("tmi_id", flat=True)
        )
        assert now_done > done or not report.stopped, "a pass within the budget made no progress"
        done = now_done
        if not report.stopped:
            break
        assert passes < 20
    assert done == ids and SyncState.objects.get(organization=organization).last_sync_at is not None


def test_tmi_down_mid_sync_loses_nothing_and_records_the_error(organization, owner, sandbox, tmi_as):
    from tests.sandbox.helpers import add_fault

    portfolio_sync(organization, members={owner.pk})
    before = {
        tm.tmi_id: (tm.content_synced_at, tm.threats_total, len(tm.notes), tm.threats.count(), tm.diagrams.count())
        for tm in StoredThreatModel.objects.all()
    }
    # The list answers; every model's own calls then fail (no Retry-After wait: the test need not sleep).
    add_fault(sandbox.base_url, path_prefix="/threat_models/", status=503, retry_after=0)
    report = portfolio_sync(organization, members={owner.pk}, full=True)
    # A 503 with Retry-After is TMI asking for a pause: the pass ends at the first one, not after three models.
    assert report.stopped == "busy" and report.errors
    state = SyncState.objects.get(organization=organization)
    assert "503" in state.last_error, state.last_error
    after = {
        tm.tmi_id: (tm.content_synced_at, tm.threats_total, len(tm.notes), tm.threats.count(), tm.diagrams.count())
        for tm in StoredThreatModel.objects.all()
    }
    assert after == before and not StoredThreatModel.objects.filter(gone_at__isnull=False).exists()
    assert not StoredThreat.objects.filter(gone_at__isnull=False).exists()


def test_tmi_stopped_loses_nothing_and_records_the_error(organization, owner, sandbox):
    portfolio_sync(organization, members={owner.pk})
    threats, visible = StoredThreat.objects.count(), VisibleModel.objects.count()
    sandbox.stop()
    report = portfolio_sync(organization, members={owner.pk}, full=True)
    assert report.errors and report.stopped == "failing"
    state = SyncState.objects.get(organization=organization)
    assert state.last_error and state.running_since is None
    assert StoredThreat.objects.filter(gone_at__isnull=True).count() == threats
    assert VisibleModel.objects.count() == visible
    assert not StoredThreatModel.objects.filter(gone_at__isnull=False).exists()


@pytest.mark.parametrize(
    "body",
    ['{"threats": "not a list"', '{"threats": [{"name": 5}], "total": 1, "limit": 100, "offset": 0}', "<html>"],
    ids=["truncated", "wrong-shape", "html"],
)
def test_a_malformed_answer_is_skipped_with_an_error(organization, owner, sandbox, body):
    from tests.sandbox.helpers import add_fault

    tm_id = _model_of(sandbox, "Customer Payments API")
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{tm_id}/threats", status=200, body=body, times=1)
    report = portfolio_sync(organization, members={owner.pk})
    assert report.errors and any(tm_id in error for error in report.errors), report
    assert SyncState.objects.get(organization=organization).last_error
    others = StoredThreatModel.objects.exclude(tmi_id=tm_id)
    assert others.count() == len(readable_ids(sandbox, "alice")) - 1
    assert all(tm.threats_synced_at for tm in others)
    report = portfolio_sync(organization, members={owner.pk})  # the next pass reads it
    assert not report.errors and stored(organization, tm_id).threats_synced_at


def test_a_full_pass_reads_whole_only_what_was_not_read_whole_lately(organization, owner, sandbox, settings):
    portfolio_sync(organization, members={owner.pk})
    ids = readable_ids(sandbox, "alice")
    assert portfolio_sync(organization, members={owner.pk}, full=True).models_read_whole == len(ids)  # asked: all
    # The last full pass is older than PORTAL_FULL_SYNC_SECONDS; two models were read whole since, the rest not.
    long_ago = timezone.now() - timedelta(seconds=settings.PORTAL_FULL_SYNC_SECONDS + 60)
    SyncState.objects.filter(organization=organization).update(last_full_sync_at=long_ago)
    fresh = sorted(ids)[:2]
    StoredThreatModel.objects.exclude(tmi_id__in=fresh).update(content_synced_at=long_ago)
    report = portfolio_sync(organization, members={owner.pk})
    assert report.models_read_whole == len(ids) - 2 and report.models_checked == 2
    assert SyncState.objects.get(organization=organization).last_full_sync_at > long_ago


def _service_account_organization(sandbox, member_factory):
    """Acme on `sandbox`, with client credentials alice (a TMI administrator there) created for it."""
    from portal.accounts.vault import tmi_client
    from portal.organizations.models import Organization

    organization = Organization.objects.create(name="Acme", slug="acme", tmi_base_url=sandbox.base_url)
    alice = member_factory(organization, "alice", role="owner")
    with tmi_client(organization=organization, user=alice) as client:
        credential = client.auth.client_credentials_create("TMI Portal sync", description="acme")
    organization.tmi_client_id, organization.tmi_client_secret = credential.client_id, credential.client_secret
    organization.save(update_fields=["tmi_client_id", "tmi_client_secret"])
    return organization, alice, credential


def test_the_service_account_reads_too_and_its_set_is_kept(db, sandbox_factory, member_factory):
    from portal.portfolio import selectors
    from portal.portfolio.models import VisibleSet
    from portal.portfolio.requests import portfolio_syncs_due

    sandbox = sandbox_factory("1.8", administrators=["alice"])
    organization, alice, credential = _service_account_organization(sandbox, member_factory)
    alice.tmi_connections.update(needs_sign_in=True)  # no member can read: only the service account
    VisibleSet.objects.filter(organization=organization).update(wanted_at=None)
    assert organization.pk in portfolio_syncs_due()  # due for its service account alone
    seen = sandbox.state.seen_subjects
    seen.clear()
    report = portfolio_sync(organization)
    assert report.readers == 1 and report.sets_read == 1 and not report.errors
    ids = readable_ids(sandbox, "alice")  # the account acts with its owner's access
    service_set = VisibleSet.objects.get(organization=organization, user__isnull=True)
    assert service_set.read_at is not None
    assert set(service_set.entries.values_list("threat_model__tmi_id", flat=True)) == ids
    assert (
        set(StoredThreatModel.objects.filter(content_synced_at__isnull=False).values_list("tmi_id", flat=True)) == ids
    )
    assert seen and all(sub.startswith(f"sa:{credential.id}:") for sub in seen)
    listing = selectors.threat_model_list_get(organization=organization, user=None, page_size=100)
    assert {row.id for row in listing.rows} == ids  # what scheduled exports run as the service account read
    first_read = service_set.read_at
    report = portfolio_sync(organization)
    service_set.refresh_from_db()
    assert report.readers == 1 and service_set.read_at > first_read  # kept, and read again each pass


def test_members_and_the_service_account_read_side_by_side(db, sandbox_factory, member_factory):
    from portal.portfolio.models import VisibleSet

    sandbox = sandbox_factory("1.8", administrators=["alice"])
    organization, alice, _ = _service_account_organization(sandbox, member_factory)
    dave = member_factory(organization, "dave")
    report = portfolio_sync(organization, members={dave.pk})
    assert report.readers == 3 and not report.errors
    assert VisibleSet.objects.filter(organization=organization).count() == 3
    dave_ids = set(VisibleModel.objects.filter(visible_set__user=dave).values_list("threat_model__tmi_id", flat=True))
    assert dave_ids == readable_ids(sandbox, "dave")


def test_a_service_account_tmi_refuses_leaves_the_members_reading(db, sandbox_factory, member_factory, generation):
    from portal.organizations.models import Organization

    sandbox = sandbox_factory(generation)
    organization = Organization.objects.create(
        name="Acme", slug="acme", tmi_base_url=sandbox.base_url, tmi_client_id="tmi_cc_nope", tmi_client_secret="x"
    )
    alice = member_factory(organization, "alice", role="owner")
    report = portfolio_sync(organization, members={alice.pk})
    assert report.readers == 2 and report.sets_read == 1
    assert report.errors and "service account" in report.errors[0]
    assert set(VisibleModel.objects.filter(visible_set__user=alice).values_list("threat_model__tmi_id", flat=True)) == (
        readable_ids(sandbox, "alice")
    )


def _answer_with(sandbox, path: str, change) -> str:
    """TMI's own answer to GET `path` (as alice), changed by `change(items) -> items`, as a fault body."""
    import json

    import httpx

    from tests.conftest import member_tokens

    token = member_tokens(sandbox.base_url, "alice")["access_token"]
    body = httpx.get(f"{sandbox.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    if isinstance(body, list):  # 0.217: a plain array
        return json.dumps(change(body))
    key = next(k for k, v in body.items() if isinstance(v, list))
    return json.dumps({**body, key: change(body[key])})


def test_a_threat_listed_twice_in_one_answer_is_stored_once(organization, owner, sandbox):
    """Offset paging while someone adds a threat shows one threat on two pages: no crash, one row."""
    from tests.sandbox.helpers import add_fault

    tm_id = _model_of(sandbox, "Customer Payments API")
    body = _answer_with(sandbox, f"/threat_models/{tm_id}/threats?limit=100", lambda items: [*items, items[0]])
    add_fault(
        sandbox.base_url, path_prefix=f"/threat_models/{tm_id}/threats", method="GET", status=200, body=body, times=1
    )
    report = portfolio_sync(organization, members={owner.pk})
    assert not report.errors, report
    tm = stored(organization, tm_id)
    assert (
        tm.threats.count()
        == tm.threats_total
        == len([t for t in sandbox.state.threat_models[tm_id]["threats"] if not t.get("deleted_at")])
    )


def test_an_answer_the_store_cannot_hold_skips_that_model_with_an_error(organization, owner, sandbox):
    from tests.sandbox.helpers import add_fault

    tm_id = _model_of(sandbox, "Customer Payments API")

    def too_long(items):
        return [{**items[0], "id": "x" * 100}, *items[1:]]

    body = _answer_with(sandbox, f"/threat_models/{tm_id}/threats?limit=100", too_long)
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{tm_id}/threats", method="GET", status=200, body=body)
    report = portfolio_sync(organization, members={owner.pk})
    ids = readable_ids(sandbox, "alice")
    others = StoredThreatModel.objects.filter(tmi_id__in=ids - {tm_id}, threats_synced_at__isnull=False)
    assert others.count() == len(ids) - 1  # the others were read
    if report.errors:  # PostgreSQL refuses the id (64 characters at most); SQLite keeps it
        assert any(tm_id in error for error in report.errors)
        assert SyncState.objects.get(organization=organization).last_error


def test_a_deleted_model_tmi_failed_to_confirm_is_marked_gone_by_a_later_pass(organization, owner, sandbox, tmi_as):
    from tests.sandbox.helpers import add_fault, clear_faults

    portfolio_sync(organization, members={owner.pk})
    tm_id = _model_of(sandbox, "Partner Webhooks Service")  # alice owns it
    tmi_as("alice").threat_models.delete(tm_id)
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{tm_id}", method="GET", status=503, retry_after=0)
    report = portfolio_sync(organization, members={owner.pk})
    assert report.gone == 0 and any(tm_id in error for error in report.errors)  # TMI could not say
    assert stored(organization, tm_id).gone_at is None
    clear_faults(sandbox.base_url)
    report = portfolio_sync(organization, members={owner.pk})
    assert report.gone == 1 and stored(organization, tm_id).gone_at is not None
    assert list(Change.objects.filter(threat_model__tmi_id=tm_id).values_list("kind", flat=True)) == ["model_gone"]
    assert portfolio_sync(organization, members={owner.pk}).gone == 0  # settled: not asked again


def test_cleared_client_credentials_drop_the_service_accounts_set(db, sandbox_factory, member_factory):
    from portal.portfolio.models import VisibleSet

    sandbox = sandbox_factory("1.8", administrators=["alice"])
    organization, alice, _ = _service_account_organization(sandbox, member_factory)
    portfolio_sync(organization, members={alice.pk})
    assert VisibleSet.objects.filter(organization=organization, user__isnull=True, read_at__isnull=False).exists()
    organization.tmi_client_id, organization.tmi_client_secret = "", ""
    organization.save(update_fields=["tmi_client_id", "tmi_client_secret"])
    report = portfolio_sync(organization, members={alice.pk})
    assert report.readers == 1 and not report.errors
    assert not VisibleSet.objects.filter(organization=organization, user__isnull=True).exists()


def test_client_credentials_tmi_refuses_do_not_stop_the_members_sync(db, sandbox_factory, member_factory):
    from portal.accounts.vault import tmi_client

    sandbox = sandbox_factory("1.8", administrators=["alice"])
    organization, alice, credential = _service_account_organization(sandbox, member_factory)
    bob = member_factory(organization, "bob")
    portfolio_sync(organization, members={bob.pk})  # the service account (alice's access) and bob read
    with tmi_client(organization=organization, user=alice) as client:
        client.auth.client_credentials_delete(credential.id)  # TMI refuses the organisation's secret from now on
    alice.tmi_connections.update(needs_sign_in=True)
    StoredThreatModel.objects.update(content_synced_at=None)  # everything is due a whole read
    sandbox_calls_afresh(sandbox)
    report = portfolio_sync(organization, members={bob.pk})
    assert not report.stopped, report
    assert any("service account" in error for error in report.errors)
    assert sandbox_calls(sandbox)["POST /oauth2/token"] <= 1  # asked once, not once per model
    bobs = readable_ids(sandbox, "bob")
    assert (
        set(StoredThreatModel.objects.filter(content_synced_at__isnull=False).values_list("tmi_id", flat=True)) == bobs
    )  # bob's were all read; the service account's others wait for it


def test_a_sync_asked_for_while_a_pass_runs_is_due_when_that_pass_ends(organization, owner, sandbox):
    import threading

    from django.db import connection

    from portal.portfolio.requests import portfolio_syncs_due
    from tests.exports.conftest import wait_for
    from tests.sandbox.helpers import add_fault

    portfolio_sync(organization, members={owner.pk})
    assert organization.pk not in portfolio_syncs_due()  # just synced, nobody asked
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", latency_ms=4000, times=1)
    reports = []

    def slow_pass():
        try:
            reports.append(portfolio_sync(organization))
        finally:
            connection.close()

    running = threading.Thread(target=slow_pass)
    running.start()
    wait_for(
        lambda: SyncState.objects.filter(organization=organization, running_since__isnull=False).exists(),
        timeout=10,
        what="the pass to start",
        interval=0.05,
    )
    tm_id = _model_of(sandbox, "Customer Payments API")
    asked_at = timezone.now()
    assert portfolio_sync(organization, models={tm_id}).skipped == "running"  # Refresh now, meanwhile
    running.join(timeout=60)
    assert reports and not reports[0].stopped
    tm = stored(organization, tm_id)
    assert tm.content_synced_at >= asked_at or tm.sync_requested_at is not None  # that pass read it, or it waits
    assert organization.pk in portfolio_syncs_due()  # the ask is not lost: the next due check sends a pass
    portfolio_sync(organization)
    assert organization.pk not in portfolio_syncs_due()
    tm = stored(organization, tm_id)
    assert tm.sync_requested_at is None and tm.content_synced_at >= asked_at


def test_a_pass_that_crashes_releases_its_lease_and_records_why(organization, owner, sandbox, monkeypatch):
    from portal.portfolio import store

    def broken(tm, diagrams):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(store, "diagrams_store", broken)
    with pytest.raises(RuntimeError):
        portfolio_sync(organization, members={owner.pk})
    state = SyncState.objects.get(organization=organization)
    assert state.running_since is None and "renderer broke" in state.last_error and state.last_sync_at is None
    monkeypatch.undo()
    assert not portfolio_sync(organization, members={owner.pk}).errors  # the next pass runs


def test_a_malformed_list_loses_nothing_and_the_pass_does_not_count_as_done(organization, owner, sandbox):
    from tests.sandbox.helpers import add_fault

    portfolio_sync(organization, members={owner.pk})
    finished = SyncState.objects.get(organization=organization).last_sync_at
    visible = set(VisibleModel.objects.filter(visible_set__user=owner).values_list("threat_model__tmi_id", flat=True))
    add_fault(sandbox.base_url, path_prefix="/threat_models", path_suffix="/threat_models", body="[{", times=1)
    report = portfolio_sync(organization, members={owner.pk}, full=True)
    assert report.stopped == "failing" and report.errors and report.models_read_whole == 0
    state = SyncState.objects.get(organization=organization)
    assert state.last_sync_at == finished and state.last_error  # the page does not call it fresh
    assert (
        set(VisibleModel.objects.filter(visible_set__user=owner).values_list("threat_model__tmi_id", flat=True))
        == visible
    )
    assert not portfolio_sync(organization, members={owner.pk}).errors
