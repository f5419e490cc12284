"""Reading what the live page shows first: the threat model and the diagram, as the member sees them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

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
