"""Signing out while TMI hangs: the portal tells TMI what it can within PORTAL_TMI_SIGNOUT_SECONDS, sends
nothing twice, and signs out here anyway. Against the sandbox over real sockets, both generations; what TMI
saw is counted by the sandbox's fault records."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from portal.accounts.models import TMIConnection
from tests.dashboard.conftest import sign_in
from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db(transaction=True)

SIGNOUT_SECONDS = 1.0


@pytest.fixture
def alice(client, organization, member_factory):
    user = member_factory(organization, "alice")
    sign_in(client, user)
    return user


@pytest.fixture
def short_signout(settings):
    settings.PORTAL_TMI_SIGNOUT_SECONDS = SIGNOUT_SECONDS
    settings.TMI_TIMEOUT_SECONDS = 3.0  # each request alone would be allowed longer than sign-out
    settings.TMI_MAX_RETRIES = 2


def fault_hits(sandbox) -> int:
    faults = httpx.get(f"{sandbox.base_url}/_sandbox/faults", timeout=10).json()["faults"]
    return sum(fault["hits"] for fault in faults)


def sign_out(client):
    started = time.monotonic()
    response = client.post("/o/acme/logout/")
    return response, time.monotonic() - started


def assert_signed_out(client, response):
    assert response.status_code == 302 and response["Location"] == "/o/acme/login/"
    assert "_auth_user_id" not in client.session and not TMIConnection.objects.exists()


def test_sign_out_with_tmi_hanging_is_done_within_the_short_timeout(client, alice, sandbox, short_signout):
    add_fault(sandbox.base_url, path_prefix="/", latency_ms=5000)  # every request to TMI hangs
    response, elapsed = sign_out(client)
    assert_signed_out(client, response)
    assert fault_hits(sandbox) == 1  # the first request timed out and nothing was sent after it
    assert elapsed < SIGNOUT_SECONDS + 1.5  # not 3 s per request, not three attempts (loose: a busy machine)


def test_a_slow_revocation_is_given_up_after_the_short_timeout(client, alice, sandbox, short_signout):
    add_fault(sandbox.base_url, path_prefix="/oauth2/revoke", method="POST", latency_ms=5000)
    add_fault(sandbox.base_url, path_prefix="/me/logout", method="POST", latency_ms=5000)
    response, elapsed = sign_out(client)
    assert_signed_out(client, response)
    assert fault_hits(sandbox) == 1
    assert elapsed < SIGNOUT_SECONDS + 1.5


def test_the_refresh_before_revoking_shares_the_same_deadline(client, alice, organization, sandbox, short_signout):
    """An access token about to expire is refreshed before it is revoked; TMI hanging on the refresh takes
    the whole budget, and the revocation is not started afresh after it."""
    TMIConnection.objects.filter(user=alice).update(expires_at=timezone.now() + timedelta(seconds=5))
    add_fault(sandbox.base_url, path_prefix="/oauth2/", method="POST", latency_ms=5000)  # refresh and revoke
    response, elapsed = sign_out(client)
    assert_signed_out(client, response)
    assert fault_hits(sandbox) == 1
    assert elapsed < SIGNOUT_SECONDS + 1.5
