"""A page waits on TMI for one deadline in all (PORTAL_TMI_PAGE_DEADLINE_SECONDS), whatever TMI does: a
request that timed out is not sent again, and a Retry-After longer than the time left is not waited for.

The store pages (overview, list, threat model) make no TMI call of their own, but a page whose member's set is
stale, or never read, asks for a sync, and in tests (PORTAL_SYNC_INLINE) that sync runs inside the page, under its
deadline: a hanging or refusing TMI never holds the page beyond it, and the page answers from the store (or, on a
first visit, with the reading page). The live page still reads TMI itself and says which trouble it met. Against
the sandbox over real sockets, both generations; what TMI saw is counted by the sandbox's own fault records, and
elapsed time is only a loose second check."""

from __future__ import annotations

import time

import httpx
import pytest
from django.urls import reverse

import portal.accounts.vault as vault
from tests.dashboard.conftest import find_model, readable_models, store_filled, tmi_calls, visible_set_stale
from tests.sandbox.helpers import add_fault, count_requests_afresh

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


def store_page_urls(sandbox) -> dict[str, tuple[str, str]]:
    """Each page that reads the store, with the path prefix of one call the sync it asks for makes (the one the
    test slows down)."""
    tm = find_model(sandbox, PAYMENTS)
    return {
        "overview": (reverse("dashboard:portfolio", args=["acme"]), "/threat_models"),
        "list": (reverse("dashboard:threat_models", args=["acme"]), "/threat_models"),
        "threat model": (
            reverse("dashboard:threat_model", args=["acme", tm["id"]]),
            f"/threat_models/{tm['id']}/threats",  # the pass's look at the model's changed threats
        ),
    }


def assert_from_the_store(response, sandbox) -> None:
    """The page the store makes, with the member's data and its freshness line."""
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="freshness">Updated from TMI' in html and ">Refresh now</button>" in html
    assert "TMI is not answering" not in html and "TMI is busy" not in html
    if "portfolio" in response.context:
        assert response.context["portfolio"].total == len(readable_models(sandbox, "alice"))
    elif "listing" in response.context:
        assert response.context["listing"].total == len(readable_models(sandbox, "alice"))
    else:
        assert len(response.context["tm"].threats) == len(find_model(sandbox, PAYMENTS)["threats"])


@pytest.fixture
def synced_a_while_ago(organization, alice, sandbox):
    """alice's models are in the store, and her set is older than the interval: her next page asks for a sync."""
    store_filled(organization, alice)
    visible_set_stale(organization, alice)
    count_requests_afresh(sandbox.base_url)


@pytest.mark.parametrize("which", ["overview", "list", "threat model"])
def test_a_hanging_tmi_holds_no_store_page_beyond_the_deadline(
    client, alice, sandbox, synced_a_while_ago, short_deadline, sleeps, sync_passes, which
):
    url, slow_path = store_page_urls(sandbox)[which]
    add_fault(sandbox.base_url, path_prefix=slow_path, method="GET", latency_ms=SLOW_MS)  # every attempt hangs
    response, elapsed = timed_get(client, url)
    assert_from_the_store(response, sandbox)
    assert len(sync_passes) == 1 and sync_passes[0].errors  # the page's sync met the hang
    assert fault_hits(sandbox) == 1  # the timed-out call was not sent again, nor anything after the deadline
    assert sleeps == []
    assert elapsed < PAGE_DEADLINE + 1.5  # the 3 s timeout was cut to the deadline (loose: a busy machine)


@pytest.mark.parametrize("which", ["overview", "list", "threat model"])
def test_a_first_visit_while_tmi_hangs_shows_the_reading_page_within_the_deadline(
    client, alice, sandbox, short_deadline, sleeps, which
):
    url, _ = store_page_urls(sandbox)[which]
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", latency_ms=SLOW_MS)
    response, elapsed = timed_get(client, url)
    assert response.status_code == 200 and response.templates[0].name == "dashboard/reading.html"
    assert 'id="reading-trouble"' in response.content.decode()  # the first read met TMI not answering
    assert fault_hits(sandbox) == 1 and sleeps == []
    assert elapsed < PAGE_DEADLINE + 1.5


