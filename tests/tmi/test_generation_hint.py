"""A generation hint: what an earlier client learnt from GET /, used without asking again until an answer of
the other generation's shape puts it in doubt (portal/tmi/runners.py)."""

from __future__ import annotations

import pytest

from portal.tmi import NotFound, TMIClient
from tests.sandbox.helpers import count_requests_afresh, requests_seen

OTHER = {"1.8": "0.217", "0.217": "1.8"}


def test_a_right_hint_saves_asking_get_root(sandbox, generation, alice_tokens):
    count_requests_afresh(sandbox.base_url)
    told = []
    with TMIClient(sandbox.base_url, auth=alice_tokens, generation_hint=generation, on_discovery=told.append) as client:
        assert client.auth.me().email  # /me at 1.8, /users/me at 0.217: the hint chose the path
        client.auth.me()
    assert requests_seen(sandbox.base_url, "GET /") == 0 and told == []


def test_without_a_hint_get_root_is_asked_once_and_the_hook_told(sandbox, generation, alice_tokens):
    count_requests_afresh(sandbox.base_url)
    told = []
    with TMIClient(sandbox.base_url, auth=alice_tokens, on_discovery=told.append) as client:
        client.auth.me()
        client.auth.me()
    assert requests_seen(sandbox.base_url, "GET /") == 1
    assert [info.generation for info in told] == [generation]


def test_a_stale_hint_costs_one_call_then_the_real_generation_is_used_and_told(sandbox, generation, alice_tokens):
    """The server was upgraded (or replaced) at the same address since the hint was learnt."""
    told = []
    with TMIClient(
        sandbox.base_url, auth=alice_tokens, generation_hint=OTHER[generation], on_discovery=told.append
    ) as client:
        with pytest.raises(NotFound):
            client.auth.me()  # the other generation's path
        assert [info.generation for info in told] == [generation]
        assert client.server.generation == generation
        assert client.auth.me().email
