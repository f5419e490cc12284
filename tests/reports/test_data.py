"""What a report reads: the portfolio store, made fresh as the member and filtered by their visible set (both TMI
generations). The reads themselves make no TMI call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.portfolio.models import StoredDiagram, StoredThreat, StoredThreatModel
from portal.portfolio.report_data import ReportFilterError, portfolio_filters_clean
from portal.portfolio.selectors import portfolio_report_get, portfolio_report_unread, threat_model_report_get
from portal.portfolio.sync import portfolio_reader_refresh
from portal.tmi import TMIError
from tests.dashboard.conftest import find_model, readable_models
from tests.reports.conftest import portfolio_read, report_read
from tests.sandbox.helpers import add_fault

PAYMENTS = "Customer Payments API"


def test_one_threat_model_is_read_whole(sandbox, organization, alice):
    tm = find_model(sandbox, PAYMENTS)
    before = timezone.now()

    report = report_read(organization, alice, tm["id"])

    assert report.name == PAYMENTS and report.id == tm["id"]
    assert sorted(t.name for t in report.threats) == sorted(t["name"] for t in tm["threats"] if not t.get("deleted_at"))
    assert len(report.diagrams) == len(tm["diagrams"]) and all(d.cells for d in report.diagrams)
    assert set(report.svgs) == {d.id for d in report.diagrams}  # drawn once, when stored
    assert all(svg.startswith("<svg") for svg in report.svgs.values())
    assert {n.name for n in report.notes} == {n["name"] for n in tm["notes"]}
    assert all(n.content for n in report.notes)  # the list leaves content out; the store has it
    assert len(report.assets) == len(tm["assets"]) and len(report.documents) == len(tm["documents"])
    assert [r.uri for r in report.repositories] == [r["uri"] for r in tm["repositories"]]
    assert report.source_url == f"{sandbox.base_url}/threat_models/{tm['id']}"
    assert report.read_at is not None and before <= report.read_at <= timezone.now()


def test_reading_the_store_asks_tmi_nothing(sandbox, organization, alice):
    """Once made fresh, the store answers with TMI stopped: the reads never call it."""
    tm_id = find_model(sandbox, PAYMENTS)["id"]
    portfolio_reader_refresh(organization, user_id=alice.pk)
    sandbox.stop()
    report = threat_model_report_get(organization=organization, user=alice, threat_model_id=tm_id)
    reports = portfolio_report_get(organization=organization, user=alice)
    assert report.name == PAYMENTS and report.threats
    assert sorted(r.name for r in reports) == sorted(tm["name"] for tm in readable_models(sandbox, "alice"))


def test_a_model_tmi_does_not_list_for_the_member_is_not_read(sandbox, organization, alice):
    assert report_read(organization, alice, "00000000-0000-4000-8000-000000000000") is None
    hidden = find_model(sandbox, "Kubernetes Platform")["id"]  # bob's; alice has no access (seed)
    assert report_read(organization, alice, hidden) is None
    assert not StoredThreatModel.objects.filter(tmi_id=hidden).exists()  # not even asked for


def test_the_store_holding_a_model_does_not_show_it_to_someone_it_is_not_listed_for(
    sandbox, organization, alice, member_factory
):
    """Content is shared, visibility is not: bob's export stored his model; alice still cannot read it."""
    bob = member_factory(organization, "bob")
    hidden = find_model(sandbox, "Kubernetes Platform")["id"]
    assert report_read(organization, bob, hidden).name == "Kubernetes Platform"
    portfolio_reader_refresh(organization, user_id=alice.pk)
    assert StoredThreatModel.objects.filter(tmi_id=hidden, content_synced_at__isnull=False).exists()
    assert threat_model_report_get(organization=organization, user=alice, threat_model_id=hidden) is None
    assert hidden not in {r.id for r in portfolio_report_get(organization=organization, user=alice)}


