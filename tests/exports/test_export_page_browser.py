"""In real Chromium: Export PDF on a threat model's page, the progress page updating itself as the
job runs, and the download. The job is run by this test process, as a worker would run it.

Chromium is started and stopped by this test itself: Playwright's sync API leaves an event loop
marked as running on the main thread while it lives, which later async view tests must not inherit."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.devtools.browser import CHROMIUM, MISSING_CHROMIUM, VIEWPORT, chromium_launch, sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed
from portal.exports.models import ExportJob, ExportStatus
from portal.exports.running import export_job_run
from portal.sandbox.seed import sid
from portal.tenant_admin.heartbeat import heartbeat_record
from portal.tenant_admin.models import Heartbeat
from tests.browser.conftest import daphne_server, live_portal  # noqa: F401
from tests.sandbox.helpers import add_fault

PAYMENTS = "Customer Payments API"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser" / "export-page"


@pytest.fixture
def page():
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests cannot run. {MISSING_CHROMIUM}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the test thread builds data beside that loop
        browser = chromium_launch(playwright)
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("generation", ["1.8"])
def test_export_pdf_shows_progress_then_downloads(sandbox, generation, live_portal, page):  # noqa: F811
    portal = live_portal
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    heartbeat_record(name=Heartbeat.WORKER)  # a worker was seen: the queued job waits to start, not for a worker
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    page.goto(f"{portal}/o/acme/threat-models/{sid('tm', PAYMENTS)}/")
    screenshot(page, "threat-model")
    page.get_by_role("button", name="Export PDF").click()
    page.wait_for_url(f"{portal}/o/acme/exports/*/")
    job = ExportJob.objects.get()
    assert page.locator("#export-status").inner_text() == "Waiting to start"
    assert page.locator("#export-download").is_hidden()
    screenshot(page, "queued")

    add_fault(sandbox.base_url, path_prefix="/threat_models", latency_ms=300)  # slow enough to watch
    try:
        assert export_job_run(job.pk).action == "done"
        page.locator("#export-download").wait_for(state="visible")
        assert page.locator("#export-status").inner_text() == "Ready"
        assert page.locator("#export-progressbar").get_attribute("aria-valuenow") == "100"
        screenshot(page, "ready")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the PDF").click()
        job.refresh_from_db()
        assert download.value.suggested_filename == job.file_name and job.file_name.endswith(".pdf")
        assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
        assert job.status == ExportStatus.SUCCEEDED
        page.goto(f"{portal}/o/acme/exports/")
        assert page.locator("#export-table tbody tr").count() == 1
        assert f"{PAYMENTS}: threat model report" in page.locator("#export-table").inner_text()
        screenshot(page, "list")
    finally:
        job.refresh_from_db()
        if job.file:
            job.file.delete(save=False)  # the shared media folder of the daphne under test
