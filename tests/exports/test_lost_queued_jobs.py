"""A job whose message was lost before any worker took it: the reaper sends it again once it has
been queued longer than EXPORT_QUEUED_LOST_SECONDS, and the claim keeps extra messages harmless."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.celery import app
from portal.exports.jobs import export_job_create, export_jobs_reap, export_jobs_requeue_lost
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.exports.running import export_job_run
from portal.sandbox.seed import sid
from tests.exports.conftest import wait_for

PAYMENTS = sid("tm", "Customer Payments API")


def _purge(queue: str) -> None:
    with app.connection_for_write() as connection:
        try:
            connection.default_channel.queue_purge(queue)
        except Exception:  # a queue no message ever reached may not exist: nothing to purge
            pass


@pytest.mark.timeout(300)
@pytest.mark.parametrize("generation", ["1.8"])
def test_a_job_whose_message_was_lost_is_sent_again_and_runs_once(organization, member_factory, workers, settings):
    settings.EXPORT_QUEUED_LOST_SECONDS = 600
    alice = member_factory(organization, "alice", role="owner")
    # The job's message goes to a queue no worker reads: as good as lost.
    black_hole, test_queue = f"lost-{uuid.uuid4().hex[:8]}", app.conf.task_default_queue
    app.conf.task_default_queue = black_hole
    try:
        job = export_job_create(
            organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=PAYMENTS
        )
    finally:
        app.conf.task_default_queue = test_queue
    try:
        workers.start()
        now = timezone.now()
        assert export_jobs_reap(now=now + timedelta(seconds=599)) == []  # not long enough to count as lost
        job.refresh_from_db()
        assert job.status == ExportStatus.QUEUED
        assert export_jobs_reap(now=now + timedelta(seconds=601)) == [job.pk]

        def finished():
            job.refresh_from_db()
            return job.is_finished

        wait_for(finished, timeout=120, what="the re-sent export to finish")
        assert job.status == ExportStatus.SUCCEEDED, (job.error, workers.logs())
        assert job.attempts == 1
        assert export_jobs_reap(now=now + timedelta(days=1)) == []  # finished jobs are never sent again
        # The lost message turning up after all changes nothing: the claim sees a finished job.
        assert export_job_run(job.pk).action == "skipped"
        job.refresh_from_db()
        assert job.attempts == 1 and job.status == ExportStatus.SUCCEEDED
    finally:
        _purge(black_hole)


@pytest.mark.parametrize("generation", ["1.8"])
def test_a_slow_queue_gets_one_more_message_per_threshold_not_per_tick(
    organization, member_factory, workers, settings, request
):
    settings.EXPORT_QUEUED_LOST_SECONDS = 600
    alice = member_factory(organization, "alice", role="owner")
    job = export_job_create(organization=organization, actor=alice, kind=ExportKind.PORTFOLIO)  # no worker runs
    request.addfinalizer(lambda: _purge(workers.queue))
    now = timezone.now()
    assert export_jobs_requeue_lost(now=now + timedelta(seconds=601)) == [job.pk]
    assert ExportJob.objects.get(pk=job.pk).heartbeat_at == now + timedelta(seconds=601)
    for minutes in range(11, 20):  # the reaper's later ticks, within one threshold of the re-send
        assert export_jobs_requeue_lost(now=now + timedelta(minutes=minutes)) == []
    assert export_jobs_requeue_lost(now=now + timedelta(seconds=1202)) == [job.pk]
    running = ExportJob.objects.filter(pk=job.pk)
    running.update(status=ExportStatus.RUNNING, heartbeat_at=timezone.now())
    assert export_jobs_requeue_lost(now=now + timedelta(days=1)) == []  # taken by a worker: not "queued"
