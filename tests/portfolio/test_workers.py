"""Two web processes and a Celery worker sharing one store (the database, and Redis when REDIS_URL is set), with
syncs sent to the worker (PORTAL_SYNC_INLINE off in those processes): a page in web process A has the worker read
the member's models; web process B then serves the overview from the store, without a TMI call."""

from __future__ import annotations

import html
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.test import Client

from portal.portfolio.models import SyncState, VisibleSet
from tests.browser.live_server import DaphneServer
from tests.browser.live_server import tests_database_url as database_url  # not collected as a test
from tests.dashboard.conftest import MODEL_BACKEND
from tests.exports.conftest import Workers, wait_for
from tests.portfolio.conftest import readable_ids, sandbox_calls, sandbox_calls_afresh

QUEUE = f"portfolio-{uuid.uuid4().hex[:8]}"


def _process_env(media: Path) -> dict[str, str]:
    """What the web processes and the worker run with: the test database, the test's own queue, syncs in the worker."""
    return {
        "DJANGO_SETTINGS_MODULE": "tests.exports.worker_settings",  # tasks they send stay on QUEUE
        "PORTAL_TEST_QUEUE": QUEUE,
        "PORTAL_TEST_MEDIA_ROOT": str(media),
        "PORTAL_SYNC_INLINE": "false",
    }


@pytest.fixture(scope="module")
def web_processes(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """Web processes A and B (daphne), on the test database."""
    folder = tmp_path_factory.mktemp("portfolio-web")
    with pytest.MonkeyPatch.context() as patch:  # DaphneServer passes this process's environment on
        for name, value in _process_env(folder / "media").items():
            patch.setenv(name, value)
        with django_db_blocker.unblock(), DaphneServer(folder / "a.log") as a, DaphneServer(folder / "b.log") as b:
            yield a.url, b.url


@pytest.fixture
def workers(transactional_db, tmp_path) -> Iterator[Workers]:
    env = {**os.environ, **_process_env(tmp_path / "media"), "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    pool = Workers(QUEUE, tmp_path, env)
    try:
        yield pool
    finally:
        pool.stop_all()


def _session_cookie(user) -> dict[str, str]:
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return {"sessionid": client.cookies["sessionid"].value}


def test_a_page_in_one_web_process_syncs_in_the_worker_and_another_serves_the_store(
    web_processes, workers, organization, owner, sandbox
):
    web_a, web_b = web_processes
    workers.start()
    cookies = _session_cookie(owner)
    with httpx.Client(base_url=web_a, cookies=cookies, timeout=30) as a:
        first = a.get("/o/acme/")
    assert first.status_code == 200, first.text[:2000]
    # Never read: A shows the first read's progress page rather than waiting for TMI, and leaves the work to the worker.
    assert "You can see" not in first.text
    wait_for(
        lambda: (
            SyncState.objects.filter(organization=organization, last_sync_at__isnull=False).exists()
            and VisibleSet.objects.filter(user=owner, read_at__isnull=False).exists()
        ),
        timeout=90,
        what=f"the worker's sync; its log:\n{workers.logs()[-3000:]}",
    )
    total = len(readable_ids(sandbox, "alice"))
    sandbox_calls_afresh(sandbox)
    with httpx.Client(base_url=web_b, cookies=cookies, timeout=30) as b:
        overview = b.get("/o/acme/")
        listing = b.get("/o/acme/threat-models/")
    assert overview.status_code == 200 and listing.status_code == 200
    assert f"You can see {total} threat models in TMI." in overview.text
    names = [tm["name"] for tm in sandbox.state.threat_models.values() if tm["id"] in readable_ids(sandbox, "alice")]
    assert names and all(html.escape(name) in listing.text for name in names)
    assert sum(sandbox_calls(sandbox).values()) == 0  # B served both pages from the store
    assert "portfolio_sync_task" in workers.logs() and "succeeded" in workers.logs()
