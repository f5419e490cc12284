"""The activity log: filters, pages, and the CSV download (same filters, formula injection guarded)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.exporting import csv_cell_safe
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from tests.tenant_admin.conftest import client_for

pytestmark = pytest.mark.django_db


def at(event: AuditEvent, when) -> AuditEvent:
    AuditEvent.objects.filter(pk=event.pk).update(created_at=when)
    return event


@pytest.fixture
def log(world):
    now = timezone.now()
    owner, admin = world.users["owner"], world.users["admin"]
    at(
        audit_record(organization=world.acme, action="auth.sign_in", actor=owner, target="alice@example.com"),
        now - timedelta(days=10),
    )
    at(
        audit_record(
            organization=world.acme,
            action="member.role_changed",
            actor=admin,
            target="erin@example.com",
            details={"from": "member", "to": "admin"},
        ),
        now - timedelta(days=2),
    )
    at(
        audit_record(
            organization=world.acme,
            action="invitation.created",
            actor=owner,
            target='=HYPERLINK("http://evil.example","click")',
        ),
        now - timedelta(hours=1),
    )
    audit_record(
        organization=world.globex,
        action="member.removed",
        actor=world.users["outsider"],
        target="secret-of-globex@example.com",
    )
    return world


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_log_shows_only_this_organisation_newest_first_in_words(log):
    page = client_for(log.users["admin"]).get(reverse("tenant_admin:audit", args=["acme"]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "secret-of-globex" not in html
    table = html.split('id="audit-table"', 1)[1]
    assert table.index("Invited someone") < table.index("Changed a role") < table.index("Signed in")
    assert "(member → admin)" in html
    assert "&quot;http://evil.example&quot;" in html  # escaped, never markup


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "member.role_changed"}, ["member.role_changed"]),
        ({"actor": "bob@"}, ["member.role_changed"]),
        ({"q": "erin"}, ["member.role_changed"]),
        (
            {"since": (timezone.now() - timedelta(days=3)).date().isoformat()},
            ["invitation.created", "member.role_changed"],
        ),
        ({"until": (timezone.now() - timedelta(days=5)).date().isoformat()}, ["auth.sign_in"]),
    ],
)
def test_filters_apply_to_the_page_and_the_csv_alike(log, query, expected):
    client = client_for(log.users["owner"])
    page = client.get(reverse("tenant_admin:audit", args=["acme"]), query)
    shown = [row.split('"')[0] for row in page.content.decode().split('<tr data-action="')[1:]]
    assert shown == expected
    rows = csv_rows(client.get(reverse("tenant_admin:audit_csv", args=["acme"]), query))
    assert [row[2] for row in rows[1:]] == expected


def test_a_start_after_the_end_is_a_clear_error(log):
    page = client_for(log.users["owner"]).get(
        reverse("tenant_admin:audit", args=["acme"]), {"since": "2026-05-02", "until": "2026-05-01"}
    )
    assert page.status_code == 400 and "The start date is after the end date." in page.content.decode()


def test_the_csv_guards_against_formula_injection(log):
    response = client_for(log.users["owner"]).get(reverse("tenant_admin:audit_csv", args=["acme"]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0][:4] == ["when (UTC)", "who", "action", "what"]
    invited = next(row for row in rows if row[2] == "invitation.created")
    assert invited[4] == '\'=HYPERLINK("http://evil.example","click")'
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert all("globex" not in cell for row in rows for cell in row)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("alice@example.com", "alice@example.com"),
        ("", ""),
        (None, ""),
        ("a=b", "a=b"),
    ],
)
def test_csv_cell_safe(value, safe):
    assert csv_cell_safe(value) == safe


def test_the_log_is_paginated(world):
    for number in range(55):
        audit_record(
            organization=world.acme, action="auth.sign_in", actor=world.users["owner"], target=f"visit-{number}"
        )
    client = client_for(world.users["owner"])
    first = client.get(reverse("tenant_admin:audit", args=["acme"]), {"action": "auth.sign_in"}).content.decode()
    assert first.count('<tr data-action="') == 50 and "Page 1 of 2" in first
    assert "action=auth.sign_in&amp;page=2" in first  # the filters travel with the page links
    second = client.get(
        reverse("tenant_admin:audit", args=["acme"]), {"action": "auth.sign_in", "page": 2}
    ).content.decode()
    assert second.count('<tr data-action="') == 5
