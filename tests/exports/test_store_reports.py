"""Exports read the portfolio store through the visible set of whoever the job is made with (issue 15, sections 2
and 5): the worker makes the store fresh first (the only TMI calls), so two members with different access in TMI
never see each other's models in a PDF, access removed in TMI is gone from the next report, and with TMI stopped
the report is still made from the store and says how fresh it is. Both TMI generations, real sandbox."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.utils import timezone
from pypdf import PdfReader

from portal.exports import tasks
from portal.exports.jobs import export_job_create
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.exports.running import export_job_run
from portal.portfolio.models import StoredThreatModel
from portal.portfolio.sync import portfolio_sync
from portal.tmi import TMIClient, TokenPair
from tests.conftest import member_tokens
from tests.dashboard.conftest import find_model, readable_models

PAYMENTS = "Customer Payments API"  # alice owns it, bob writes (seed)
ALICE_ONLY = ("Partner Webhooks Service", "IoT Telemetry Ingest", "Legacy Mainframe Bridge")  # bob: no access
BOB_ONLY = ("Data Warehouse ETL", "Internal HR Portal", "Kubernetes Platform")  # alice: no access


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TMI_MAX_RETRIES = 0  # TMI stopped is answered at once, not after the client's backoff


@pytest.fixture
def alice(organization, member_factory):
    return member_factory(organization, "alice", role="owner")


@pytest.fixture
def bob(organization, member_factory):
    return member_factory(organization, "bob")


@pytest.fixture
def requeued(monkeypatch) -> list:
    """Countdowns of jobs sent to the queue again, instead of to a broker (a first send is dropped)."""
    sent: list = []
    monkeypatch.setattr(tasks.export_job_run_task, "delay", lambda job_id: None)
    monkeypatch.setattr(
        tasks.export_job_run_task, "apply_async", lambda args, countdown=None, **kwargs: sent.append(countdown)
    )
    return sent


def export(organization, user, tm_name: str | None = None, *, sandbox=None, q: str = "") -> ExportJob:
    """One export made with `user`'s access, run to its end as the worker runs it: of one model, or (no
    `tm_name`) of the portfolio, of the models whose names hold `q` (PDF layout is the slow part: small ones)."""
    if tm_name is None:
        job = export_job_create(
            organization=organization, actor=user, kind=ExportKind.PORTFOLIO, filters={"q": q} if q else None
        )
    else:
        job = export_job_create(
            organization=organization,
            actor=user,
            kind=ExportKind.THREAT_MODEL,
            threat_model_id=find_model(sandbox, tm_name)["id"],
        )
    export_job_run(job.pk)
    job.refresh_from_db()
    return job


def squeezed_text(job: ExportJob) -> str:
    """The PDF's text without any whitespace: a name a table cell wrapped still reads whole."""
    data = Path(job.file.path).read_bytes()
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return "".join(text.split())


def squeeze(words: str) -> str:
    return "".join(words.split())


def names_in(text: str, names) -> set[str]:
    return {name for name in names if squeeze(name) in text}


def not_listed_words(person: str) -> str:
    return (
        f"TMI does not list this threat model for the TMI access of {person}: it may have been deleted, or that "
        "access does not reach it."
    )


def test_two_members_never_see_each_others_models_in_a_pdf(sandbox, organization, alice, bob):
    every = {tm["name"] for tm in sandbox.state.threat_models.values()}
    alice_sees = {tm["name"] for tm in readable_models(sandbox, "alice")}
    bob_sees = {tm["name"] for tm in readable_models(sandbox, "bob")}
    assert set(ALICE_ONLY) <= alice_sees - bob_sees and set(BOB_ONLY) <= bob_sees - alice_sees

    bobs = export(organization, bob)  # first: the store then holds bob's models, content and all
    alices = export(organization, alice)

    assert bobs.status == alices.status == ExportStatus.SUCCEEDED, (bobs.error, alices.error)
    stored = set(StoredThreatModel.objects.filter(content_synced_at__isnull=False).values_list("name", flat=True))
    assert set(BOB_ONLY) | set(ALICE_ONLY) <= stored  # one store for both: only the visible sets keep them apart
    assert names_in(squeezed_text(alices), every) == alice_sees
    assert names_in(squeezed_text(bobs), every) == bob_sees

    for user, person, name in ((alice, "alice@example.com", BOB_ONLY[-1]), (bob, "bob@example.com", ALICE_ONLY[0])):
        job = export(organization, user, name, sandbox=sandbox)
        assert job.status == ExportStatus.FAILED and not job.file, name
        assert job.error == not_listed_words(person)