def test_items_not_for_reports_are_left_out(organization_18, member_factory):
    """TMI 1.8 marks threats, diagrams, assets, documents, notes and repositories `include_in_report`. The
    store keeps them (pages show them); a report read from it drops them."""
    from portal.accounts.vault import tmi_client

    sandbox, organization = organization_18
    alice = member_factory(organization, "alice")
    tm_id = find_model(sandbox, PAYMENTS)["id"]
    with tmi_client(organization=organization, user=alice) as client:
        hidden = {
            "threat": client.threats.create(
                tm_id, name="Hidden threat", threat_type=["Spoofing"], severity="critical", include_in_report=False
            ),
            "asset": client.assets.create(tm_id, name="Hidden asset", type="data", include_in_report=False),
            "document": client.documents.create(
                tm_id, name="Hidden document", uri="https://example.com/h", include_in_report=False
            ),
            "note": client.notes.create(tm_id, name="Hidden note", content="secret", include_in_report=False),
            "repository": client.repositories.create(
                tm_id, name="hidden-repo", uri="https://example.com/r.git", include_in_report=False
            ),
        }
        diagram = client.diagrams.create(tm_id, "Hidden diagram")
        client.diagrams.update(
            tm_id, diagram.id, name="Hidden diagram", type="DFD-1.0.0", cells=[], include_in_report=False
        )
        shown = client.threats.create(tm_id, name="Shown threat", threat_type=["Tampering"], include_in_report=True)
    report = report_read(organization, alice, tm_id)

    assert StoredThreat.objects.filter(name="Hidden threat").exists()  # kept in the store,
    assert StoredDiagram.objects.filter(name="Hidden diagram").exists()
    stored = StoredThreatModel.objects.get(organization=organization, tmi_id=tm_id)
    assert "Hidden note" in {n["name"] for n in stored.notes}
    names = {  # but in no part of the report
        item.name
        for group in (
            report.threats,
            report.assets,
            report.documents,
            report.notes,
            report.repositories,
            report.diagrams,
        )
        for item in group
    }
    assert not {item.name for item in hidden.values()} & names
    assert "Hidden diagram" not in names and str(diagram.id) not in report.svgs
    assert shown.name in names
    live_threats = [t for t in find_model(sandbox, PAYMENTS)["threats"] if not t.get("deleted_at")]
    assert len(report.threats) == len(live_threats) - 1
    embedded = report.threat_model  # the model's own copies of its children hold no hidden item either
    assert [t.id for t in embedded.threats] == [t.id for t in report.threats]
    assert "Hidden diagram" not in {d.name for d in embedded.diagrams}
    assert embedded.threat_count == len(report.threats) and embedded.note_count == len(report.notes)


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"name": "customer"}, lambda tm: "customer" in tm["name"].lower()),
        ({"search": "Customer"}, lambda tm: "customer" in tm["name"].lower()),
    ],
)
def test_portfolio_takes_the_dashboards_filters(sandbox, organization, alice, filters, expected):
    reports = portfolio_read(organization, alice, filters=filters)

    wanted = sorted(tm["name"] for tm in readable_models(sandbox, "alice") if expected(tm))
    assert wanted and [r.name for r in reports] == sorted(wanted, key=str.lower)


def test_portfolio_status_filter_in_either_spelling(sandbox, organization, alice, progress_log):
    calls, progress = progress_log
    readable = readable_models(sandbox, "alice")
    in_progress = sorted(tm["name"] for tm in readable if tm["status"] in ("in_progress", "In Progress"))

    reports = portfolio_read(organization, alice, filters={"status": ["In Progress"]}, progress=progress)

    assert in_progress and sorted(r.name for r in reports) == in_progress
    assert len(in_progress) < len(readable)
    dones = [done for done, _, _ in calls]
    assert dones == sorted(dones) and calls[-1] == (3, 3, "Read")


def test_portfolio_owner_filter(sandbox, organization, alice):
    reports = portfolio_read(organization, alice, filters={"owner": "bob"})
    owned_by_bob = [tm for tm in readable_models(sandbox, "alice") if tm["owner"] and "bob" in str(tm["owner"]).lower()]
    assert owned_by_bob and sorted(r.name for r in reports) == sorted(tm["name"] for tm in owned_by_bob)


