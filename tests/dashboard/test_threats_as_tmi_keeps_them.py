"""Threats as the real TMI servers keep them (PROTOCOL.md 12.17, 12.18): pages, overview counts and the PDF's
data read threats from the threats list (TMI 1.8 keeps a deleted threat embedded in its model) and compare
severities and statuses in any casing (a JSON Patch stores "Medium" as sent). Both generations.

Also: a model page TMI refuses costs TMI one call (issue 14 section 3)."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from portal.accounts.vault import atmi_client, tmi_client
from portal.dashboard import selectors
from portal.dashboard.fetching import threat_model_bundle
from portal.portfolio.vocabulary import SEVERITIES
from portal.reports.data import threat_model_report_fetch
from portal.reports.shaping import model_section
from portal.tmi import Forbidden
from tests.dashboard.conftest import find_model, open_severities, readable_models
from tests.sandbox.helpers import count_requests_afresh
from tests.sandbox.rest_world import Api, threat_body

pytestmark = pytest.mark.django_db(transaction=True)

portfolio = async_to_sync(selectors.portfolio_for_dashboard)
detail = async_to_sync(selectors.threat_model_for_dashboard)
PAYMENTS = "Customer Payments API"  # alice owns it (seed role matrix)


def model_page(client, tm_id: str, **query):
    return client.get(reverse("dashboard:threat_model", args=["acme", tm_id]), query)


@async_to_sync
async def model_bundle(organization, user, tm_id: str):
    async with atmi_client(organization=organization, user=user) as client:
        return await threat_model_bundle(client, tm_id)


def pdf_data(organization, user, tm_id: str):
    """What a PDF of the model is made from: the fetched report and its printable section."""
    with tmi_client(organization=organization, user=user) as client:
        report = threat_model_report_fetch(client, tm_id)
    return report, model_section(report, anchor="model")


def open_in_pdf(section) -> dict[str, int]:
    return {line.key: line.open for line in section.severity_lines}


def every_severity(counts: Counter) -> dict[str, int]:
    return {key: counts.get(key, 0) for key in SEVERITIES}


def test_a_deleted_threat_is_never_shown(client, alice, organization, sandbox):
    tm = find_model(sandbox, PAYMENTS)
    tmi = Api(sandbox, "alice")
    base = f"/threat_models/{tm['id']}"
    ghost = tmi.post(f"{base}/threats", threat_body(tmi.legacy, name="Ghost of a deleted threat", severity="Critical"))
    assert ghost.status_code == 201, ghost.text
    assert tmi.delete(f"{base}/threats/{ghost.json()['id']}").status_code == 204
    if not tmi.legacy:  # the premise: TMI 1.8 still embeds it in the model (0.217 deletes for good)
        assert ghost.json()["id"] in [t["id"] for t in tmi.get(base).json()["threats"]]
    expected = open_severities([tm])  # the sandbox's own state, deleted threats left out

    html = model_page(client, tm["id"]).content.decode()
    assert "Ghost of a deleted threat" not in html
    bundle = model_bundle(organization, alice, tm["id"])  # what the page is made from, the model included
    assert "Ghost of a deleted threat" not in [t.name for t in bundle.threats + bundle.threat_model.threats]
    shown = detail(organization=organization, user=alice, threat_model_id=tm["id"])
    assert "Ghost of a deleted threat" not in [t.name for t in shown.threats]
    assert {c.key: c.count for c in shown.open_by_severity} == every_severity(expected)

    overview = portfolio(organization=organization, user=alice)
    everywhere = open_severities(readable_models(sandbox, "alice"))
    assert {c.key: c.count for c in overview.open_by_severity} == every_severity(everywhere)

    report, section = pdf_data(organization, alice, tm["id"])
    assert "Ghost of a deleted threat" not in [t.name for t in report.threats]
    assert "Ghost of a deleted threat" not in [t.name for t in report.threat_model.threats]
    assert "Ghost of a deleted threat" not in [t.name for t, _ in section.threats]
    assert open_in_pdf(section) == every_severity(expected)


def test_severity_and_status_count_in_any_casing(client, alice, organization, sandbox):
    """A threat patched to "Medium"/"Open" (TMI 1.8 keeps a patched value as sent; 0.217 keeps every value as
    sent) counts as an open medium threat; one patched to "High"/"Mitigated" is closed and counts nowhere."""
    tm = find_model(sandbox, PAYMENTS)
    before_model = open_severities([tm])
    before_all = open_severities(readable_models(sandbox, "alice"))
    tmi = Api(sandbox, "alice")
    base = f"/threat_models/{tm['id']}/threats"
    ids = {}
    for name, severity, status in (("Cased open one", "Medium", "Open"), ("Cased closed one", "High", "Mitigated")):
        created = tmi.post(base, threat_body(tmi.legacy, name=name, severity="low", status="identified"))
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
        ops = [
            {"op": "replace", "path": "/severity", "value": severity},
            {"op": "replace", "path": "/status", "value": status},
        ]
        patched = tmi.patch(f"{base}/{created.json()['id']}", ops)
        assert (patched.json()["severity"], patched.json()["status"]) == (severity, status)  # stored as sent
    model_expected = every_severity(before_model + Counter({"medium": 1}))
    all_expected = every_severity(before_all + Counter({"medium": 1}))

    overview = portfolio(organization=organization, user=alice)
    assert {c.key: c.count for c in overview.open_by_severity} == all_expected

    shown = detail(organization=organization, user=alice, threat_model_id=tm["id"])
    assert {c.key: c.count for c in shown.open_by_severity} == model_expected
    rows = {t.name: t for t in shown.threats}
    assert (rows["Cased open one"].severity, rows["Cased open one"].status) == ("medium", "open")
    assert rows["Cased open one"].is_open and not rows["Cased closed one"].is_open
    assert (rows["Cased closed one"].severity, rows["Cased closed one"].status) == ("high", "mitigated")
    filtered = detail(organization=organization, user=alice, threat_model_id=tm["id"], severity="medium")
    assert "Cased open one" in [t.name for t in filtered.shown_threats]
    by_status = detail(organization=organization, user=alice, threat_model_id=tm["id"], threat_status="Mitigated")
    assert "Cased closed one" in [t.name for t in by_status.shown_threats]
    assert all(t.status == "mitigated" for t in by_status.shown_threats)
    page = model_page(client, tm["id"], severity="medium", threat_status="open").context["tm"]
    assert "Cased open one" in [t.name for t in page.shown_threats]

    _, section = pdf_data(organization, alice, tm["id"])
    assert open_in_pdf(section) == model_expected
    assert {c.key for c in section.threat_statuses} >= {"open", "mitigated"}
    assert not {c.key for c in section.threat_statuses} & {"Open", "Mitigated"}


def test_a_model_the_member_cannot_read_costs_tmi_one_call(client, alice, organization, sandbox):
    """The model is asked for alone: TMI's 403 ends the page before any child is asked for (six calls in
    flight that the failure cancelled were errors in TMI's log)."""
    tm = find_model(sandbox, "Data Warehouse ETL")  # alice has no access (seed role matrix)
    count_requests_afresh(sandbox.base_url)
    assert model_page(client, tm["id"]).status_code == 403
    seen = {route: n for route, n in _requests_seen(sandbox).items() if tm["id"] in route}
    assert seen == {f"GET /threat_models/{tm['id']}": 1}

    count_requests_afresh(sandbox.base_url)
    with pytest.raises(Forbidden), tmi_client(organization=organization, user=alice) as tmi:
        threat_model_report_fetch(tmi, tm["id"])  # the PDF's fetch: the same single call
    seen = {route: n for route, n in _requests_seen(sandbox).items() if tm["id"] in route}
    assert seen == {f"GET /threat_models/{tm['id']}": 1}


def _requests_seen(sandbox) -> dict[str, int]:
    """Every route the sandbox was called on since `count_requests_afresh`, with its count."""
    return httpx.get(f"{sandbox.base_url}/_sandbox/requests").json()["seen"]
