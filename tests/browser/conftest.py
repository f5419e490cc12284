"""Browser tests: the portal served by a real daphne, driven by Playwright in Debian's chromium.

Playwright's own browsers cannot be downloaded here; `make test` installs Debian's chromium when it
is missing and it may (as root). Without it these tests fail, never skip, and say what to install.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portal.devtools.browser import CHROMIUM, MISSING_CHROMIUM, VIEWPORT, chromium_launch
from tests.browser.live_server import ROOT, DaphneServer

ARTIFACTS = ROOT / "test-artifacts" / "browser"


def artifacts_of(node) -> Path:
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed  # read by `page`, to keep what the browser showed
    return report


@pytest.fixture(scope="package")
def daphne_server(django_db_setup, django_db_blocker) -> Iterator[DaphneServer]:
    """One daphne for the browser tests, on the test database. Use `live_portal` in tests."""
    with django_db_blocker.unblock(), DaphneServer(ARTIFACTS / "daphne.log") as server:
        yield server


@pytest.fixture
def live_portal(daphne_server, transactional_db) -> str:
    """The live portal's base URL. The test's data is committed (transactional_db), so the daphne
    process sees it; the database is emptied after the test as usual."""
    return daphne_server.url


@pytest.fixture(scope="package")
def chromium() -> Iterator:
    """Chromium for this package's tests only: Playwright's sync API keeps an asyncio loop marked
    as running on the main thread while it is alive, which later async tests must not inherit."""
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests cannot run. {MISSING_CHROMIUM}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # That loop makes Django refuse ORM calls from the test thread (tests build data and
        # pytest-django flushes the database there), though nothing async runs on it.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = chromium_launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request) -> Iterator:
    """A fresh browser context (no cookies) and page for each test; a failed test leaves
    failure.png beside its step screenshots."""
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    if getattr(request.node, "browser_test_failed", False):
        artifacts_of(request.node).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts_of(request.node) / "failure.png"), full_page=True)
    context.close()


@pytest.fixture
def screenshot(request) -> Callable[..., Path]:
    """`screenshot(page, "portfolio")` saves test-artifacts/browser/<test>/<NN>-portfolio.png."""
    folder = artifacts_of(request.node)
    shutil.rmtree(folder, ignore_errors=True)  # only this run's steps, numbered from 01
    taken: list[Path] = []

    def take(page, name: str, *, full_page: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        taken.append(path)
        return path

    return take
