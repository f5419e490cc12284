"""The export job page and the status JSON its progress bar polls say "Waiting for a worker" while a queued or
running job has had no worker seen for EXPORT_WORKER_QUIET_SECONDS (the worker heartbeat of the health panel;
for a running job also its own progress writes), instead of "In progress" until the reaper's five minutes; and
say what they said before once a worker is seen again. Heartbeat times are set in the database, as a worker
(or its death) would leave them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exports.models import ExportJob, ExportStatus
from portal.exports.running import export_job_claim
from portal.sandbox.seed import sid
from portal.tenant_admin.heartbeat import heartbeat_record
from portal.tenant_admin.models import Heartbeat

PAYMENTS = "Customer Payments API"

# The job page reads no TMI; one generation is enough for the member's sign-in it needs.
pytestmark = pytest.mark.parametrize("generation", ["1.8"])


@pytest.fixture
def job(client, organization, member_factory, django_capture_on_commit_callbacks):
    alice = member_factory(organization, "alice")
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False):  # no worker takes it: the test plays the worker
        response = client.post(
            reverse("exports:create", args=["acme"]), {"kind": "threat_model", "threat_model_id": sid("tm", PAYMENTS)}
        )
    assert response.status_code == 302
    return ExportJob.objects.get(organization=organization)


def worker_seen(seconds_ago: float) -> None:
    heartbeat_record(name=Heartbeat.WORKER, at=timezone.now() - timedelta(seconds=seconds_ago))


def shown(client, job) -> tuple[str, str, dict]:
    """(the badge on the job page, the line under its progress bar, the status JSON)."""
    html = client.get(reverse("exports:job", args=["acme", job.pk])).content.decode()
    badge = re.search(r'id="export-status">([^<]*)<', html).group(1)
    line = re.search(r'id="export-progress-label">([^<]*)<', html).group(1)
    status = client.get(reverse("exports:status", args=["acme", job.pk])).json()
    return badge, line, status


def assert_waiting(client, job, *, words: str) -> None:
    badge, line, status = shown(client, job)
    assert badge == "Waiting for a worker" and words in line
    assert status["status_label"] == "Waiting for a worker" and status["waiting_for_worker"] is True
    assert words in status["progress_label"] and status["status"] == job.status  # the state itself is unchanged


def test_a_queued_job_waits_for_a_worker_until_one_is_seen(client, job):
    assert_waiting(client, job, words="No worker has been seen yet")  # no heartbeat ever
    worker_seen(5 * 60)
    assert_waiting(client, job, words="No worker has been seen for 5\xa0minutes")
    worker_seen(0)
    badge, line, status = shown(client, job)
    assert badge == "Waiting to start" and status["status_label"] == "Waiting to start"
    assert status["waiting_for_worker"] is False and "worker" not in line


def test_a_running_job_whose_worker_is_gone_says_so_and_flips_back(client, job):
    worker_seen(5 * 60)
    claimed, _ = export_job_claim(job_id=job.pk, claim="worker-1")  # as a worker does; it writes heartbeat_at
    ExportJob.objects.filter(pk=job.pk).update(progress=10, progress_label="Fetching from TMI")
    job.refresh_from_db()
    badge, line, status = shown(client, job)
    assert claimed is not None and job.status == ExportStatus.RUNNING
    assert badge == "In progress" and "Fetching from TMI" in line  # its own progress writes: a worker is there
    assert status["status_label"] == "In progress" and status["waiting_for_worker"] is False

    # The worker is killed: no progress since, and no worker heartbeat either.
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=4))
    job.refresh_from_db()
    assert_waiting(client, job, words="No worker has been seen for 4\xa0minutes")

    worker_seen(0)  # another worker runs (the reaper will hand the job to it)
    badge, _, status = shown(client, job)
    assert badge == "In progress" and status["waiting_for_worker"] is False


def test_a_heartbeat_a_little_old_is_still_a_worker(client, job, settings):
    """The heartbeat comes once a minute: one 30 s old is normal; past EXPORT_WORKER_QUIET_SECONDS it is not."""
    worker_seen(30)
    assert shown(client, job)[2]["waiting_for_worker"] is False
    worker_seen(settings.EXPORT_WORKER_QUIET_SECONDS + 30)
    assert shown(client, job)[2]["waiting_for_worker"] is True


def test_a_finished_job_never_waits_for_a_worker(client, job):
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, error="TMI refused")
    job.refresh_from_db()
    badge, _, status = shown(client, job)
    assert badge == "Failed" and status["waiting_for_worker"] is False
