"""A schedule may attach the threat register as a spreadsheet beside its PDF: made in the worker's run from the same
store, through the visible set of the person the schedule runs as, for the same threat models as the PDF. Both
TMI generations, real sandbox; the expected rows come from the sandbox's state."""

from __future__ import annotations

import csv
import io
from datetime import time, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from portal.exports.forms import ExportScheduleForm
from portal.exports.jobs import export_files_expire
from portal.exports.models import Attachment, ExportStatus
from portal.exports.running import export_job_run
from portal.exports.schedules import export_schedule_create, export_schedule_run_now
from portal.sandbox.seed import sid
from tests.dashboard.conftest import readable_models, sign_in
from tests.portfolio.register_expect import expected_ids

pytestmark = pytest.mark.django_db(transaction=True)

DAILY = {
    "frequency": "daily",
    "time_of_day": time(6, 0),
    "timezone": "UTC",
    "recipients": ["bob@example.com"],
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _run(schedule, actor):
    job = export_schedule_run_now(schedule=schedule, actor=actor)
    mail.outbox.clear()
    assert export_job_run(job.pk).action == "done"
    job.refresh_from_db()
    assert job.status == ExportStatus.SUCCEEDED, job.error
    [message] = mail.outbox
    return job, {name: (content, mimetype) for name, content, mimetype in message.attachments}


def test_one_models_schedule_attaches_its_open_threats_as_excel(client, organization, owner, admin, member, sandbox):
    payments = sid("tm", "Customer Payments API")
    schedule = export_schedule_create(
        organization=organization,
        actor=owner,
        name="Payments, with the register",
        kind="threat_model",
        threat_model_id=payments,
        attachment=Attachment.PDF_XLSX,
        **DAILY,
    )
    job, attached = _run(schedule, admin)
    today = f"{timezone.localdate():%Y-%m-%d}"
    assert set(attached) == {job.file_name, f"acme-threats-{today}.xlsx"}
    content, mimetype = attached[f"acme-threats-{today}.xlsx"]
    assert mimetype.endswith("spreadsheetml.sheet") and attached[job.file_name][1] == "application/pdf"
    book = openpyxl.load_workbook(io.BytesIO(content))
    header = [c.value for c in book["Threats"][1]]
    ids = {row[header.index("Threat ID")] for row in book["Threats"].iter_rows(min_row=2, values_only=True)}
    expected = expected_ids(sandbox, "alice", now=timezone.now(), models=(payments,))
    assert ids == expected and expected
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Threats listed"] == len(expected) and "Customer Payments API" in summary["Filters"]
    assert Path(job.spreadsheet_file.path).read_bytes() == content
    # The recipient also finds it on the run's page (a file over the attachment limit is only there).
    sign_in(client, member)
    page = client.get(reverse("exports:job", args=["acme", job.pk])).content.decode()
    link = reverse("exports:download_spreadsheet", args=["acme", job.pk])
    assert f'href="{link}">Download the threat register (Excel)</a>' in page
    response = client.get(link)
    assert response.status_code == 200 and b"".join(response.streaming_content) == content
    assert response["Content-Disposition"] == f'attachment; filename="acme-threats-{today}.xlsx"'
    sign_in(client, admin)  # not a recipient: the file holds what alice's access reads
    assert client.get(link).status_code == 404

    # The spreadsheet expires with the PDF.
    assert export_files_expire(now=timezone.now() + timedelta(days=365)) == 1
    assert not Path(job.spreadsheet_file.path).exists()


def test_a_filtered_schedule_attaches_the_csv_of_what_its_person_can_see(organization, owner, admin, member, sandbox):
    """Saved by carol (an admin): her access, not alice's nor the recipient's, decides what the file holds."""
    schedule = export_schedule_create(
        organization=organization,
        actor=admin,
        name="Identity, as CSV",
        kind="filter",
        filters={"q": "identity"},
        attachment=Attachment.PDF_CSV,
        **DAILY,
    )
    job, attached = _run(schedule, owner)
    [name] = [n for n in attached if n.endswith(".csv")]
    content, mimetype = attached[name]
    assert mimetype == "text/csv" and content.startswith("\ufeff")  # Django hands text attachments over as str
    rows = list(csv.DictReader(io.StringIO(content.lstrip("\ufeff"))))
    models = tuple(tm["id"] for tm in readable_models(sandbox, "carol") if "identity" in tm["name"].lower())
    assert models  # carol owns the Identity and SSO Gateway
    expected = expected_ids(sandbox, "carol", now=timezone.now(), models=models)
    assert {r["Threat ID"] for r in rows} == expected and len(rows) == len(expected)


def test_the_pdf_alone_stays_the_default_and_the_form_offers_the_choice(organization, owner, admin, member):
    data = {
        "name": "Weekly",
        "kind": "portfolio",
        "frequency": "daily",
        "time_of_day": "06:00",
        "timezone": "UTC",
        "run_as": "owner",
        "recipients_text": "bob@example.com",
    }
    form = ExportScheduleForm(data, organization=organization, actor=owner)
    assert form.is_valid(), form.errors
    assert form.schedule_fields()["attachment"] == Attachment.PDF
    form = ExportScheduleForm({**data, "attachment": "pdf_xlsx"}, organization=organization, actor=owner)
    assert form.is_valid(), form.errors
    schedule = export_schedule_create(organization=organization, actor=owner, **form.schedule_fields())
    assert schedule.attachment == "pdf_xlsx"
    bad = ExportScheduleForm({**data, "attachment": "zip"}, organization=organization, actor=owner)
    assert not bad.is_valid() and "attachment" in bad.errors
    assert 'value="pdf_csv"' in str(ExportScheduleForm(organization=organization, actor=owner)["attachment"])
