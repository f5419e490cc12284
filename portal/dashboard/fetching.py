"""The TMI calls behind the dashboard, made concurrently where they do not depend on each other."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from portal.dashboard.concurrency import PER_PAGE_CONCURRENCY, gather_limited
from portal.portfolio.vocabulary import severity_key, threat_is_open
from portal.tmi import (
    Asset,
    AsyncTMIClient,
    Diagram,
    Document,
    Failure,
    Note,
    Repository,
    Threat,
    ThreatModel,
    TMIError,
    TMListItem,
    failure_of,
)
from portal.tmi.pagination import MAX_LIMIT


async def all_threat_models(
    client: AsyncTMIClient, *, concurrency: int = PER_PAGE_CONCURRENCY, **filters: Any
) -> list[TMListItem]:
    """Every threat model the member can read. 1.8 says the total on the first page, so the other pages
    are fetched together; 0.217 does not, so its pages are walked until a short one."""
    first = await client.threat_models.list(limit=MAX_LIMIT, offset=0, **filters)
    items = list(first.items)
    if first.total is not None:
        offsets = range(first.next_offset, first.total, MAX_LIMIT) if first.items else range(0)
        pages = await gather_limited(
            [lambda o=o: client.threat_models.list(limit=MAX_LIMIT, offset=o, **filters) for o in offsets],
            limit=concurrency,
        )
        for page in pages:
            items.extend(page.items)
        return items
    page = first
    while page.has_next:
        page = await client.threat_models.list(limit=MAX_LIMIT, offset=page.next_offset, **filters)
        items.extend(page.items)
    return items


async def all_children(resource: Any, threat_model_id: str) -> list[Any]:
    return [item async for item in resource.iter(threat_model_id)]


def open_by_severity(threats: list[Threat]) -> dict[str, int]:
    counts = Counter(
        severity_key(t.severity) for t in threats if threat_is_open(status=t.status, mitigated=t.mitigated)
    )
    return dict(counts)


async def open_threats(client: AsyncTMIClient, item: TMListItem) -> dict[str, int] | None:
    """Open threats by severity for one model; None when TMI refuses them to this member (its ACL may
    have changed since the list was read)."""
    if item.threat_count == 0:
        return {}  # the list already says there is nothing to fetch
    try:
        return open_by_severity(await all_children(client.threats, item.id))
    except TMIError as exc:
        if failure_of(exc) in (Failure.FORBIDDEN, Failure.NOT_FOUND):
            return None
        raise  # the page's failure (accounts/tmi_pages.py)


@dataclass
class ThreatModelBundle:
    threat_model: ThreatModel
    threats: list[Threat]
    diagrams: list[Diagram]
    documents: list[Document]
    assets: list[Asset]
    notes: list[Note]
    repositories: list[Repository]


async def threat_model_bundle(
    client: AsyncTMIClient, threat_model_id: str, *, concurrency: int = PER_PAGE_CONCURRENCY
) -> ThreatModelBundle:
    """The model first, alone: a member TMI refuses (403) or a model that is gone (404) costs one call, not
    six that the failure would cancel in flight (TMI logs each cancelled call as an error). Then each child
    collection at once; then every diagram (for its cells) and every note (for its content) at once, since
    TMI's lists leave those out. Threats come from their own list, never from the model: TMI 1.8 keeps
    deleted threats embedded in it (PROTOCOL.md 12.17)."""
    tm = await client.threat_models.get(threat_model_id)
    threats, diagram_items, documents, assets, note_items, repositories = await gather_limited(
        [
            lambda: all_children(client.threats, threat_model_id),
            lambda: all_children(client.diagrams, threat_model_id),
            lambda: all_children(client.documents, threat_model_id),
            lambda: all_children(client.assets, threat_model_id),
            lambda: all_children(client.notes, threat_model_id),
            lambda: all_children(client.repositories, threat_model_id),
        ],
        limit=concurrency,
    )
    details = await gather_limited(
        [lambda d=d: client.diagrams.get(threat_model_id, d.id) for d in diagram_items]
        + [lambda n=n: client.notes.get(threat_model_id, n.id) for n in note_items],
        limit=concurrency,
    )
    diagrams, notes = details[: len(diagram_items)], details[len(diagram_items) :]
    return ThreatModelBundle(
        threat_model=tm.model_copy(update={"threats": threats, "diagrams": diagrams}),  # never TMI's embedded copies
        threats=threats,
        diagrams=diagrams,
        documents=documents,
        assets=assets,
        notes=notes,
        repositories=repositories,
    )