def test_a_hanging_tmi_gets_one_attempt_and_the_not_answering_page_on_the_live_page(
    client, alice, sandbox, short_deadline, sleeps
):
    """The live page still reads TMI itself (the diagram it opens for editing): its own trouble page."""
    tm = find_model(sandbox, PAYMENTS)
    diagram = tm["diagrams"][0]
    add_fault(
        sandbox.base_url,
        path_prefix=f"/threat_models/{tm['id']}/diagrams/{diagram['id']}",
        method="GET",
        latency_ms=SLOW_MS,
    )
    response, elapsed = timed_get(client, reverse("live:diagram", args=["acme", tm["id"], diagram["id"]]))
    assert_not_answering(response)
    assert fault_hits(sandbox) == 1  # the timed-out call was not sent again
    assert sleeps == []
    assert "Retry-After" not in response  # TMI said nothing about when
    assert elapsed < PAGE_DEADLINE + 1.5


def test_the_deadline_covers_the_pages_whole_sync_not_each_call(
    client, alice, sandbox, synced_a_while_ago, short_deadline, sleeps, sync_passes
):
    """Every TMI call takes 0.6 s, well within the 3 s a request may take, but the sync the page asks for makes
    several in a row: the page's 1 s is spent before the last ones, which are cut short instead of started
    afresh, and the page answers from the store."""
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", latency_ms=600)
    response, elapsed = timed_get(client, reverse("dashboard:portfolio", args=["acme"]))
    assert_from_the_store(response, sandbox)
    [report] = sync_passes
    assert report.stopped or report.errors  # cut short, not finished
    assert fault_hits(sandbox) <= 2 and sleeps == []
    assert elapsed < PAGE_DEADLINE + 1.5


def test_a_rate_limit_met_by_the_pages_sync_is_neither_retried_nor_waited_for(
    client, alice, sandbox, synced_a_while_ago, short_deadline, sleeps, settings, organization
):
    settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS = 10.0  # the default: TMI's 60 s are still longer
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", status=429, retry_after=60)
    response, elapsed = timed_get(client, reverse("dashboard:portfolio", args=["acme"]))
    assert_from_the_store(response, sandbox)
    assert fault_hits(sandbox) == 1 and sleeps == []  # neither retried nor waited for
    assert elapsed < 5
    visible_set_stale(organization, alice)  # the next page asks again: TMI's 60 s are not over
    assert_from_the_store(client.get(reverse("dashboard:threat_models", args=["acme"])), sandbox)
    assert fault_hits(sandbox) == 1


def test_a_503_with_a_long_retry_after_is_not_waited_for(
    client, alice, sandbox, synced_a_while_ago, short_deadline, sleeps
):
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", status=503, retry_after=30)
    response, elapsed = timed_get(client, reverse("dashboard:threat_models", args=["acme"]))
    assert_from_the_store(response, sandbox)
    assert "Retry-After" not in response  # the page is the store's, whole: nothing to come back for
    calls = tmi_calls(sandbox)
    assert calls["GET /threat_models"] == 1 and max(calls.values()) == 1  # no call sent again
    assert fault_hits(sandbox) == sum(calls.values()) and sleeps == []
    assert elapsed < PAGE_DEADLINE + 1.5


def test_a_short_retry_after_within_the_deadline_is_still_waited_for(
    client, alice, sandbox, synced_a_while_ago, settings, sleeps, sync_passes
):
    """The deadline takes away only the waits that cannot end in time; TMI asking for 1 s of 10 gets it, and the
    page's sync then reads the member's set."""
    settings.PORTAL_TMI_PAGE_DEADLINE_SECONDS = 10.0
    add_fault(sandbox.base_url, path_prefix="/threat_models", method="GET", status=429, retry_after=1, times=1)
    response = client.get(reverse("dashboard:portfolio", args=["acme"]))
    assert_from_the_store(response, sandbox)
    assert sleeps == [1.0]
    [report] = sync_passes
    assert report.sets_read == 1 and not report.errors and not report.stopped
