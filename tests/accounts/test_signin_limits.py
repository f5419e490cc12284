"""Sign-in starts are limited: a few a minute per browser session and per client address (each start
asks TMI and stores an OAuth state), and a session keeps at most five pending OAuth states, the oldest
dropped (its callback then fails cleanly), against the real sandbox in both TMI generations."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from portal.accounts.models import TMIConnection
from tests.accounts.flow import portal_client, sign_in, start

pytestmark = pytest.mark.django_db(transaction=True)

STATE_PREFIX = "tmi_oauth2_state_"


@pytest.fixture
def alice(organization):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    return "alice"


def pending_states(client) -> list[str]:
    return [key for key in client.session.keys() if key.startswith(STATE_PREFIX)]


def messages_on_login(client) -> str:
    return client.get("/o/acme/login/").content.decode()


def test_twenty_starts_keep_five_states_the_oldest_fails_cleanly_the_newest_completes(
    organization, alice, browser, settings
):
    settings.PORTAL_SIGNIN_STARTS_PER_MINUTE = 100  # this test is about the states, not the rate
    settings.PORTAL_SIGNIN_STARTS_PER_MINUTE_PER_ADDRESS = 100
    oldest = start(browser, organization, "alice")
    for _ in range(18):
        assert start(browser, organization, "alice", to_tmi=False).start.status_code == 302
    newest = start(browser, organization, "alice")

    states = pending_states(browser)
    assert len(states) == 5, states
    assert f"{STATE_PREFIX}{newest.state}" in states and f"{STATE_PREFIX}{oldest.state}" not in states
    assert len(browser.session["tmi_oauth2_transaction_index"]) == 5

    dropped = browser.get(oldest.callback_path)
    assert dropped.status_code == 302 and dropped["Location"] == "/o/acme/login/"
    assert "expired or was started in another browser" in messages_on_login(browser)
    assert "_auth_user_id" not in browser.session and not TMIConnection.objects.exists()

    done = browser.get(newest.callback_path)
    assert done.status_code == 302 and done["Location"] == "/o/acme/", done.content.decode()[:500]
    assert "_auth_user_id" in browser.session and TMIConnection.objects.count() == 1


def test_the_eleventh_start_in_a_minute_from_one_session_is_refused_in_words(organization, alice, browser):
    assert django_settings.PORTAL_SIGNIN_STARTS_PER_MINUTE == 10
    for _ in range(10):
        assert start(browser, organization, "alice", to_tmi=False).start.status_code == 302
    refused = start(browser, organization, "alice", to_tmi=False).start
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "wait a minute" in refused.content.decode()
    # Another browser is not held back by this one.
    assert sign_in(portal_client(), organization, "alice")["Location"] == "/o/acme/"


def test_starts_from_one_address_are_limited_across_sessions(organization, alice, settings):
    settings.PORTAL_SIGNIN_STARTS_PER_MINUTE_PER_ADDRESS = 12
    for _ in range(12):  # a fresh session each time: cookies thrown away
        assert start(portal_client(), organization, "alice", to_tmi=False).start.status_code == 302
    refused = start(portal_client(), organization, "alice", to_tmi=False).start
    assert refused.status_code == 429 and "Too many sign-in attempts" in refused.content.decode()
    elsewhere = start(portal_client(REMOTE_ADDR="10.20.30.40"), organization, "alice", to_tmi=False).start
    assert elsewhere.status_code == 302
