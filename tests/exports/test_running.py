"""Transient TMI trouble re-queues an export with Celery's countdown instead of keeping the worker asleep
(portal/exports/running.py), against the sandbox's injected faults in both TMI generations. Nothing here
waits for a countdown: what was scheduled is recorded, and the next run is made by calling it."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from portal.exports import tasks
from portal.exports.jobs import export_job_create, export_jobs_requeue_lost
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.exports.running import export_job_run
from portal.sandbox.seed import sid
from tests.exports.conftest import wait_for
from tests.sandbox.helpers import add_fault

PAYMENTS = sid("tm", "Customer Payments API")


class Scheduled(list):
    """(job id, countdown) for every message sent for an export: None for "now"."""

    def countdowns(self, job_id: int) -> list[float | None]:
        return [countdown for sent, countdown in self if sent == job_id]


@pytest.fixture
def scheduled(monkeypatch) -> Scheduled:
    sent = Scheduled()
    monkeypatch.setattr(tasks.export_job_run_task, "delay", lambda job_id: sent.append((job_id, None)))
    monkeypatch.setattr(
        tasks.export_job_run_task,
        "apply_async",
        lambda args, countdown=None, **kwargs: sent.append((args[0], countdown)),
    )
    return sent


@pytest.fixture
def alice(organization, member_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.TMI_MAX_RETRIES = 0  # the client's own retries off: the job's re-queue is what is tested
    return member_factory(organization, "alice", role="owner")


def make_job(organization, alice, capture) -> ExportJob:
    with capture(execute=True):
        return export_job_create(
            organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=PAYMENTS
        )


def run(job_id: int, capture):
    """One run, as the worker makes it; messages it sends after commit are recorded."""
    with capture(execute=True):
        return export_job_run(job_id)


def test_tmi_busy_queues_the_job_again_with_its_retry_after_and_frees_the_worker(
    organization, alice, sandbox, scheduled, settings, django_capture_on_commit_callbacks
):
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{PAYMENTS}", status=503, retry_after=7, times=1)
    job = make_job(organization, alice, django_capture_on_commit_callbacks)
    assert scheduled.countdowns(job.pk) == [None]
    started = time.monotonic()
    outcome = run(job.pk, django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 5  # it did not sleep for TMI's 7 seconds
    assert (outcome.action, outcome.countdown) == ("queued", 7.0)
    assert scheduled.countdowns(job.pk) == [None, 7.0]
    job.refresh_from_db()
    assert job.status == ExportStatus.QUEUED and job.attempts == 1 and job.claim == "" and not job.error
    assert job.progress_label == "TMI is busy; trying again in 7 seconds"
    # The reaper counts it lost only EXPORT_QUEUED_LOST_SECONDS after it is due, not after it was queued.
    due = job.heartbeat_at
    assert timedelta(seconds=6) < due - timezone.now() <= timedelta(seconds=7)
    lost = timedelta(seconds=settings.EXPORT_QUEUED_LOST_SECONDS)
    assert export_jobs_requeue_lost(now=due + lost - timedelta(seconds=1)) == []

    assert run(job.pk, django_capture_on_commit_callbacks).action == "done"  # the delayed message arrives
    job.refresh_from_db()
    assert job.status == ExportStatus.SUCCEEDED and job.attempts == 2
    assert Path(job.file.path).read_bytes().startswith(b"%PDF")
    assert scheduled.countdowns(job.pk) == [None, 7.0]  # nothing more was sent


def test_without_retry_after_the_wait_is_the_backoff_and_a_long_one_is_capped(
    organization, alice, sandbox, scheduled, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_RETRY_BASE_SECONDS = 10.0
    settings.EXPORT_RETRY_MAX_SECONDS = 120.0
    tm = f"/threat_models/{PAYMENTS}"
    add_fault(sandbox.base_url, path_prefix=tm, status=502, times=2)  # 502: TMI says no Retry-After
    job = make_job(organization, alice, django_capture_on_commit_callbacks)
    assert run(job.pk, django_capture_on_commit_callbacks).action == "queued"
    assert run(job.pk, django_capture_on_commit_callbacks).action == "queued"
    first, second = scheduled.countdowns(job.pk)[1:]
    assert 5.0 <= first <= 10.0 and 10.0 <= second <= 20.0  # doubling, with jitter below the ceiling
    add_fault(sandbox.base_url, path_prefix=tm, status=503, retry_after=86400, times=1)
    outcome = run(job.pk, django_capture_on_commit_callbacks)
    assert (outcome.action, outcome.countdown) == ("queued", 120.0)  # TMI's day, cut to the cap
    assert run(job.pk, django_capture_on_commit_callbacks).action == "done"
    job.refresh_from_db()
    assert job.attempts == 4 and job.status == ExportStatus.SUCCEEDED


def test_the_last_attempt_fails_in_words_and_is_not_queued_again(
    organization, alice, sandbox, scheduled, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_MAX_ATTEMPTS = 2
    add_fault(sandbox.base_url, path_prefix="/threat_models", status=429, retry_after=3)
    job = make_job(organization, alice, django_capture_on_commit_callbacks)
    assert run(job.pk, django_capture_on_commit_callbacks).action == "queued"
    assert run(job.pk, django_capture_on_commit_callbacks).action == "failed"
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and job.attempts == 2
    assert job.error == "TMI kept asking the portal to slow down; try again later."
    assert scheduled.countdowns(job.pk) == [None, 3.0]


def test_a_failure_that_is_not_transient_is_not_tried_again(
    organization, alice, sandbox, scheduled, django_capture_on_commit_callbacks
):
    add_fault(sandbox.base_url, path_prefix="/threat_models", status=404)
    job = make_job(organization, alice, django_capture_on_commit_callbacks)
    assert run(job.pk, django_capture_on_commit_callbacks).action == "failed"
    job.refresh_from_db()
    assert job.attempts == 1 and job.error == "TMI no longer has this threat model (it may have been deleted)."
    assert scheduled.countdowns(job.pk) == [None]


@pytest.mark.parametrize("generation", ["1.8"])
def test_the_task_returns_at_once_while_the_job_waits_in_the_queue(
    organization, alice, sandbox, scheduled, django_capture_on_commit_callbacks
):
    """The worker's task itself: on TMI's "come back in a minute" it is done in well under that minute."""
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{PAYMENTS}", status=503, retry_after=60, times=1)
    job = make_job(organization, alice, django_capture_on_commit_callbacks)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.export_job_run_task.apply(args=(job.pk,))
    assert result.get() == "queued" and time.monotonic() - started < 10
    assert scheduled.countdowns(job.pk) == [None, 60.0]
    assert ExportJob.objects.get(pk=job.pk).status == ExportStatus.QUEUED


@pytest.mark.timeout(300)
@pytest.mark.parametrize("generation", ["1.8"])
def test_a_real_worker_runs_the_job_again_after_the_countdown(organization, alice, sandbox, workers):
    """Through a real broker: the re-queued message waits out its countdown and a worker finishes the job."""
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{PAYMENTS}", status=503, retry_after=1, times=1)
    workers.start(TMI_MAX_RETRIES="0")  # the client's own retry would hide the 503 from the job
    job = export_job_create(
        organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=PAYMENTS
    )

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=120, what="the re-queued export to finish")
    assert job.status == ExportStatus.SUCCEEDED, (job.error, workers.logs())
    assert job.attempts == 2
    assert "TMI trouble (ServiceUnavailable); trying again in 1.0 s" in workers.logs()
