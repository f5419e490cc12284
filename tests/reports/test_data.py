"""Fetching what a report needs, from the sandbox, as a member (both TMI generations)."""

from __future__ import annotations

import pytest

from portal.reports.data import (
    ReportFilterError,
    portfolio_filters_clean,
    portfolio_report_fetch,
    threat_model_report_fetch,
)
from portal.tmi import NotFound
from tests.dashboard.conftest import find_model, readable_models

PAYMENTS = "Customer Payments API"


def test_one_threat_model_is_fetched_whole(sandbox, alice_client, progress_log):
    calls, progress = progress_log
    tm = find_model(sandbox, PAYMENTS)

    report = threat_model_report_fetch(alice_client, tm["id"], progress=progress)

    assert report.name == PAYMENTS and report.id == tm["id"]
    assert sorted(t.name for t in report.threats) == sorted(t["name"] for t in tm["threats"])
    assert len(report.diagrams) == len(tm["diagrams"]) and all(d.cells for d in report.diagrams)
    assert {n.name for n in report.notes} == {n["name"] for n in tm["notes"]}
    assert all(n.content for n in report.notes)  # the list leaves content out; the report has it
    assert len(report.assets) == len(tm["assets"]) and len(report.documents) == len(tm["documents"])
    assert [r.uri for r in report.repositories] == [r["uri"] for r in tm["repositories"]]
    assert report.source_url == f"{sandbox.base_url}/threat_models/{tm['id']}"
    assert report.generation == sandbox.config.generation
    assert [label for *_, label in calls][:2] == ["Fetching the threat model", "Fetching threats"]
    assert f"Fetching diagram {len(tm['diagrams'])} of {len(tm['diagrams'])}" in [c[2] for c in calls]
    dones = [done for done, _, _ in calls]
    assert dones == sorted(dones) and calls[-1][0] == calls[-1][1]


def test_a_missing_threat_model_is_a_tmi_error(sandbox, alice_client):
    with pytest.raises(NotFound):
        threat_model_report_fetch(alice_client, "00000000-0000-4000-8000-000000000000")


def test_items_not_for_reports_are_not_fetched(organization_18, member_factory):
    """TMI 1.8 marks threats, diagrams, assets, documents, notes and repositories `include_in_report`."""
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
        report = threat_model_report_fetch(client, tm_id)

    names = {
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
    assert "Hidden diagram" not in names
    assert shown.name in names
    assert len(report.threats) == len(find_model(sandbox, PAYMENTS)["threats"]) - 1
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
def test_portfolio_takes_the_dashboards_filters(sandbox, alice_client, filters, expected):
    reports = portfolio_report_fetch(alice_client, filters=filters)

    wanted = sorted(tm["name"] for tm in readable_models(sandbox, "alice") if expected(tm))
    assert wanted and [r.name for r in reports] == sorted(wanted, key=str.lower)


def test_portfolio_status_filter_in_either_spelling(sandbox, alice_client, progress_log):
    calls, progress = progress_log
    readable = readable_models(sandbox, "alice")
    in_progress = sorted(tm["name"] for tm in readable if tm["status"] in ("in_progress", "In Progress"))

    reports = portfolio_report_fetch(alice_client, filters={"status": ["In Progress"]}, progress=progress)

    assert in_progress and sorted(r.name for r in reports) == in_progress
    assert len(in_progress) < len(readable)
    assert calls[-1] == (len(in_progress), len(in_progress), "Fetched")


def test_portfolio_owner_filter(sandbox, alice_client):
    reports = portfolio_report_fetch(alice_client, filters={"owner": "bob"})
    owned_by_bob = [tm for tm in readable_models(sandbox, "alice") if tm["owner"] and "bob" in str(tm["owner"]).lower()]
    assert owned_by_bob and sorted(r.name for r in reports) == sorted(tm["name"] for tm in owned_by_bob)


def test_portfolio_without_filters_is_every_readable_model(sandbox, alice_client):
    reports = portfolio_report_fetch(alice_client)
    assert sorted(r.name for r in reports) == sorted(tm["name"] for tm in readable_models(sandbox, "alice"))


def test_unknown_filters_are_refused_with_their_name():
    with pytest.raises(ReportFilterError, match="colour"):
        portfolio_filters_clean({"name": "x", "colour": "red"})
    assert portfolio_filters_clean({"search": " api ", "status": "In Progress,approved", "owner": ""}) == {
        "name": "api",
        "status": ["in_progress", "approved"],
    }


def test_portfolio_keeps_name_order_though_models_are_fetched_at_once(sandbox, alice_client):
    reports = portfolio_report_fetch(alice_client)
    assert [(r.name.lower(), r.threat_model.id) for r in reports] == sorted(
        (r.name.lower(), r.threat_model.id) for r in reports
    )
    assert len({r.threat_model.id for r in reports}) == len(reports)


def test_a_tmi_error_while_fetching_a_portfolio_propagates(sandbox, alice_client):
    from portal.tmi import TMIError
    from tests.sandbox.helpers import add_fault

    add_fault(sandbox.base_url, path_prefix="/threat_models/", method="GET", status=500, times=1000)
    with pytest.raises(TMIError):
        portfolio_report_fetch(alice_client)
