"""A worker SIGKILLed mid-export: the job is delivered again to a new worker, which takes it over
and finishes it, leaving exactly one file.

What redelivers differs by broker: Redis hands an unacknowledged message back after its visibility
timeout (shortened here by environment variables); kombu's filesystem transport has no such thing,
so beat's reaper (`export_jobs_reap`, run here as beat would run it) sends stale running jobs again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from portal.exports.jobs import export_job_create, export_jobs_reap
from portal.exports.models import ExportKind, ExportStatus
from portal.sandbox.seed import sid
from tests.exports.conftest import wait_for
from tests.sandbox.helpers import add_fault, clear_faults

PAYMENTS = "Customer Payments API"
STALE_SECONDS = 3
FAST_REDELIVERY = {
    "EXPORT_STALE_SECONDS": str(STALE_SECONDS),
    "CELERY_VISIBILITY_TIMEOUT": "4",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("generation", ["1.8"])
def test_a_worker_killed_mid_export_leads_to_one_file(organization, member_factory, sandbox, workers, settings):
    settings.EXPORT_STALE_SECONDS = STALE_SECONDS
    alice = member_factory(organization, "alice", role="owner")
    tm_id = sid("tm", PAYMENTS)
    add_fault(sandbox.base_url, path_prefix=f"/threat_models/{tm_id}", latency_ms=1500)  # every call is slow
    first = workers.start(**FAST_REDELIVERY)
    job = export_job_create(organization=organization, actor=alice, kind=ExportKind.THREAT_MODEL, threat_model_id=tm_id)

    def in_progress():
        job.refresh_from_db()
        return job.status == ExportStatus.RUNNING and job.progress >= 1

    wait_for(in_progress, timeout=90, what="the export to start")
    workers.kill(first)
    job.refresh_from_db()
    assert job.status == ExportStatus.RUNNING and job.attempts == 1  # killed in the middle, not after
    clear_faults(sandbox.base_url)
    workers.start(**FAST_REDELIVERY)

    redis = bool(os.environ.get("REDIS_URL"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        if not redis:
            export_jobs_reap()  # what beat does every minute
        time.sleep(1)
    assert job.status == ExportStatus.SUCCEEDED, (job.status, job.error, workers.logs())
    assert job.attempts == 2
    folder = Path(settings.MEDIA_ROOT) / "exports" / "acme"
    assert [p.name for p in folder.iterdir()] == [Path(job.file.name).name]  # one PDF, no partial files
    assert Path(job.file.path).read_bytes().startswith(b"%PDF")
