"""The sign-in page reads TMI (its generation and sign-in providers) and, like every page, waits on it for one
deadline in all (PORTAL_TMI_PAGE_DEADLINE_SECONDS): nothing is sent again after a timeout, and a Retry-After
longer than the time left is not waited for. Against the sandbox over real sockets, both generations."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_deadline(settings):
    settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS = 1.0
    settings.TMI_TIMEOUT_SECONDS = 3.0  # each request alone would be allowed longer than the page
    settings.TMI_MAX_RETRIES = 2


def fault_hits(sandbox) -> int:
    faults = httpx.get(f"{sandbox.base_url}/_sandbox/faults", timeout=10).json()["faults"]
    return sum(fault["hits"] for fault in faults)


def timed_get(browser, url: str):
    started = time.monotonic()
    response = browser.get(url)
    return response, time.monotonic() - started


def test_a_hanging_tmi_gets_one_attempt_and_the_page_says_so(organization, browser, sandbox, short_deadline):
    add_fault(sandbox.base_url, path_prefix="/", method="GET", latency_ms=4000)
    response, elapsed = timed_get(browser, "/o/acme/login/")
    assert response.status_code == 503 and "not answering" in response.content.decode()
    assert fault_hits(sandbox) == 1
    assert elapsed < 2.5  # the 3 s timeout was cut to the page's 1 s (loose: a busy machine)


def test_a_long_retry_after_is_not_waited_for(organization, browser, sandbox):
    """TMI's 503 asks for 30 s, more than the page's 10 s: the page answers at once, after one request."""
    add_fault(sandbox.base_url, path_prefix="/oauth2/providers", status=503, retry_after=30)
    response, elapsed = timed_get(browser, "/o/acme/login/")
    assert response.status_code == 503 and "not answering" in response.content.decode()
    assert fault_hits(sandbox) == 1
    assert elapsed < 5
