"""What one live socket learns of the others on the same diagram: their own roles, never another tenant's."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from portal.live.models import LiveConnection
from portal.live.selectors import live_roles_list
from portal.live.services import live_connection_role_set


@pytest.fixture
def diagram_id() -> str:
    return str(uuid.uuid4())


def opened(organization, user, diagram_id: str, channel: str) -> None:
    """A socket's bookkeeping row (live_connection_open also reads the member's tokens, which these have not)."""
    LiveConnection.objects.create(
        organization=organization,
        user=user,
        threat_model_id=str(uuid.uuid4()),
        diagram_id=diagram_id,
        channel_name=channel,
    )


def test_the_others_roles_and_who_has_not_said_yet(organization, django_user_model, diagram_id):
    alice, bob, carol = (django_user_model.objects.create(username=n) for n in ("alice", "bob", "carol"))
    for user, channel in ((alice, "a"), (bob, "b"), (carol, "c")):
        opened(organization, user, diagram_id, channel)
    live_connection_role_set(channel_name="b", tmi_user_id="bob", can_edit=False)
    assert live_roles_list(organization=organization, diagram_id=diagram_id, channel_name="a") == ({"bob": False}, True)
    live_connection_role_set(channel_name="c", tmi_user_id="carol", can_edit=True)
    live_connection_role_set(channel_name="a", tmi_user_id="alice", can_edit=True)
    assert live_roles_list(organization=organization, diagram_id=diagram_id, channel_name="a") == (
        {"bob": False, "carol": True},
        False,
    )


def test_another_organisations_sockets_never_count(organization, other_organization, django_user_model, diagram_id):
    """Two tenants on one TMI server: what a socket of the other tenant says about a user id is not used,
    even on the same diagram."""
    mallory = django_user_model.objects.create(username="mallory")
    alice = django_user_model.objects.create(username="alice")
    opened(other_organization, mallory, diagram_id, "m")
    live_connection_role_set(channel_name="m", tmi_user_id="bob", can_edit=True)
    opened(organization, alice, diagram_id, "a")
    assert live_roles_list(organization=organization, diagram_id=diagram_id, channel_name="a") == ({}, False)


@pytest.mark.django_db(transaction=True)
async def test_sockets_on_one_diagram_share_a_fresh_read_of_the_roles(
    organization, django_user_model, diagram_id, monkeypatch
):
    """Someone joins: everyone already on the diagram reads the roles at once, with one query between them.
    A read older than ROLES_SHARED_SECONDS is not used again, and another organisation never shares it."""
    from channels.db import database_sync_to_async

    from portal.live import selectors

    reads = []
    real_read = selectors._alive_roles_rows

    async def counted_read(**kwargs):
        reads.append(kwargs)
        return await real_read(**kwargs)

    monkeypatch.setattr(selectors, "_alive_roles_rows", counted_read)

    @database_sync_to_async
    def setup():
        users = [django_user_model.objects.create(username=n) for n in ("alice", "bob", "carol")]
        for user, channel in zip(users, "abc", strict=True):
            opened(organization, user, diagram_id, channel)
            live_connection_role_set(channel_name=channel, tmi_user_id=user.username, can_edit=channel != "b")

    await setup()

    async def everyone_reads():
        return await asyncio.gather(
            *(
                selectors.alive_roles_list(organization=organization, diagram_id=diagram_id, channel_name=c)
                for c in "abc"
            )
        )

    seen = await everyone_reads()
    assert seen == [
        ({"bob": False, "carol": True}, False),
        ({"alice": True, "carol": True}, False),
        ({"alice": True, "bob": False}, False),
    ]
    assert len(reads) == 1

    await database_sync_to_async(live_connection_role_set)(channel_name="b", tmi_user_id="bob", can_edit=True)
    await asyncio.sleep(selectors.ROLES_SHARED_SECONDS + 0.05)
    assert (await everyone_reads())[0] == ({"bob": True, "carol": True}, False)
    assert len(reads) == 2

    # Someone joined after that read began: who reacts to it asks for a read begun since.
    joined_at = asyncio.get_running_loop().time()
    await selectors.alive_roles_list(
        organization=organization, diagram_id=diagram_id, channel_name="a", since=joined_at
    )
    assert len(reads) == 3
