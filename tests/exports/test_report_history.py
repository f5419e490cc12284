"""The portfolio PDF's "what changed" and trends (issue 16, sections 4 and 7): made by the worker's code from the
store, after changes made in TMI itself (the sandbox's REST API, both generations). The PDF's text is read back and
its numbers compared with what the test did and with the sandbox's state.

- On demand: "What changed in the last 7 days", only the report's models.
- Scheduled: the first report of a schedule says it is the first; the next opens with "Since the last report": the
  changes after the previous run."""

from __future__ import annotations

import io
import re
from datetime import time
from pathlib import Path

import pytest
from django.utils import timezone
from pypdf import PdfReader

from portal.exports.jobs import export_job_create
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.exports.running import export_job_run
from portal.exports.schedules import export_schedule_create, export_schedule_run_now
from portal.portfolio.vocabulary import SEVERITIES, severity_key, severity_label
from portal.tmi import TMIClient, TokenPair
from tests.conftest import member_tokens
from tests.dashboard.conftest import find_model, open_severities
from tests.portfolio.tmi_changes import open_threats_of

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # alice owns it (seed); the reports select it by name
OTHER = "Partner Webhooks Service"  # alice's too, outside the selection


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def tmi(sandbox):
    client = TMIClient(sandbox.base_url, auth=TokenPair(**member_tokens(sandbox.base_url, "alice")), timeout=10)
    yield client
    client.close()


def _text(job: ExportJob) -> str:
    assert job.status == ExportStatus.SUCCEEDED, job.error
    data = Path(job.file.path).read_bytes()
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _run(job: ExportJob) -> str:
    export_job_run(job.pk)
    job.refresh_from_db()
    return _text(job)


def _on_demand(organization, user) -> str:
    job = export_job_create(organization=organization, actor=user, kind=ExportKind.PORTFOLIO, filters={"q": PAYMENTS})
    return _run(job)


def _change_payments(sandbox, tmi) -> dict:
    """In the selected model: a new critical threat, one open threat mitigated, one raised to critical; in a model
    outside the selection, a new threat. Returns the names, as the report should list them."""
    payments, other = find_model(sandbox, PAYMENTS), find_model(sandbox, OTHER)
    new = tmi.threats.create(payments["id"], name="Leaked signing key", threat_type=["Spoofing"], severity="critical")
    open_now = [t for t in open_threats_of(payments) if t["id"] != new.id]
    closed = open_now[0]
    tmi.threats.patch(payments["id"], closed["id"], [{"op": "replace", "path": "/mitigated", "value": True}])
    raised = next(t for t in open_now[1:] if severity_key(t.get("severity")) != "critical")
    tmi.threats.patch(payments["id"], raised["id"], [{"op": "replace", "path": "/severity", "value": "critical"}])
    tmi.threats.create(other["id"], name="Forged webhook", threat_type=["Spoofing"], severity="high")
    return {
        "new": "Leaked signing key",
        "closed": closed["name"],
        "raised": raised["name"],
        "outside": "Forged webhook",
    }


def _says_the_changes(text: str, names: dict) -> None:
    squeezed = _squeezed(text)
    assert "Newthreats(byseveritynow:Critical1)1" in squeezed
    assert "Threatsclosedormitigated1" in squeezed and "Severitiesraised1" in squeezed
    assert "Severitieslowered0" in squeezed and "Threatmodelswhosereviewstatuschanged0" in squeezed
    assert "3changesinthethreatmodelsofthisreport." in squeezed
    for key in ("new", "closed", "raised"):
        assert _squeezed(names[key]) in squeezed, key
    assert _squeezed(names["outside"]) not in squeezed  # another model than the report's


def test_an_on_demand_portfolio_report_says_what_changed_in_the_last_7_days(organization, owner, sandbox, tmi):
    first = _on_demand(organization, owner)  # the first read of the store: its baseline
    assert "What changed in the last 7 days" in first
    assert "0changesinthethreatmodelsofthisreport." in _squeezed(first)
    names = _change_payments(sandbox, tmi)
    text = _on_demand(organization, owner)
    assert "What changed in the last 7 days" in text and "Since the last report" not in text
    _says_the_changes(text, names)
    # The trends: today's row of open threats by severity is what TMI holds for the selected model.
    assert "Trends of the last 90 days" in text
    open_now = open_severities([find_model(sandbox, PAYMENTS)])
    today = timezone.localdate()
    row = re.search(rf"{today.day} {today:%b %Y}((?: \d+)+)", text)
    assert row, "today's row"
    labels = {str(severity_label(k)).upper(): k for k in SEVERITIES}  # the table's header is in capitals
    header = re.search(r"DAY((?: (?:" + "|".join(labels) + "))+)", text)
    assert header
    columns = [labels[name] for name in re.findall("|".join(labels), header.group(1))]
    numbers = [int(n) for n in row.group(1).split()]
    assert dict(zip(columns, numbers, strict=True)) == {k: open_now.get(k, 0) for k in columns}
    assert sum(numbers) == sum(open_now.values())


SCHEDULE = {
    "name": "Weekly payments portfolio",
    "kind": "filter",  # a portfolio report of the models matching the filter
    "filters": {"q": PAYMENTS},
    "frequency": "weekly",
    "time_of_day": time(7, 30),
    "weekday": 0,
    "timezone": "UTC",
    "recipients": [],
}


def test_a_scheduled_report_opens_with_what_changed_since_the_last_report(organization, owner, sandbox, tmi):
    schedule = export_schedule_create(organization=organization, actor=owner, **SCHEDULE)
    first = _run(export_schedule_run_now(schedule=schedule, actor=owner))
    assert "Since the last report" in first
    assert "This is the first report of this schedule" in " ".join(first.split())
    names = _change_payments(sandbox, tmi)
    second = _run(export_schedule_run_now(schedule=schedule, actor=owner))
    squeezed = _squeezed(second)
    assert "Since the last report" in second and "Thisisthefirstreportofthisschedule" not in squeezed
    assert "Changes TMI dates after the last report of this schedule was made" in " ".join(second.split())
    assert squeezed.index("Sincethelastreport") < squeezed.index("Contents")  # it opens the report
    _says_the_changes(second, names)
    third = _run(export_schedule_run_now(schedule=schedule, actor=owner))
    assert "0changesinthethreatmodelsofthisreport." in _squeezed(third)  # nothing since the second


def test_a_scheduled_report_of_one_threat_model_opens_with_since_the_last_report(organization, owner, sandbox, tmi):
    schedule = export_schedule_create(
        organization=organization,
        actor=owner,
        **{**SCHEDULE, "kind": "threat_model", "filters": {}, "threat_model_id": find_model(sandbox, PAYMENTS)["id"]},
    )
    first = _run(export_schedule_run_now(schedule=schedule, actor=owner))
    assert "This is the first report of this schedule" in " ".join(first.split())
    names = _change_payments(sandbox, tmi)
    second = _run(export_schedule_run_now(schedule=schedule, actor=owner))
    assert "Since the last report" in second and "Trends of the last" not in second  # trends: the portfolio's
    _says_the_changes(second, names)
    on_demand = export_job_create(
        organization=organization,
        actor=owner,
        kind=ExportKind.THREAT_MODEL,
        threat_model_id=find_model(sandbox, PAYMENTS)["id"],
    )
    assert "Since the last report" not in _run(on_demand)  # a report of one model on demand: as before