def test_access_removed_in_tmi_disappears_from_the_next_report(sandbox, organization, alice, bob):
    tm_id = find_model(sandbox, PAYMENTS)["id"]
    before = export(organization, bob, q="Customer")  # Customer Payments API and Customer Support Chatbot
    assert names_in(squeezed_text(before), (PAYMENTS, "Customer Support Chatbot")) == {
        PAYMENTS,
        "Customer Support Chatbot",
    }

    # The owner takes bob off the model, in TMI itself (its API, as alice).
    with TMIClient(sandbox.base_url, auth=TokenPair(**member_tokens(sandbox.base_url, "alice")), timeout=10) as tmi:
        model = tmi.threat_models.get(tm_id)
        acl = [
            e
            for e in sandbox.state.threat_models[tm_id]["authorization"]
            if e.get("provider_id") not in ("bob", "bob@test.tmi")
        ]
        tmi.threat_models.update(
            tm_id, name=model.name, threat_model_framework="STRIDE", authorization=acl, description=model.description
        )
    assert PAYMENTS not in {tm["name"] for tm in readable_models(sandbox, "bob")}

    after = export(organization, bob, q="Customer")
    assert after.status == ExportStatus.SUCCEEDED
    assert names_in(squeezed_text(after), (PAYMENTS, "Customer Support Chatbot")) == {"Customer Support Chatbot"}
    single = export(organization, bob, PAYMENTS, sandbox=sandbox)
    assert single.status == ExportStatus.FAILED and single.error == not_listed_words("bob@example.com")
    assert not single.file
    # Still alice's: her next export reads it again with her access.
    assert export(organization, alice, PAYMENTS, sandbox=sandbox).status == ExportStatus.SUCCEEDED


def test_with_tmi_stopped_after_a_first_sync_the_pdf_is_made_from_the_store(
    sandbox, organization, alice, member_factory, requeued, django_capture_on_commit_callbacks
):
    portfolio_sync(organization, members={alice.pk})
    synced = timezone.now()
    carol = member_factory(organization, "carol")  # signed in after it: the store holds nothing for her yet
    sandbox.stop()

    with django_capture_on_commit_callbacks(execute=True):  # what a job sends after commit is sent
        single = export(organization, alice, PAYMENTS, sandbox=sandbox)
        portfolio = export(organization, alice, q="Customer")

    for job in (single, portfolio):
        assert job.status == ExportStatus.SUCCEEDED and job.attempts == 1, job.error
        text = squeezed_text(job)
        assert squeeze(f"Data read from TMI {synced.day} {synced:%B %Y}") in text  # the cover says when
        assert squeeze("Data read from TMI at") in text  # and every page's footer
        assert squeeze("TMI did not answer when this report was made") in text
    assert squeeze(PAYMENTS) in squeezed_text(single)
    assert names_in(squeezed_text(portfolio), {tm["name"] for tm in sandbox.state.threat_models.values()}) == {
        tm["name"] for tm in readable_models(sandbox, "alice") if "Customer" in tm["name"]
    }
    assert requeued == []  # made at once: nothing waits for TMI

    with django_capture_on_commit_callbacks(execute=True):  # nothing to fall back on: it waits for TMI, as before
        waiting = export(organization, carol, q="Customer")
    assert waiting.status == ExportStatus.QUEUED and not waiting.file
    assert len(requeued) == 1 and requeued[0] > 0
    assert waiting.progress_label.startswith("TMI is busy; trying again in")


@pytest.mark.parametrize("generation", ["1.8"])
def test_progress_says_what_the_export_is_doing(sandbox, organization, alice, monkeypatch):
    """Reading TMI, then the store, then laying out: the labels the job page shows, in order, percent rising."""
    from portal.exports import running

    seen: list[tuple[int, str]] = []
    update = running._job_update

    def recording(job, **fields):
        if "progress_label" in fields:
            seen.append((fields.get("progress", job.progress), fields["progress_label"]))
        return update(job, **fields)

    monkeypatch.setattr(running, "PROGRESS_WRITE_SECONDS", 0.0)
    monkeypatch.setattr(running, "_job_update", recording)
    job = export(organization, alice, q="Customer")
    assert job.status == ExportStatus.SUCCEEDED, job.error
    labels = [label for _, label in seen]
    reading = labels.index("Reading from TMI")
    assert any(label.startswith("Reading threat model 1 of ") for label in labels[reading:])
    assert labels.index("Reading the threat models") > reading  # the store
    assert labels.index("Laying out the pages") > labels.index("Reading the threat models")
    assert labels[-1] == "Ready"
    percents = [percent for percent, _ in seen]
    assert percents == sorted(percents)
