"""The spreadsheet writers (portfolio/spreadsheets.py): every figure read back (CSV with the csv module, XLSX with
openpyxl) and compared with counts computed from the sandbox's state; every cell formula-safe."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import openpyxl
import pytest
from django.utils import timezone

from portal.portfolio import spreadsheets
from portal.portfolio.register import threat_register_all
from portal.portfolio.selectors import threat_model_rows
from portal.portfolio.vocabulary import SEVERITIES, severity_label
from tests.dashboard.conftest import open_severities, readable_models, store_filled
from tests.portfolio.register_expect import expected_by_severity, expected_ids, sandbox_threats

LINKS = spreadsheets.Links(
    threat=lambda row: f"https://portal.example/m/{row.model_id}#threat-{row.id}",
    model=lambda model_id: f"https://portal.example/m/{model_id}",
)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'=1"),  # CR is a control character: removed, and what is left still starts with =
        ("\u202e=cmd", "'=cmd"),  # a bidi override hid the formula's start: removed, then neutralised
        ("\x07bell", "bell"),
        ("plain", "plain"),
        ("a = b", "a = b"),
        (3, 3),
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_csv_cells_are_formula_safe(value, written):
    assert spreadsheets.csv_safe(value) == written


def test_xlsx_cells_are_text_never_formulas():
    wb = openpyxl.Workbook()
    for column, value in enumerate(('=HYPERLINK("http://x")', "+1", "@A1", "\x00\x1bx", -3), start=1):
        spreadsheets._put(wb.active, 1, column, value)
    buffer = io.BytesIO()
    wb.save(buffer)
    row = next(openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active.iter_rows())
    assert [c.value for c in row] == ['=HYPERLINK("http://x")', "+1", "@A1", "x", -3]
    assert [c.data_type for c in row] == ["s", "s", "s", "s", "n"]


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
def test_register_workbook_counts_what_the_sandbox_holds(organization, owner, sandbox):
    store_filled(organization, owner)
    register = threat_register_all(organization=organization, user=owner, query={})
    models = threat_model_rows(organization=organization, user=owner)
    generated = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    data = spreadsheets.register_xlsx(
        register,
        models,
        links=LINKS,
        provenance=spreadsheets.Provenance(organization="Acme", read_at=generated, generated_at=generated),
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Threats", "Threat models"]
    expected = expected_ids(sandbox, "alice", now=timezone.now())

    threats = book["Threats"]
    header = [c.value for c in threats[1]]
    rows = [dict(zip(header, r, strict=True)) for r in threats.iter_rows(min_row=2, values_only=True)]
    assert {r["Threat ID"] for r in rows} == expected and len(rows) == len(expected)
    assert threats.freeze_panes == "A2" and threats.auto_filter.ref == f"A1:S{len(rows) + 1}"
    assert threats.column_dimensions["A"].width == 40 and threats.column_dimensions["I"].width == 50
    assert all(r["Link"] == f"https://portal.example/m/{r['Threat model ID']}#threat-{r['Threat ID']}" for r in rows)
    assert all(isinstance(r["Created in TMI (UTC)"], datetime) for r in rows)

    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    by_severity = expected_by_severity(sandbox, "alice", expected)
    for key in SEVERITIES:
        assert summary[severity_label(key)] == by_severity.get(key, 0)
    assert summary["Total"] == summary["Threats listed"] == len(expected)
    assert summary["Organisation"] == "Acme" and summary["Filters"].startswith("None")

    per_model = Counter(tm["id"] for t, tm in sandbox_threats(sandbox, "alice") if t["id"] in expected)
    sheet = book["Threat models"]
    header = [c.value for c in sheet[1]]
    listed = {r[header.index("Threat model ID")]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(listed) == set(per_model) and summary["Threat models they belong to"] == len(per_model)
    for tm_id, row in listed.items():
        assert row[header.index("Threats in this list")] == per_model[tm_id]
        assert row[header.index("Open threats")] == per_model[tm_id]  # the list is every open threat
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref


@pytestmark_db
def test_model_list_spreadsheets_count_what_the_sandbox_holds(organization, owner, sandbox):
    store_filled(organization, owner)
    models = threat_model_rows(organization=organization, user=owner)
    readable = readable_models(sandbox, "alice")
    assert {m.id for m in models} == {tm["id"] for tm in readable}
    text = spreadsheets.threat_models_csv(models, links=LINKS).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the BOM as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["Threat model ID"] for r in rows} == {tm["id"] for tm in readable}
    opened = open_severities(readable)
    assert sum(int(r["Open threats"]) for r in rows) == sum(opened.values())
    for key in SEVERITIES:
        assert sum(int(r[f"Open: {severity_label(key)}"]) for r in rows) == opened.get(key, 0)

    data = spreadsheets.threat_models_xlsx(
        models,
        links=LINKS,
        provenance=spreadsheets.Provenance(organization="Acme", read_at=None, generated_at=timezone.now()),
        filters=[],
    )
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Threat models"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Threat models listed"] == len(readable) and summary["Read from TMI (UTC)"] == "not read yet"
    assert summary["Total"] == sum(opened.values())
    for key in SEVERITIES:
        assert summary[severity_label(key)] == opened.get(key, 0)
    assert book["Threat models"].max_row == len(readable) + 1
