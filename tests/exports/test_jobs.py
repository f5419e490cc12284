"""Export jobs end to end: a real worker, the sandbox, the PDF on disk, the pages around it."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pypdfium2
import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from portal.audit.models import AuditEvent
from portal.exports.jobs import export_files_expire, export_job_create
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.exports.running import export_filters_description, export_job_run
from portal.sandbox.seed import sid
from tests.exports.conftest import wait_for
from tests.sandbox.helpers import add_fault

PAYMENTS = "Customer Payments API"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.timeout(300)
def test_a_real_worker_exports_a_threat_model_to_a_pdf(
    organization, member_factory, workers, django_capture_on_commit_callbacks
):
    alice = member_factory(organization, "alice", role="owner")
    workers.start()
    job = export_job_create(
        organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=sid("tm", PAYMENTS)
    )

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=120, what="the export to finish")
    assert job.status == ExportStatus.SUCCEEDED, (job.error, workers.logs())
    assert job.progress == 100 and job.attempts == 1
    path = Path(job.file.path)
    assert path.is_file() and path.parent.name == "acme" and path.parent.parent.name == "exports"
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and job.size == len(data)
    assert PAYMENTS in pdf_text(data)
    # It renders to images, page by page.
    document = pypdfium2.PdfDocument(data)
    image = document[0].render(scale=0.5).to_pil()
    low, high = image.convert("L").getextrema()
    assert image.width > 100 and low < high  # not a blank page
    assert job.expires_at - job.finished_at == timedelta(days=7)
    assert AuditEvent.objects.filter(organization=organization, action="export.succeeded").count() == 1
    assert not list(path.parent.glob(".*.part"))


@pytest.mark.parametrize("generation", ["1.8"])
def test_transient_tmi_errors_are_retried(
    organization, member_factory, settings, tmp_path, sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    """Each transient failure queues the job again (tests/exports/test_running.py has the countdowns); the
    runs those messages make end in the PDF."""
    from portal.exports import tasks

    settings.MEDIA_ROOT = tmp_path
    settings.TMI_MAX_RETRIES = 0  # the client's own retries off, so the job's retries are what is tested
    monkeypatch.setattr(tasks.export_job_run_task, "apply_async", lambda *args, **kwargs: None)
    alice = member_factory(organization, "alice", role="owner")
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{sid('tm', PAYMENTS)}", status=503, retry_after=0, times=2)
    job = export_job_create(
        organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=sid("tm", PAYMENTS)
    )
    assert [export_job_run(job.pk).action for _ in range(3)] == ["queued", "queued", "done"]
    job.refresh_from_db()
    assert job.status == ExportStatus.SUCCEEDED and job.attempts == 3


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_lasting_outage_fails_with_a_reason_in_words(organization, member_factory, settings, tmp_path, sandbox):
    settings.MEDIA_ROOT = tmp_path
    settings.EXPORT_MAX_ATTEMPTS = 2
    settings.TMI_MAX_RETRIES = 0
    alice = member_factory(organization, "alice", role="owner")
    add_fault(sandbox.base_url, path_prefix="/threat_models", status=502)
    job = export_job_create(
        organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=sid("tm", PAYMENTS)
    )
    assert [export_job_run(job.pk).action for _ in range(2)] == ["queued", "failed"]
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "try again later" in job.error
    assert not job.file and not list(Path(tmp_path).rglob("*.pdf"))


def test_no_access_in_tmi_fails_with_a_reason_in_words(organization, member_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    dave = member_factory(organization, "dave")  # no access to the payments model
    job = export_job_create(
        organization=organization, actor=dave, kind=ExportKind.THREAT_MODEL, threat_model_id=sid("tm", PAYMENTS)
    )
    assert export_job_run(job.pk).action == "failed"
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED
    # TMI's list for dave (read again by the export) does not hold it: refused before any model is read.
    assert job.error == (
        "TMI does not list this threat model for the TMI access of dave@example.com: it may have been deleted, "
        "or that access does not reach it."
    )
    assert AuditEvent.objects.filter(action="export.failed", organization=organization).exists()


@pytest.mark.parametrize("generation", ["1.8"])
def test_signed_out_member_is_told_to_sign_in_again(organization, member_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    alice = member_factory(organization, "alice")
    alice.tmi_connections.update(needs_sign_in=True)
    job = export_job_create(organization=organization, actor=alice, kind=ExportKind.PORTFOLIO)
    export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "sign in" in job.error


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_finished_job_is_not_run_again(organization, member_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    alice = member_factory(organization, "alice")
    job = export_job_create(
        organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=sid("tm", PAYMENTS)
    )
    assert export_job_run(job.pk).action == "done"
    assert export_job_run(job.pk).action == "skipped"
    job.refresh_from_db()
    assert job.attempts == 1 and len(list(Path(tmp_path).rglob("*.pdf"))) == 1


# -- pages -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("generation", ["1.8"])
def test_pages_create_show_and_download_for_members_only(
    client, organization, other_organization, member_factory, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    alice = member_factory(organization, "alice")
    carol = member_factory(other_organization, "carol")
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False):  # no worker here: the test runs the job itself
        response = client.post(
            reverse("exports:create", args=["acme"]), {"kind": "threat_model", "threat_model_id": sid("tm", PAYMENTS)}
        )
    job = ExportJob.objects.get(organization=organization)
    assert response.status_code == 302 and response["Location"] == reverse("exports:job", args=["acme", job.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"progress.js" in page.content and b"<script>" not in page.content
    assert client.get(reverse("exports:status", args=["acme", job.pk])).json()["status"] == "queued"

    export_job_run(job.pk)
    status = client.get(reverse("exports:status", args=["acme", job.pk])).json()
    assert status["status"] == "succeeded" and status["progress"] == 100
    download = client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    job.refresh_from_db()
    assert client.get(f"/media/{job.file.name}").status_code == 404  # never a public media URL
    listing = client.get(reverse("exports:list", args=["acme"]))
    assert listing.status_code == 200 and status["download_url"].encode() in listing.content

    client.force_login(carol)  # a member of another organisation
    for name in ("job", "status", "download"):
        assert client.get(reverse(f"exports:{name}", args=["acme", job.pk])).status_code == 404
        assert client.get(reverse(f"exports:{name}", args=["globex", job.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("exports:download", args=["acme", job.pk])).status_code == 302  # to sign-in


@pytest.mark.parametrize("generation", ["1.8"])
def test_files_expire_and_the_download_says_so(client, organization, member_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    alice = member_factory(organization, "alice")
    job = export_job_create(
        organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=sid("tm", PAYMENTS)
    )
    export_job_run(job.pk)
    job.refresh_from_db()
    path = Path(job.file.path)
    assert export_files_expire() == 0 and path.exists()
    assert export_files_expire(now=timezone.now() + timedelta(days=8)) == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and not path.exists()
    client.force_login(alice)
    response = client.get(reverse("exports:download", args=["acme", job.pk]))
    assert response.status_code == 410 and b"This export has expired" in response.content


@pytest.mark.parametrize("generation", ["1.8"])
def test_bad_input_gets_a_clear_error(client, organization, member_factory):
    alice = member_factory(organization, "alice")
    client.force_login(alice)
    response = client.post(reverse("exports:create", args=["acme"]), {"kind": "threat_model"}, follow=True)
    assert b"Choose the threat model to export." in response.content
    response = client.post(reverse("exports:create", args=["acme"]), {"kind": "everything"}, follow=True)
    assert b"Choose what to export" in response.content
    assert not ExportJob.objects.exists()
    assert client.get(reverse("exports:create", args=["acme"])).status_code == 405


@pytest.mark.django_db(transaction=True)  # async views use the database from other threads
@pytest.mark.parametrize("generation", ["1.8"])
def test_dashboard_pages_offer_an_export_button(client, organization, member_factory):
    alice = member_factory(organization, "alice")
    cache.clear()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")  # async views need aget_user
    action = reverse("exports:create", args=["acme"]).encode()
    for url in (
        reverse("dashboard:portfolio", args=["acme"]),
        reverse("dashboard:threat_model", args=["acme", sid("tm", PAYMENTS)]),
    ):
        content = client.get(url).content
        assert action in content and b"Export PDF" in content and b"csrfmiddlewaretoken" in content


def test_the_exports_page_starts_a_portfolio_export_even_before_the_first(
    client, organization, member_factory, django_capture_on_commit_callbacks
):
    client.force_login(member_factory(organization, "alice"))
    page = client.get(reverse("exports:list", args=["acme"])).content.decode()
    assert "No exports yet." in page
    create = reverse("exports:create", args=["acme"])
    form = re.search(rf'<form method="post" action="({re.escape(create)})"[^>]*>(.*?)</form>', page, re.S)
    assert form, page
    assert 'name="kind" value="portfolio"' in form[2] and "Export all threat models as PDF" in form[2]

    with django_capture_on_commit_callbacks(execute=False):  # no worker here: the job stays queued
        response = client.post(form[1], {"kind": "portfolio"})
    job = ExportJob.objects.get(organization=organization)
    assert (job.kind, job.status) == (ExportKind.PORTFOLIO, ExportStatus.QUEUED)
    assert response["Location"] == reverse("exports:job", args=["acme", job.pk])


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_broker_outage_fails_the_job_in_words(
    organization, member_factory, monkeypatch, django_capture_on_commit_callbacks
):
    from portal.exports import tasks

    def unreachable(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.export_job_run_task, "delay", unreachable)
    alice = member_factory(organization, "alice")
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_create(organization=organization, actor=alice, kind=ExportKind.PORTFOLIO)
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "try again" in job.error


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_member_sees_only_their_own_exports_and_the_scheduled_runs_they_receive(client, organization, member_factory):
    """A report holds what its requester could read in TMI; another member may not be allowed to see it."""
    from datetime import time

    from portal.exports.models import ExportSchedule

    alice = member_factory(organization, "alice", role="owner")
    bob = member_factory(organization, "bob", role="member")
    dave = member_factory(organization, "dave", role="member")
    mine = ExportJob.objects.create(organization=organization, kind=ExportKind.THREAT_MODEL, requested_by=bob)
    alices = ExportJob.objects.create(organization=organization, kind=ExportKind.THREAT_MODEL, requested_by=alice)
    schedule = ExportSchedule.objects.create(
        organization=organization, name="Weekly", time_of_day=time(8), owner=alice, recipients=["Bob@example.com"]
    )
    # As export_schedule_run makes it: with alice's access, for the schedule's recipients.
    received = ExportJob.objects.create(
        organization=organization, kind=ExportKind.PORTFOLIO, schedule=schedule, from_schedule=True, made_with=alice
    )
    received.shared_with.set([bob])

    def visible(user) -> set[int]:
        client.force_login(user)
        seen = {
            job.pk
            for job in (mine, alices, received)
            if client.get(reverse("exports:job", args=["acme", job.pk])).status_code == 200
        }
        listed = {job.pk for job in client.get(reverse("exports:list", args=["acme"])).context["jobs"]}
        assert listed == seen
        for job in (mine, alices, received):
            if job.pk not in seen:
                for name in ("status", "download"):
                    assert client.get(reverse(f"exports:{name}", args=["acme", job.pk])).status_code == 404
        return seen

    assert visible(bob) == {mine.pk, received.pk}
    assert visible(dave) == set()
    # An owner does not see bob's manual export: it holds what bob can read in TMI. The run is hers.
    assert visible(alice) == {alices.pk, received.pk}


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_portfolio_pdf_says_what_it_holds_in_one_sentence(organization, owner, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    filters = {"q": "Customer Payments"}  # one model: a short PDF
    job = export_job_create(organization=organization, actor=owner, kind=ExportKind.PORTFOLIO, filters=filters)
    assert export_job_run(job.pk).action == "done"
    job.refresh_from_db()
    text = " ".join(pdf_text(Path(job.file.path).read_bytes()).split())
    assert "Selection: Threat models with names containing “Customer Payments”." in text
    assert ".." not in text


def test_without_filters_the_selection_is_every_model_in_one_phrase():
    """The report puts the phrase in a table cell and in a sentence of its own, which adds the full stop."""
    assert export_filters_description(None) == "All threat models you can see in TMI"
    assert export_filters_description({"status": "Open"}) == "Threat models with status “Open”"
