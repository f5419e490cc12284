"""Open admin pages hear about changes: the socket admits owners and admins of that organisation only (4404
otherwise) and forwards the events the services broadcast after commit."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from portal.tenant_admin import services
from portal.tenant_admin.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def listen(user, slug="acme"):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/o/{slug}/admin/events/")
    communicator.scope["user"] = user if user is not None else AnonymousUser()
    connected, _ = await communicator.connect()
    return communicator, connected


@pytest.mark.parametrize("who", ["member", "outsider", "anonymous"])
async def test_only_owners_and_admins_may_listen(world, who):
    communicator, connected = await listen(world.users.get(who))
    assert connected  # accepted, then closed with the code the page understands
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": 4404}
    await communicator.wait()


async def test_an_admin_hears_what_another_admin_changed(world):
    communicator, connected = await listen(world.users["admin"])
    assert connected
    await database_sync_to_async(services.membership_role_change)(
        organization=world.acme, actor=world.users["owner"], membership_id=world.target.pk, role="admin"
    )
    event = await communicator.receive_json_from(timeout=3)
    assert event == {
        "section": "members",
        "summary": "changed the role of erin@example.com",
        "actor": "alice@example.com",
        "actor_id": world.users["owner"].pk,
    }
    await communicator.disconnect()


async def test_other_organisations_changes_stay_there(world):
    acme_admin, _ = await listen(world.users["admin"])
    globex_owner, _ = await listen(world.users["outsider"], slug="globex")
    await database_sync_to_async(services.organization_domains_update)(
        organization=world.globex, actor=world.users["outsider"], domains=["globex.test"]
    )
    assert (await globex_owner.receive_json_from(timeout=3))["section"] == "members"
    assert await acme_admin.receive_nothing(timeout=0.5)
    await acme_admin.disconnect()
    await globex_owner.disconnect()


async def test_a_refused_change_tells_nobody(world):
    communicator, _ = await listen(world.users["owner"])
    own = await database_sync_to_async(lambda: world.acme.memberships.get(user=world.users["owner"]).pk)()
    with pytest.raises(services.AdminActionRefused):
        await database_sync_to_async(services.membership_remove)(
            organization=world.acme, actor=world.users["owner"], membership_id=own
        )
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()
