"""The auth-flow budget against a TMI sandbox that enforces the real servers' limits, loopback counted (1.8.22:
100 auth-flow calls in any 60 s per address; 0.217.8: 100 a minute): refreshes from many threads stay within the
portal's budget and short of the sign-ins' reserve, a sign-in gets through when refreshes have spent their share,
and a refresh that meets TMI's 429 waits and retries, never signing anyone out."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from django.db import connection as db

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_connection_get, tmi_tokens_get, tmi_tokens_refresh
from portal.organizations import tmi_budget
from portal.organizations.models import Organization
from portal.tmi import RateLimited
from tests.accounts.flow import sign_in
from tests.sandbox.helpers import add_fault, advance_clock, clear_faults, count_requests_afresh, requests_seen

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def limited_tmi(sandbox_factory, generation):
    return sandbox_factory(generation, rate_limits=True, rate_limit_loopback=True)


@pytest.fixture
def acme(limited_tmi):
    return Organization.objects.create(
        name="Acme", slug="acme", tmi_base_url=limited_tmi.base_url, allowed_email_domains=["tmi.local", "test.tmi"]
    )


@pytest.fixture(autouse=True)
def budget_of_ten(settings, limited_tmi):
    """A budget of 10 a minute, 2 of them kept for sign-ins: small enough to spend in a test."""
    settings.PORTAL_TMI_AUTH_CALLS_PER_MINUTE = 10
    settings.PORTAL_TMI_AUTH_RESERVE_PERCENT = 20
    tmi_budget.tmi_budget_forget(limited_tmi.base_url)
    yield
    tmi_budget.tmi_budget_forget(limited_tmi.base_url)


def refresh_all(connection_ids: list[int], threads: int) -> tuple[list[int], list[int], list[Exception]]:
    """Refresh each connection once, `threads` at a time: (refreshed, rate-limited, other errors)."""
    refreshed, limited, errors, todo = [], [], [], list(connection_ids)
    lock = threading.Lock()

    def work():
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    pk = todo.pop()
                try:
                    tmi_tokens_refresh(connection_id=pk)
                    refreshed.append(pk)
                except RateLimited:
                    limited.append(pk)
                except Exception as error:  # collected and asserted by the caller
                    errors.append(error)
        finally:
            db.close()

    running = [threading.Thread(target=work) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=60)
    return refreshed, limited, errors


def test_a_burst_of_refreshes_stays_within_the_budget_and_short_of_the_reserve(acme, limited_tmi, member_factory):
    members = [member_factory(acme, f"user{i}") for i in range(12)]
    before = {c.pk: c.refresh_token for c in TMIConnection.objects.all()}
    count_requests_afresh(limited_tmi.base_url)
    refreshed, limited, errors = refresh_all(list(before), threads=4)
    assert errors == []
    assert len(refreshed) == 8 and len(limited) == 4  # 10 a minute, less the 2 kept for sign-ins
    assert requests_seen(limited_tmi.base_url, "POST /oauth2/refresh") == 8  # the 4 others never reached TMI
    after = {c.pk: c for c in TMIConnection.objects.all()}
    assert all(not c.needs_sign_in for c in after.values()) and len(members) == 12  # nobody is signed out
    assert all(after[pk].refresh_token != before[pk] for pk in refreshed)
    assert all(after[pk].refresh_token == before[pk] for pk in limited)  # unspent, still good


def test_a_sign_in_gets_through_when_refreshes_have_spent_their_share(acme, limited_tmi, member_factory, browser):
    for i in range(9):
        member_factory(acme, f"user{i}")
    refreshed, limited, errors = refresh_all(list(TMIConnection.objects.values_list("pk", flat=True)), threads=3)
    assert (len(refreshed), len(limited), errors) == (8, 1, [])  # the ninth refresh stops short of the reserve
    count_requests_afresh(limited_tmi.base_url)
    done = sign_in(browser, acme, "alice")  # the code exchange takes one of the two places kept
    assert done.status_code == 302 and done["Location"] == "/o/acme/", done.content.decode()[:500]
    assert browser.session["_auth_user_id"] and TMIConnection.objects.count() == 10
    assert requests_seen(limited_tmi.base_url, "POST /oauth2/token") == 1


def test_a_refresh_that_meets_tmis_429_waits_and_retries_without_signing_anyone_out(acme, limited_tmi, member_factory):
    alice = member_factory(acme, "alice")
    connection_id = tmi_connection_get(organization=acme, user=alice).pk
    stale = tmi_tokens_get(organization=acme, user=alice)
    add_fault(limited_tmi.base_url, path_prefix="/oauth2/refresh", status=429, retry_after=1, times=1)
    try:
        count_requests_afresh(limited_tmi.base_url)
        started = time.monotonic()
        fresh = tmi_tokens_refresh(connection_id=connection_id, stale=stale)  # 429, a second's wait, then 200
        assert time.monotonic() - started >= 1
    finally:
        clear_faults(limited_tmi.base_url)
    assert requests_seen(limited_tmi.base_url, "POST /oauth2/refresh") == 2
    stored = TMIConnection.objects.get(pk=connection_id)
    assert not stored.needs_sign_in and stored.refresh_token == fresh.refresh_token != stale.refresh_token


def test_a_refresh_tmi_keeps_refusing_is_postponed_not_a_sign_out(acme, limited_tmi, member_factory, settings):
    settings.PORTAL_TMI_AUTH_CALLS_PER_MINUTE = 1000  # the portal does not know of the others at its address
    settings.TMI_REFRESH_RATE_LIMIT_WAIT_SECONDS = 2  # TMI's Retry-After (about 60 s) is longer than that
    alice = member_factory(acme, "alice")
    connection_id = tmi_connection_get(organization=acme, user=alice).pk
    stale = tmi_tokens_get(organization=acme, user=alice)
    with httpx.Client(base_url=limited_tmi.base_url, timeout=10) as tmi:
        while tmi.post("/oauth2/refresh", json={"refresh_token": "spent"}).status_code != 429:
            pass  # others at this address spend TMI's whole window
    with pytest.raises(RateLimited):
        tmi_tokens_refresh(connection_id=connection_id, stale=stale)
    stored = TMIConnection.objects.get(pk=connection_id)
    assert not stored.needs_sign_in and stored.refresh_token == stale.refresh_token  # signed in, token unspent
    # The portal heard the 429: its budget is closed until the Retry-After, so nobody asks TMI meanwhile.
    count_requests_afresh(limited_tmi.base_url)
    with pytest.raises(RateLimited):
        tmi_tokens_refresh(connection_id=connection_id, stale=stale)
    assert requests_seen(limited_tmi.base_url, "POST /oauth2/refresh") == 0
    advance_clock(limited_tmi.base_url, 61)
    later = tmi_budget._now() + 61
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tmi_budget, "_now", lambda: later)
        fresh = tmi_tokens_refresh(connection_id=connection_id, stale=stale)
    assert TMIConnection.objects.get(pk=connection_id).refresh_token == fresh.refresh_token != stale.refresh_token


def test_beat_refreshes_within_the_budget_and_postpones_the_rest(acme, limited_tmi, member_factory):
    from datetime import timedelta

    from django.utils import timezone

    from portal.accounts.refresh import tmi_tokens_refresh_due
    from portal.live.models import LiveConnection

    for i in range(10):  # ten members with a live socket open, their access tokens about to expire
        user = member_factory(acme, f"user{i}")
        LiveConnection.objects.create(
            organization=acme,
            user=user,
            threat_model_id="00000000-0000-0000-0000-000000000001",
            diagram_id="00000000-0000-0000-0000-000000000002",
            channel_name=f"specific.{i}",
        )
    TMIConnection.objects.update(expires_at=timezone.now() + timedelta(seconds=60))
    report = tmi_tokens_refresh_due()
    assert len(report.refreshed) == 8 and len(report.postponed) == 2 and not report.refused + report.unreachable
    assert not TMIConnection.objects.filter(needs_sign_in=True).exists()
    later = tmi_budget._now() + tmi_budget.WINDOW_SECONDS + 1
    with pytest.MonkeyPatch.context() as patch:  # the next beat, a minute on: the two postponed are done
        patch.setattr(tmi_budget, "_now", lambda: later)
        assert sorted(tmi_tokens_refresh_due().refreshed) == sorted(report.postponed)
