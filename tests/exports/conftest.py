"""Real Celery workers on a queue of their own, reading the test database (committed data)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portal.celery import app
from tests.browser.live_server import tests_database_url

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Start worker processes on the test's own queue; every one is stopped (or killed) at the end."""

    def __init__(self, queue: str, log_dir: Path, env: dict[str, str]) -> None:
        self.queue, self.log_dir, self.env = queue, log_dir, env
        self.started: list[subprocess.Popen] = []

    def start(self, *, pool: str = "solo", concurrency: int = 1, **env: str) -> subprocess.Popen:
        number = len(self.started) + 1
        log = (self.log_dir / f"worker-{number}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--queues",
                self.queue,
                "--hostname",
                f"{self.queue}-{number}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and whatever it spawned: no shutdown, no acknowledgement."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def workers(transactional_db, tmp_path, settings) -> Iterator[Workers]:
    """`workers.start()` runs a real worker on this test's queue. Tasks the test process sends go to
    that queue, so workers of other tests (or of a demo) never take them. Media goes to tmp_path."""
    queue = f"exports-{uuid.uuid4().hex[:8]}"
    settings.MEDIA_ROOT = tmp_path / "media"
    env = {
        **os.environ,
        "DATABASE_URL": tests_database_url(),
        "PYTHONUNBUFFERED": "1",
        "PORTAL_TEST_MEDIA_ROOT": str(tmp_path / "media"),
        "PORTAL_TEST_QUEUE": queue,
        "EXPORT_RETRY_BASE_SECONDS": "0.2",
        "DJANGO_SETTINGS_MODULE": "tests.exports.worker_settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    pool = Workers(queue, tmp_path, env)
    try:
        yield pool
    finally:
        app.conf.task_default_queue = previous
        pool.stop_all()


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
