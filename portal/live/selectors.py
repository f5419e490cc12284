"""Reading what the live page shows first: the threat model and the diagram, as the member sees them."""

from __future__ import annotations

import asyncio
import math
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


def live_roles_rows(*, organization: Any, diagram_id: str) -> list[tuple[str, str, bool | None]]:
    """(channel name, TMI user id, may edit) of every live socket of this organisation on this diagram.
    Another organisation's sockets never count, even on the same TMI diagram."""
    return list(
        LiveConnection.objects.filter(organization=organization, diagram_id=diagram_id).values_list(
            "channel_name", "tmi_user_id", "can_edit"
        )
    )


def live_roles_list(*, organization: Any, diagram_id: str, channel_name: str) -> tuple[dict[str, bool], bool]:
    """The roles the other live sockets of this organisation on this diagram found for themselves
    ({TMI user id: may edit}), and whether some have not found theirs yet."""
    return _roles_of_others(live_roles_rows(organization=organization, diagram_id=diagram_id), channel_name)


def _roles_of_others(rows: list[tuple[str, str, bool | None]], channel_name: str) -> tuple[dict[str, bool], bool]:
    others = [row for row in rows if row[0] != channel_name]
    known = {user_id: can_edit for _, user_id, can_edit in others if user_id and can_edit is not None}
    return known, any(can_edit is None for _, _, can_edit in others)


# When someone joins a diagram, everyone already on it reads the roles at once: one query serves them all.
ROLES_SHARED_SECONDS = 0.2
_shared_reads: dict[tuple[asyncio.AbstractEventLoop, int, str], tuple[float, asyncio.Future]] = {}
_alive_roles_rows = database_sync_to_async(live_roles_rows)


async def alive_roles_list(
    *, organization: Any, diagram_id: str, channel_name: str, since: float | None = None
) -> tuple[dict[str, bool], bool]:
    """`live_roles_list` for the bridge: the sockets of this process on one diagram share a read begun no
    earlier than `since` (the event loop's clock), and within ROLES_SHARED_SECONDS. A role
    published since is seen by the next read; the bridge reads again while some are still unknown."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    since = -math.inf if since is None else since
    key = (loop, organization.pk, str(diagram_id))
    shared = _shared_reads.get(key)
    if shared is None or shared[0] < since or now - shared[0] > ROLES_SHARED_SECONDS:
        for old in [k for k, (at, _) in _shared_reads.items() if now - at > ROLES_SHARED_SECONDS or k[0] is not loop]:
            del _shared_reads[old]
        shared = (now, asyncio.ensure_future(_alive_roles_rows(organization=organization, diagram_id=diagram_id)))
        _shared_reads[key] = shared
    return _roles_of_others(await asyncio.shield(shared[1]), channel_name)
