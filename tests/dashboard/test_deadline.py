"""A page waits on TMI for one deadline in all (PORTAL_TMI_PAGE_DEADLINE_SECONDS), whatever TMI does: a
request that timed out is not sent again, a Retry-After longer than the time left is not waited for, and the
page says which trouble it met ("busy" for 429, "not answering" otherwise), with Retry-After where TMI gave
one. Against the sandbox over real sockets, both generations; what TMI saw is counted by the sandbox's own
fault records, and elapsed time is only a loose second check."""

from __future__ import annotations

import time

import httpx
import pytest
from django.urls import reverse

import portal.accounts.vault as vault
from tests.dashboard.conftest import find_model
from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # seed.py: alice owns it
PAGE_DEADLINE = 1.0
SLOW_MS = 4000  # longer than the deadline and than the per-request timeout


@pytest.fixture
def short_deadline(settings):
    """A page gets 1 s in all; each request alone would be allowed 3 s, and 2 retries."""
    settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS = PAGE_DEADLINE
    settings.TMI_TIMEOUT_SECONDS = 3.0
    settings.TMI_MAX_RETRIES = 2


class _Done:
    def __await__(self):
        return iter(())


class RecordedSleeps(list):
    """Injected into every TMI client the portal builds: remembers each wait instead of waiting (awaitable,
    so the async clients of the pages can use it too)."""

    def __call__(self, seconds: float) -> _Done:
        self.append(seconds)
        return _Done()


@pytest.fixture
def sleeps(monkeypatch) -> RecordedSleeps:
    recorded = RecordedSleeps()
    real = vault.tmi_client_options
    monkeypatch.setattr(vault, "tmi_client_options", lambda *args, **kw: {**real(*args, **kw), "sleep": recorded})
    return recorded


def fault_hits(sandbox) -> int:
    """Requests the sandbox's injected faults met: what TMI saw, not what the portal says it sent."""
    faults = httpx.get(f"{sandbox.base_url}/_sandbox/faults", timeout=10).json()["faults"]
    return sum(fault["hits"] for fault in faults)


def timed_get(client, url: str):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def assert_not_answering(response):
    assert response.status_code == 503
    html = response.content.decode()
    assert "TMI is not answering" in html and "TMI is busy" not in html and "Try again" in html


def page_urls(sandbox) -> dict[str, tuple[str, str]]:
    """Each page that reads TMI, with the path prefix of one call it makes (the one the test slows down)."""
    tm = find_model(sandbox, PAYMENTS)
    diagram = tm["diagrams"][0]
    return {
        "overview": (reverse("dashboard:portfolio", args=["acme"]), "/threat_models"),
        "list": (reverse("dashboard:threat_models", args=["acme"]), "/threat_models"),
        "threat model": (
            reverse("dashboard:threat_model", args=["acme", tm["id"]]),
            f"/threat_models/{tm['id']}/threats",
        ),
        "live": (
            reverse("live:diagram", args=["acme", tm["id"], diagram["id"]]),
            f"/threat_models/{tm['id']}/diagrams/{diagram['id']}",
        ),
    }


@pytest.mark.parametrize("which", ["overview", "list", "threat model", "live"])
def test_a_hanging_tmi_gets_one_attempt_per_call_and_the_not_answering_page(
    client, alice, sandbox, short_deadline, sleeps, which
):
    url, slow_path = page_urls(sandbox)[which]
    add_fault(sandbox.base_url, path_prefix=slow_path, method="GET", latency_ms=SLOW_MS)  # every attempt hangs
    response, elapsed = timed_get(client, url)
    assert_not_answering(response)
    assert fault_hits(sandbox) == 1  # the timed-out call was not sent again
    assert sleeps == []
    assert "Retry-After" not in response  # TMI said nothing about when
    assert elapsed < PAGE_DEADLINE + 1.5  # the 3 s timeout was cut to the deadline (loose: a busy machine)


def test_the_deadline_covers_the_whole_page_not_each_call(client, alice, sandbox, short_deadline, sleeps):
    """Every TMI call takes 0.6 s, well within the 3 s a request may take, but the overview makes several
    in a row: the page's 1 s is spent before the last ones, which are cut short instead of started afresh."""
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", latency_ms=600)
    response, elapsed = timed_get(client, reverse("dashboard:portfolio", args=["acme"]))
    assert_not_answering(response)
    assert sleeps == []
    assert elapsed < PAGE_DEADLINE + 1.5


def test_a_rate_limit_gives_the_busy_page_at_once_with_retry_after(
    client, alice, sandbox, short_deadline, sleeps, settings
):
    settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS = 10.0  # the default: TMI's 60 s are still longer
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", status=429, retry_after=60)
    response, elapsed = timed_get(client, reverse("dashboard:portfolio", args=["acme"]))
    assert response.status_code == 503 and response["Retry-After"] == "60"
    html = response.content.decode()
    assert "TMI is busy" in html and "Please try again in 60 seconds." in html and "not answering" not in html
    assert fault_hits(sandbox) == 1 and sleeps == []  # neither retried nor waited for
    assert elapsed < 5


def test_a_503_with_retry_after_keeps_the_not_answering_page_and_passes_retry_after_on(
    client, alice, sandbox, short_deadline, sleeps
):
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", status=503, retry_after=30)
    response, _ = timed_get(client, reverse("dashboard:threat_models", args=["acme"]))
    assert_not_answering(response)
    assert response["Retry-After"] == "30" and "Please try again in 30 seconds." in response.content.decode()
    assert fault_hits(sandbox) == 1 and sleeps == []


def test_a_short_retry_after_within_the_deadline_is_still_waited_for(client, alice, sandbox, settings, sleeps):
    """The deadline takes away only the waits that cannot end in time; TMI asking for 1 s of 10 gets it."""
    settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS = 10.0
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", status=429, retry_after=1, times=1)
    response = client.get(reverse("dashboard:portfolio", args=["acme"]))
    assert response.status_code == 200 and sleeps == [1.0]
