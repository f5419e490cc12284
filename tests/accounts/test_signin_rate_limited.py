"""TMI refusing a sign-in's code exchange for its rate limits (0.217.8: 100 auth-flow calls a minute per address,
loopback included; 1.8.22: the same per address, here with loopback counted) shows a "TMI is busy" page that
waits the Retry-After and then completes the sign-in by itself, against a sandbox with its limits on."""

from __future__ import annotations

import time

import httpx
import pytest
from django.contrib.messages import get_messages

from portal.accounts import signin_waiting
from portal.accounts.models import TMIConnection
from portal.organizations import tmi_budget
from portal.organizations.models import Organization
from tests.accounts.flow import start
from tests.sandbox.helpers import advance_clock, count_requests_afresh, requests_seen

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def limited_tmi(sandbox_factory, generation):
    return sandbox_factory(generation, rate_limits=True, rate_limit_loopback=True)


@pytest.fixture(autouse=True)
def fresh_budget(limited_tmi):
    """The portal's own auth-flow budget of this (reused) sandbox address starts and ends empty."""
    tmi_budget.tmi_budget_forget(limited_tmi.base_url)
    yield
    tmi_budget.tmi_budget_forget(limited_tmi.base_url)


@pytest.fixture
def acme(limited_tmi):
    return Organization.objects.create(
        name="Acme", slug="acme", tmi_base_url=limited_tmi.base_url, allowed_email_domains=["tmi.local", "test.tmi"]
    )


def test_a_sign_in_tmi_refuses_for_its_rate_limit_waits_on_a_busy_page_and_completes_by_itself(
    acme, limited_tmi, browser, monkeypatch
):
    attempt = start(browser, acme, "alice")  # the browser's authorize: this address's first auth-flow call
    with httpx.Client(base_url=limited_tmi.base_url, timeout=10) as tmi:
        for _ in range(99):  # others on this address (a script, other portals' refreshes) spend the rest
            assert tmi.post("/oauth2/refresh", json={"refresh_token": "spent"}).status_code == 400
    count_requests_afresh(limited_tmi.base_url)
    busy = browser.get(attempt.callback_path)  # the portal's code exchange: the 101st in the minute, 429
    assert busy.status_code == 200 and [t.name for t in busy.templates][0] == "accounts/signin_busy.html"
    page = busy.content.decode()
    wait = int(busy["Retry-After"])
    assert 1 <= wait <= 60 and "TMI is busy" in page and "continues by itself" in page
    assert f'<meta http-equiv="refresh" content="{wait};url=/auth/complete/tmi/continue/">' in page
    assert not [str(m) for m in get_messages(busy.wsgi_request)]  # no error said
    assert "_auth_user_id" not in browser.session and not TMIConnection.objects.exists()

    early = browser.get("/auth/complete/tmi/continue/")  # "Continue now" before the wait is over
    assert early.status_code == 200 and "TMI is busy" in early.content.decode()
    assert requests_seen(limited_tmi.base_url, "POST /oauth2/token") == 1  # TMI was not asked again

    # The Retry-After passes (TMI's window, the page's wait and the portal's own budget, which heard the 429).
    advance_clock(limited_tmi.base_url, 61)
    for clock in (signin_waiting, tmi_budget):
        monkeypatch.setattr(clock, "_now", lambda real=time.time: real() + 61)
    done = browser.get("/auth/complete/tmi/continue/")  # where the meta refresh goes: the same code, unspent
    assert done.status_code == 302 and done["Location"] == "/o/acme/", done.content.decode()[:500]
    assert browser.session["_auth_user_id"] and TMIConnection.objects.count() == 1
    assert browser.get("/auth/complete/tmi/continue/")["Location"] == "/"  # continued once only
