"""Reading what the live page shows first: the threat model and the diagram, as the member sees them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import Exists, OuterRef

from portal.accounts.vault import atmi_client
from portal.live.models import LiveConnection
from portal.tmi import Diagram, Failure, ThreatModel, failure_of


@dataclass(frozen=True)
class LiveDiagram:
    threat_model: ThreatModel
    diagram: Diagram
    generation: str

    @property
    def cells(self) -> list[dict[str, Any]]:
        return [cell.raw for cell in self.diagram.cells or []]


class DiagramMissing(Exception):
    """TMI knows the threat model but not this diagram in it."""


async def live_diagram_get(*, organization: Any, user: Any, threat_model_id: str, diagram_id: str) -> LiveDiagram:
    """The threat model and the diagram (with its cells), fetched together, acting as the member."""
    async with atmi_client(organization=organization, user=user) as client:
        tm, diagram, discovery = await asyncio.gather(
            client.threat_models.get(threat_model_id),
            client.diagrams.get(threat_model_id, diagram_id),
            client.server_info(),
            return_exceptions=True,
        )
    for result in (tm, discovery):
        if isinstance(result, BaseException):
            raise result
    if isinstance(diagram, BaseException) and failure_of(diagram) is Failure.NOT_FOUND:
        raise DiagramMissing(diagram_id)
    if isinstance(diagram, BaseException):
        raise diagram
    return LiveDiagram(threat_model=tm, diagram=diagram, generation=discovery.generation)


def live_connection_open_condition():
    """For the token vault's background refresh: the member has a live socket open in the organisation."""
    return Exists(LiveConnection.objects.filter(organization=OuterRef("organization"), user=OuterRef("user")))


def live_roles_list(*, organization: Any, diagram_id: str, channel_name: str) -> tuple[dict[str, bool], bool]:
    """The roles the other live sockets of this organisation on this diagram found for themselves
    ({TMI user id: may edit}), and whether some have not found theirs yet. Another organisation's
    sockets never count, even on the same TMI diagram."""
    others = LiveConnection.objects.filter(organization=organization, diagram_id=diagram_id).exclude(
        channel_name=channel_name
    )
    known = {row.tmi_user_id: row.can_edit for row in others if row.tmi_user_id and row.can_edit is not None}
    return known, any(row.can_edit is None for row in others)


alive_roles_list = database_sync_to_async(live_roles_list)
