"""The admin pages' socket: it forwards "something changed" events of the member's organisation.

Only owners and admins of that organisation may listen; anyone else is closed with 4404, the
socket twin of the pages' 404.
"""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from portal.organizations.access import OrganizationNotFound, aorganization_access_resolve
from portal.organizations.events import admin_group
from portal.organizations.models import Role

NOT_FOUND = 4404


class AdminEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            access = await aorganization_access_resolve(slug=slug, user=self.scope.get("user"), minimum_role=Role.ADMIN)
        except OrganizationNotFound:
            await self.accept()  # accepted first, so the browser sees the code rather than a failed handshake
            await self.close(code=NOT_FOUND)
            return
        self.group = admin_group(access.organization.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The browser only listens."""

    async def admin_changed(self, event: dict) -> None:
        await self.send_json({key: event.get(key) for key in ("section", "summary", "actor", "actor_id")})