def test_portfolio_without_filters_is_every_readable_model(sandbox, organization, alice):
    reports = portfolio_read(organization, alice)
    assert sorted(r.name for r in reports) == sorted(tm["name"] for tm in readable_models(sandbox, "alice"))
    assert all(r.read_at for r in reports)


def test_unknown_filters_are_refused_with_their_name(db):
    with pytest.raises(ReportFilterError, match="colour"):
        portfolio_filters_clean({"name": "x", "colour": "red"})
    assert portfolio_filters_clean({"search": " api ", "status": "In Progress,approved", "owner": ""}) == {
        "name": "api",
        "status": ["in_progress", "approved"],
    }


def test_portfolio_is_in_name_order(sandbox, organization, alice):
    reports = portfolio_read(organization, alice)
    assert [(r.name.lower(), r.threat_model.id) for r in reports] == sorted(
        (r.name.lower(), r.threat_model.id) for r in reports
    )
    assert len({r.threat_model.id for r in reports}) == len(reports)


def test_a_refresh_reads_only_what_changed_and_what_the_report_names(sandbox, organization, alice, alice_client):
    """A portfolio refresh reads a model whole only when it is new or changed, else only its changed threats (TMI
    1.8 leaves a model's modified_at alone when a threat is added: PROTOCOL.md 12); a one-model refresh reads that
    model whole, whatever it last saw."""
    portfolio_reader_refresh(organization, user_id=alice.pk)
    payments = find_model(sandbox, PAYMENTS)["id"]
    alice_client.threats.create(payments, name="Added later", threat_type=["Spoofing"])
    again = portfolio_reader_refresh(organization, user_id=alice.pk)
    assert again.models_read_whole <= 1  # at most the changed model, if its modified_at moved
    assert again.models_read_whole + again.models_checked == len(readable_models(sandbox, "alice"))
    report = threat_model_report_get(organization=organization, user=alice, threat_model_id=payments)
    assert "Added later" in {t.name for t in report.threats}
    one = portfolio_reader_refresh(organization, user_id=alice.pk, models={payments})
    assert (one.models_read_whole, one.models_checked) == (1, 0)


def test_a_tmi_error_while_making_the_store_fresh_propagates_and_the_store_stands(
    sandbox, organization, alice, settings
):
    settings.TMI_MAX_RETRIES = 0
    portfolio_read(organization, alice)
    add_fault(sandbox.base_url, path_prefix="/threat_models/", method="GET", status=500, times=1000)
    with pytest.raises(TMIError):
        portfolio_reader_refresh(organization, user_id=alice.pk)
    reports = portfolio_report_get(organization=organization, user=alice)
    assert sorted(r.name for r in reports) == sorted(tm["name"] for tm in readable_models(sandbox, "alice"))


def test_models_listed_but_never_read_are_counted_unread(sandbox, organization, alice, settings):
    """TMI failed after listing: the report must not silently leave those models out (running.py waits)."""
    settings.TMI_MAX_RETRIES = 0
    add_fault(sandbox.base_url, path_prefix="/threat_models/", method="GET", status=503, times=1000)
    with pytest.raises(TMIError):
        portfolio_reader_refresh(organization, user_id=alice.pk)
    readable = readable_models(sandbox, "alice")
    assert portfolio_report_unread(organization=organization, user=alice) == len(readable)
    assert portfolio_report_unread(organization=organization, user=alice, filters={"name": "customer"}) == len(
        [tm for tm in readable if "customer" in tm["name"].lower()]
    )
    assert portfolio_report_get(organization=organization, user=alice) == []
    StoredThreatModel.objects.update(content_synced_at=timezone.now() - timedelta(days=1))
    assert portfolio_report_unread(organization=organization, user=alice) == len(readable)  # threats never read
