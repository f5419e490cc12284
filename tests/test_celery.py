"""A real Celery worker consumes the configured broker: embedded (filesystem) or Redis."""

import os
import subprocess
import sys
import uuid

import pytest

from portal.celery import app, ping


@pytest.fixture
def worker_queue():
    """A real worker process on a queue of its own, so no other worker takes its tasks."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield queue
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


def test_a_real_worker_runs_a_task_sent_through_the_broker(worker_queue):
    result = ping.apply_async(queue=worker_queue)
    assert result.get(timeout=60) == "pong"
    assert result.successful()


def test_the_result_backend_matches_the_broker():
    backend = type(app.backend).__name__
    assert backend == ("RedisBackend" if os.environ.get("REDIS_URL") else "FilesystemBackend")
