"""The generation of each TMI server, remembered for every client the portal builds (accounts/tmi_generations.py):
GET / is slow on a real server and 0.217 rate-limits it, so the syncs that read the store (and the live page and
exports, which call TMI at once) must not ask it each time; pages read the store and call TMI not at all."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from portal.accounts.tmi_generations import tmi_generation_hint
from portal.accounts.vault import tmi_client
from portal.portfolio.sync import portfolio_sync
from portal.tmi import NotFound
from tests.sandbox.helpers import count_requests_afresh, requests_seen

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = {"1.8": "0.217", "0.217": "1.8"}


def sync_as(organization, user) -> int:
    """A sync that reads `user`'s visible set now (what a first visit or a stale set asks for), with its own TMI
    clients acting as that member: each new client is handed the remembered generation, so however many syncs
    run, none asks GET / while it is remembered. The number of TMI calls it made (some, and no trouble)."""
    report = portfolio_sync(organization, members={user.pk})
    assert report.calls > 0 and report.sets_read >= 1, report
    assert not report.errors and not report.stopped, report
    return report.calls


def page(client, user) -> int:
    """The threat-model list as `user`: read from the store, so it asks TMI nothing (its sync is done)."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.get(reverse("dashboard:threat_models", args=["acme"]), {"sort": "created"}).status_code


def me_as(organization, user) -> str:
    """A client built as the live page and exports build theirs (acting as the member, at once); /me is
    /me at 1.8 and /users/me at 0.217, so it needs the generation: GET / unless it is remembered."""
    with tmi_client(organization=organization, user=user) as tmi:
        return tmi.auth.me().email


def test_pages_ask_get_root_once_per_server_not_per_page(
    client, organization, sandbox, generation, owner, admin, member
):
    cache.delete(_key_for(organization))  # nothing remembered yet for this server
    count_requests_afresh(sandbox.base_url)
    users = (owner, admin, member)
    assert all(sync_as(organization, user) for user in users)
    assert all(sync_as(organization, user) for user in users)  # again: each member's set is read again
    assert all(me_as(organization, user) for user in users)
    assert [page(client, user) for user in users] == [200, 200, 200]
    assert requests_seen(sandbox.base_url, "GET /") == 1
    assert tmi_generation_hint(organization.tmi_base_url) == generation


def test_the_generation_is_asked_again_once_it_is_an_hour_old(client, organization, sandbox, owner, admin):
    """The entry lives GENERATION_SECONDS; gone, the next client that needs it asks once more, and only once."""
    me_as(organization, owner)
    assert tmi_generation_hint(organization.tmi_base_url) is not None
    cache.delete(_key_for(organization))  # as when its hour is over
    count_requests_afresh(sandbox.base_url)
    sync_as(organization, admin)
    assert me_as(organization, admin) and me_as(organization, owner)
    sync_as(organization, owner)
    assert page(client, admin) == 200
    assert requests_seen(sandbox.base_url, "GET /") == 1
    assert tmi_generation_hint(organization.tmi_base_url) is not None


def test_a_server_replaced_at_the_same_address_is_read_again(organization, sandbox, generation, owner):
    """The cache says the other generation (the server was upgraded since). The first call whose route differs
    between generations fails, the client asks GET / and the portal remembers the real answer: the next call,
    in any client of any process, is right."""
    cache.set(_key_for(organization), OTHER[generation], 3600)
    with tmi_client(organization=organization, user=owner) as client, pytest.raises(NotFound):
        client.auth.me()  # /me at 1.8, /users/me at 0.217: sent to the other one's
    assert tmi_generation_hint(organization.tmi_base_url) == generation
    with tmi_client(organization=organization, user=owner) as client:
        assert client.auth.me().email


def _key_for(organization) -> str:
    from portal.accounts.tmi_generations import _key

    return _key(organization.tmi_base_url)
