"""Everything a PDF report needs, fetched from TMI as the member, before any rendering starts.

Sync on purpose: it runs in Celery workers, with `portal.accounts.vault.tmi_client`. TMI errors propagate
unchanged (`portal.tmi.errors.TMIError` subclasses), so the caller decides what is worth a retry.

`include_in_report` (TMI 1.8 puts it on threats, diagrams, assets, documents, notes and repositories;
0.217 has no such field): an item whose flag is false is dropped here, at fetch time, so it cannot
appear anywhere in a report, counts and charts included. A missing flag means "include".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from portal.portfolio.vocabulary import term_key
from portal.tmi import Asset, Diagram, Document, Note, Repository, Threat, ThreatModel, TMIClient, TMListItem, User

Progress = Callable[[int, int, str], None]

# The dashboard's list filters (name, status) plus the others TMI 1.8 filters threat models by.
# `search` is the dashboard's word for `name`.
FILTER_KEYS = ("name", "search", "description", "owner", "status", "issue_uri")


class ReportFilterError(ValueError):
    """A filter the portfolio report does not understand: the caller shows it, nothing is fetched."""


@dataclass
class ThreatModelReport:
    """One threat model and its children as TMI holds them, minus items marked not for reports."""

    threat_model: ThreatModel
    threats: list[Threat] = field(default_factory=list)
    diagrams: list[Diagram] = field(default_factory=list)  # with their cells
    assets: list[Asset] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)  # with their content
    repositories: list[Repository] = field(default_factory=list)
    server_url: str = ""
    source_url: str = ""  # the threat model at TMI's API: server URL + /threat_models/<id>
    generation: str = ""

    @property
    def id(self) -> str:
        return self.threat_model.id

    @property
    def name(self) -> str:
        return self.threat_model.name


def in_report(item: Any) -> bool:
    """TMI's `include_in_report`; absent (0.217, older 1.8 items) counts as true."""
    return getattr(item, "include_in_report", True) is not False


def _report_items(items: list[Any]) -> list[Any]:
    return [item for item in items if in_report(item)]


def _noop(done: int, total: int, label: str) -> None:
    pass


def threat_model_report_fetch(
    client: TMIClient, threat_model_id: str, *, progress: Progress | None = None
) -> ThreatModelReport:
    """The model, each child collection, then every reported diagram (for its cells) and note (for its
    content), since TMI's lists leave those out. Items not for reports are never fetched in full."""
    step = progress or _noop
    steps = [
        "Fetching the threat model",
        "Fetching threats",
        "Fetching diagrams",
        "Fetching assets",
        "Fetching documents",
        "Fetching notes",
        "Fetching repositories",
    ]
    total = len(steps)
    step(0, total, steps[0])
    tm = client.threat_models.get(threat_model_id)
    collections = {}
    resources = (
        ("threats", client.threats),
        ("diagrams", client.diagrams),
        ("assets", client.assets),
        ("documents", client.documents),
        ("notes", client.notes),
        ("repositories", client.repositories),
    )
    for index, (name, resource) in enumerate(resources, start=1):
        step(index, total, steps[index])
        collections[name] = _report_items(list(resource.iter(tm.id)))
    diagram_items, note_items = collections["diagrams"], collections["notes"]
    total += len(diagram_items) + len(note_items)
    done = len(steps)
    diagrams = []
    for number, item in enumerate(diagram_items, start=1):
        step(done, total, f"Fetching diagram {number} of {len(diagram_items)}")
        diagrams.append(client.diagrams.get(tm.id, item.id))
        done += 1
    notes = []
    for number, item in enumerate(note_items, start=1):
        step(done, total, f"Fetching note {number} of {len(note_items)}")
        notes.append(client.notes.get(tm.id, item.id))
        done += 1
    step(total, total, "Fetched")
    server = client.server_info()  # known by now (every call above needed it)
    parts = {**collections, "diagrams": _report_items(diagrams), "notes": _report_items(notes)}
    # TMI 1.8 embeds threats and diagrams in the model itself, hidden ones and deleted threats included
    # (PROTOCOL.md 12.17): the model carries the lists instead, so nothing can read the embedded copies.
    counts = {
        "threat_count": "threats",
        "diagram_count": "diagrams",
        "asset_count": "assets",
        "document_count": "documents",
        "note_count": "notes",
        "repo_count": "repositories",
    }
    tm = tm.model_copy(update={**parts, **{count: len(parts[name]) for count, name in counts.items()}})
    return ThreatModelReport(
        threat_model=tm,
        threats=parts["threats"],
        diagrams=parts["diagrams"],
        assets=parts["assets"],
        documents=parts["documents"],
        notes=parts["notes"],
        repositories=parts["repositories"],
        server_url=client.base_url,
        source_url=f"{client.base_url}/threat_models/{tm.id}",
        generation=server.generation,
    )


