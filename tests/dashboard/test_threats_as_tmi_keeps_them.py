"""Threats as the real TMI servers keep them (PROTOCOL.md 12.17, 12.18): the store reads threats from the threats
list (TMI 1.8 keeps a deleted threat embedded in its model), so pages, overview counts and the PDF's data never
show one; severities and statuses count in any casing (a JSON Patch stores "Medium" as sent). Both generations,
each change made in TMI and brought in by a sync.

Also: a model the member may not see costs TMI nothing on a page view (it was one call before the store)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.urls import reverse

from portal.portfolio import selectors
from portal.portfolio.models import StoredThreat
from portal.portfolio.pages import UNLISTED_RECHECK_SECONDS
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.vocabulary import SEVERITIES
from portal.reports.shaping import model_section
from tests.dashboard.conftest import (
    find_model,
    open_severities,
    readable_models,
    store_filled,
    tmi_calls,
    visible_set_age,
)
from tests.sandbox.helpers import count_requests_afresh
from tests.sandbox.rest_world import Api, threat_body

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # alice owns it (seed role matrix)
GHOST = "Ghost of a deleted threat"


def model_page(client, tm_id: str, **query):
    return client.get(reverse("dashboard:threat_model", args=["acme", tm_id]), query)


def detail(organization, user, tm_id: str, **filters):
    return selectors.threat_model_detail_get(organization=organization, user=user, threat_model_id=tm_id, **filters)


def overview(organization, user):
    return selectors.portfolio_overview_get(organization=organization, user=user)


def pdf_data(organization, user, tm_id: str):
    """What a PDF of the model is made from: the store's report and its printable section."""
    report = selectors.threat_model_report_get(organization=organization, user=user, threat_model_id=tm_id)
    assert report is not None
    return report, model_section(report, anchor="model")


def open_in_pdf(section) -> dict[str, int]:
    return {line.key: line.open for line in section.severity_lines}


def every_severity(counts: Counter) -> dict[str, int]:
    return {key: counts.get(key, 0) for key in SEVERITIES}


def stored_threat_names(organization, tm_id: str) -> set[str]:
    live = StoredThreat.objects.filter(threat_model__organization=organization, threat_model__tmi_id=tm_id)
    return set(live.filter(gone_at__isnull=True).values_list("name", flat=True))


def assert_no_ghost_anywhere(client, organization, alice, sandbox, tm: dict) -> None:
    expected = open_severities([tm])  # the sandbox's own state, deleted threats left out
    page = model_page(client, tm["id"]).content.decode()
    # Only the model's history may name it, as deleted, and never as a link to a row it no longer has.
    history_start = page.index('id="history"')
    history = page[history_start : page.index("</section>", history_start)]
    assert GHOST not in page[:history_start] + page[history_start + len(history) :]
    assert "deleted from" in history and f">{GHOST}</a>" in history
    assert not re.search(rf'#threat-[^"]*">{GHOST}<', history)
    assert GHOST not in stored_threat_names(organization, tm["id"])
    shown = detail(organization, alice, tm["id"])
    assert GHOST not in [t.name for t in shown.threats]
    assert {c.key: c.count for c in shown.open_by_severity} == every_severity(expected)
    everywhere = open_severities(readable_models(sandbox, "alice"))
    assert {c.key: c.count for c in overview(organization, alice).open_by_severity} == every_severity(everywhere)
    report, section = pdf_data(organization, alice, tm["id"])
    assert GHOST not in [t.name for t in report.threats]
    assert GHOST not in [t.name for t in report.threat_model.threats]
    assert GHOST not in [t.name for t, _ in section.threats]
    assert open_in_pdf(section) == every_severity(expected)


def test_a_deleted_threat_is_never_shown(client, alice, organization, sandbox):
    store_filled(organization, alice)
    tm = find_model(sandbox, PAYMENTS)
    tmi = Api(sandbox, "alice")
    base = f"/threat_models/{tm['id']}"
    ghost = tmi.post(f"{base}/threats", threat_body(tmi.legacy, name=GHOST, severity="Critical"))
    assert ghost.status_code == 201, ghost.text
    portfolio_sync(organization, members={alice.pk})
    assert GHOST in model_page(client, tm["id"]).content.decode()  # the sync brings it in while it lives

    assert tmi.delete(f"{base}/threats/{ghost.json()['id']}").status_code == 204
    if not tmi.legacy:  # the premise: TMI 1.8 still embeds it in the model (0.217 deletes for good)
        assert ghost.json()["id"] in [t["id"] for t in tmi.get(base).json()["threats"]]
    report = portfolio_sync(organization, members={alice.pk})  # incremental: the count TMI lists went down
    assert not report.errors and report.models_read_whole == 0
    assert_no_ghost_anywhere(client, organization, alice, sandbox, tm)
    report = portfolio_sync(organization, members={alice.pk}, full=True)  # every model read whole
    assert not report.errors and report.models_read_whole == len(readable_models(sandbox, "alice"))
    assert_no_ghost_anywhere(client, organization, alice, sandbox, tm)


