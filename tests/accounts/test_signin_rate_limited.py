"""TMI refusing a sign-in for its rate limits (0.217.8: 100 auth-flow calls a minute per address, loopback
included; 1.8.22: the same per address, here with loopback counted) is said in words that name the wait,
not "TMI is not answering", against a sandbox with its limits on."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.messages import get_messages

from portal.accounts.models import TMIConnection
from portal.organizations.models import Organization
from tests.accounts.flow import sign_in, start

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def limited_tmi(sandbox_factory, generation):
    return sandbox_factory(generation, rate_limits=True, rate_limit_loopback=True)


@pytest.fixture
def acme(limited_tmi):
    return Organization.objects.create(
        name="Acme", slug="acme", tmi_base_url=limited_tmi.base_url, allowed_email_domains=["tmi.local", "test.tmi"]
    )


def test_a_sign_in_tmi_refuses_for_its_rate_limit_says_so_and_when_to_try_again(acme, limited_tmi, browser):
    attempt = start(browser, acme, "alice")  # the browser's authorize: this address's first auth-flow call
    with httpx.Client(base_url=limited_tmi.base_url, timeout=10) as tmi:
        for _ in range(99):  # others on this address (a script, other portals' refreshes) spend the rest
            assert tmi.post("/oauth2/refresh", json={"refresh_token": "spent"}).status_code == 400
    refused = browser.get(attempt.callback_path)  # the portal's code exchange: the 101st in the minute, 429
    assert refused.status_code == 302 and refused["Location"] == "/o/acme/login/"
    said = [str(m) for m in get_messages(refused.wsgi_request)]
    assert said == ["TMI is limiting sign-ins right now. Please try again in 1 minute."]
    assert "_auth_user_id" not in browser.session and not TMIConnection.objects.exists()

    httpx.post(f"{limited_tmi.base_url}/_sandbox/clock", json={"advance_seconds": 61}).raise_for_status()
    done = sign_in(browser, acme, "alice")
    assert done.status_code == 302 and done["Location"] == "/o/acme/", done.content.decode()[:500]
    assert TMIConnection.objects.count() == 1