# -- the portfolio ---------------------------------------------------------------------------------------------
def portfolio_filters_clean(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Known keys with non-empty values; `search` becomes `name`; `status` a list of vocabulary keys.
    Raises ReportFilterError naming any unknown key."""
    unknown = sorted(set(filters or {}) - set(FILTER_KEYS))
    if unknown:
        raise ReportFilterError(f"Unknown report filter: {', '.join(unknown)}. Use: {', '.join(FILTER_KEYS)}.")
    clean: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if value in (None, "", [], ()):
            continue
        key = "name" if key == "search" else key
        if key == "status":
            values = [value] if isinstance(value, str) else list(value)
            statuses = [term_key(v) for part in values for v in str(part).split(",") if term_key(v)]
            if statuses:
                clean["status"] = statuses
        else:
            clean[key] = str(value).strip()[:256]
    return clean


def _contains(text: str | None, part: str) -> bool:
    return part.lower() in (text or "").lower()


def _person_matches(user: User | None, part: str) -> bool:
    return user is not None and any(_contains(v, part) for v in (user.email, user.display_name, user.provider_id))


def threat_model_matches(item: TMListItem, filters: Mapping[str, Any]) -> bool:
    """The filters as TMI 1.8 applies them (PROTOCOL.md 5.2), for 0.217, which ignores them."""
    for key, value in filters.items():
        if key == "status":
            if term_key(item.status) not in value:
                return False
        elif key == "owner":
            if not _person_matches(item.owner, value):
                return False
        elif not _contains(getattr(item, key, None), value):
            return False
    return True


PORTFOLIO_FETCH_CONCURRENCY = 6


def portfolio_report_fetch(
    client: TMIClient, *, filters: dict | None = None, progress: Progress | None = None
) -> list[ThreatModelReport]:
    """One report per threat model the member can read that matches `filters` (None: all of them), in
    name order. A model that disappears or is closed to the member between the list and its fetch is
    a TMI error like any other: it propagates."""
    step = progress or _noop
    clean = portfolio_filters_clean(filters)
    step(0, 1, "Listing threat models")
    items = [item for item in client.threat_models.iter(**clean) if threat_model_matches(item, clean)]
    items.sort(key=lambda item: ((item.name or "").lower(), item.id))
    total = len(items)
    reports: list[ThreatModelReport | None] = [None] * total
    # Each model is several TMI calls that mostly wait on the network, so a few run at once (the sync
    # client and its token refresh are thread-safe); the order stays the list's.
    pool = ThreadPoolExecutor(max_workers=PORTFOLIO_FETCH_CONCURRENCY)
    try:
        pending = {pool.submit(threat_model_report_fetch, client, item.id): index for index, item in enumerate(items)}
        for done, future in enumerate(as_completed(pending), start=1):
            reports[pending[future]] = future.result()  # a TMI error propagates
            step(done, total, f"Fetched threat model {done} of {total}")
    finally:
        pool.shutdown(cancel_futures=True)  # after an error, fetch nothing more
    step(total, total, "Fetched")
    return reports  # type: ignore[return-value]
