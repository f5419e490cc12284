"""The generation of each TMI server, remembered for every client the portal builds (accounts/tmi_generations.py):
GET / is slow on a real server and 0.217 rate-limits it, so pages must not ask it each time."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from portal.accounts.tmi_generations import tmi_generation_hint
from portal.accounts.vault import tmi_client
from portal.tmi import NotFound
from tests.sandbox.helpers import count_requests_afresh, requests_seen

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = {"1.8": "0.217", "0.217": "1.8"}


def page(client, user) -> int:
    """The threat-model list as `user` (each member's answers are cached apart, so each one's page goes to TMI),
    which pages by TMI at 1.8 and by the portal at 0.217, so it needs the generation."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client.get(reverse("dashboard:threat_models", args=["acme"]), {"sort": "created"}).status_code


def test_pages_ask_get_root_once_per_server_not_per_page(
    client, organization, sandbox, generation, owner, admin, member
):
    count_requests_afresh(sandbox.base_url)
    assert [page(client, user) for user in (owner, admin, member)] == [200, 200, 200]
    assert requests_seen(sandbox.base_url, "GET /") == 1
    assert tmi_generation_hint(organization.tmi_base_url) == generation


def test_the_generation_is_asked_again_once_it_is_an_hour_old(client, organization, sandbox, owner, admin):
    """The entry lives GENERATION_SECONDS; gone, the next page asks once more."""
    page(client, owner)
    cache.delete(_key_for(organization))  # as when its hour is over
    count_requests_afresh(sandbox.base_url)
    assert page(client, admin) == 200
    assert requests_seen(sandbox.base_url, "GET /") == 1


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
