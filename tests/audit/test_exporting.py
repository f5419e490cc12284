"""The audit log's CSV: every cell quoted, and formula starts neutralised even when hidden behind a
leading separator (`;`, `|`) or whitespace, which some spreadsheets skip before reading a formula."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from portal.audit.exporting import csv_cell_safe
from portal.organizations.models import Organization
from tests.tenant_admin.conftest import client_for

pytestmark = pytest.mark.django_db

HIDDEN_FORMULAS = [
    (" =cmd|' /C calc'!A0", "' =cmd|' /C calc'!A0"),
    ("  +1", "'  +1"),
    (";=x", "';=x"),
    ("|=x", "'|=x"),
    ("; ;-2", "'; ;-2"),
    ("\n@SUM(A1)", "'\n@SUM(A1)"),
    ("\u00a0=1+1", "'\u00a0=1+1"),  # a no-break space is whitespace too
    ("\r=1", "'\r=1"),
    ("\t", "'\t"),
]
HARMLESS = [
    ("a;=b", "a;=b"),
    ("x|y", "x|y"),
    ("  plain", "  plain"),
    (";;", ";;"),
    ("alice@example.com", "alice@example.com"),
]


@pytest.mark.parametrize(("value", "safe"), HIDDEN_FORMULAS + HARMLESS)
def test_formula_starts_are_neutralised_also_after_separators_and_whitespace(value, safe):
    assert csv_cell_safe(value) == safe


def csv_download(client, slug="acme") -> bytes:
    response = client.get(reverse("tenant_admin:audit_csv", args=[slug]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("name", [value for value, _ in HIDDEN_FORMULAS if value.strip(" \t\r\n\u00a0")])
def test_a_hidden_formula_typed_as_the_organisation_name_reaches_the_csv_defused(world, name):
    """The attack: an admin renames the organisation to a formula behind a separator; the owner downloads
    the activity log and opens it in a spreadsheet."""
    admin = client_for(world.users["admin"])
    done = admin.post(reverse("tenant_admin:branding", args=["acme"]), {"name": name, "brand_colour": "#123456"})
    assert done.status_code == 302, done.content.decode()[:500]
    stored = Organization.objects.get(pk=world.acme.pk).name
    rows = list(csv.reader(io.StringIO(csv_download(client_for(world.users["owner"])).decode())))
    branding = next(row for row in rows if row[2] == "organization.branding_changed")
    assert branding[4] == "'" + stored
    for row in rows:
        for cell in row:
            hidden = cell.lstrip(" \t\r\n\u00a0;|")
            assert cell.startswith("'") or not hidden.startswith(("=", "+", "-", "@")), (row, cell)


def test_every_cell_is_quoted(world):
    admin = client_for(world.users["admin"])
    admin.post(reverse("tenant_admin:branding", args=["acme"]), {"name": "Acme 2", "brand_colour": "#123456"})
    text = csv_download(client_for(world.users["owner"])).decode()
    lines = text.splitlines()
    assert len(lines) >= 2
    for line in lines:
        cells = next(csv.reader([line]))
        # QUOTE_ALL: the line is exactly its cells, each in double quotes (inner quotes doubled).
        assert line == ",".join('"' + cell.replace('"', '""') + '"' for cell in cells), line