def test_severity_and_status_count_in_any_casing(client, alice, organization, sandbox):
    """A threat patched to "Medium"/"Open" (TMI 1.8 keeps a patched value as sent; 0.217 keeps every value as
    sent) counts as an open medium threat; one patched to "High"/"Mitigated" is closed and counts nowhere."""
    store_filled(organization, alice)
    tm = find_model(sandbox, PAYMENTS)
    before_model = open_severities([tm])
    before_all = open_severities(readable_models(sandbox, "alice"))
    tmi = Api(sandbox, "alice")
    base = f"/threat_models/{tm['id']}/threats"
    for name, severity, status in (("Cased open one", "Medium", "Open"), ("Cased closed one", "High", "Mitigated")):
        created = tmi.post(base, threat_body(tmi.legacy, name=name, severity="low", status="identified"))
        assert created.status_code == 201, created.text
        ops = [
            {"op": "replace", "path": "/severity", "value": severity},
            {"op": "replace", "path": "/status", "value": status},
        ]
        patched = tmi.patch(f"{base}/{created.json()['id']}", ops)
        assert (patched.json()["severity"], patched.json()["status"]) == (severity, status)  # stored as sent
    assert not portfolio_sync(organization, members={alice.pk}).errors
    model_expected = every_severity(before_model + Counter({"medium": 1}))
    all_expected = every_severity(before_all + Counter({"medium": 1}))

    assert {c.key: c.count for c in overview(organization, alice).open_by_severity} == all_expected

    shown = detail(organization, alice, tm["id"])
    assert {c.key: c.count for c in shown.open_by_severity} == model_expected
    rows = {t.name: t for t in shown.threats}
    assert (rows["Cased open one"].severity, rows["Cased open one"].status) == ("medium", "open")
    assert rows["Cased open one"].is_open and not rows["Cased closed one"].is_open
    assert (rows["Cased closed one"].severity, rows["Cased closed one"].status) == ("high", "mitigated")
    filtered = detail(organization, alice, tm["id"], severity="medium")
    assert "Cased open one" in [t.name for t in filtered.shown_threats]
    by_status = detail(organization, alice, tm["id"], threat_status="Mitigated")
    assert "Cased closed one" in [t.name for t in by_status.shown_threats]
    assert all(t.status == "mitigated" for t in by_status.shown_threats)
    page = model_page(client, tm["id"], severity="medium", threat_status="open").context["tm"]
    assert "Cased open one" in [t.name for t in page.shown_threats]

    _, section = pdf_data(organization, alice, tm["id"])
    assert open_in_pdf(section) == model_expected
    assert {c.key for c in section.threat_statuses} >= {"open", "mitigated"}
    assert not {c.key for c in section.threat_statuses} & {"Open", "Mitigated"}


def test_a_model_the_member_cannot_see_costs_tmi_nothing(client, alice, organization, sandbox):
    """Not in the member's visible set: a 404 from the store, and TMI is never asked for it with their token.
    Only when their set is older than UNLISTED_RECHECK_SECONDS (a link to a model created a moment ago) does the
    page have their set read again: one list, and still no call for the model itself."""
    store_filled(organization, alice)
    tm = find_model(sandbox, "Data Warehouse ETL")  # alice has no access (seed role matrix)
    count_requests_afresh(sandbox.base_url)
    assert model_page(client, tm["id"]).status_code == 404
    assert tmi_calls(sandbox) == Counter()

    visible_set_age(organization, alice, UNLISTED_RECHECK_SECONDS + 1)
    count_requests_afresh(sandbox.base_url)
    assert model_page(client, tm["id"]).status_code == 404
    calls = tmi_calls(sandbox)
    assert calls["GET /threat_models"] == 1  # her set, read again
    assert not [route for route in calls if tm["id"] in route]  # the model itself: never asked for
    # The rest is the pass that read her set: at most one look at each model of hers (their changed threats).
    mine = {m["id"] for m in readable_models(sandbox, "alice")}
    assert {route for route in calls if route != "GET /threat_models"} <= {
        f"GET /threat_models/{tm_id}/threats" for tm_id in mine
    }
    assert max(calls.values()) == 1

    count_requests_afresh(sandbox.base_url)  # the set is fresh again: the next look costs nothing
    assert model_page(client, tm["id"]).status_code == 404
    assert tmi_calls(sandbox) == Counter()
