"""Writing what TMI answered into the store, and recording what changed (the history).

Pure database work on answers already fetched (portfolio/sync.py does the fetching): each function takes TMI's
typed models, upserts rows, marks what TMI no longer has as gone, and returns the change rows it made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from portal.diagrams import render_svg
from portal.diagrams.text import clean_display_text
from portal.portfolio.models import Change, ChangeKind, DailySnapshot, StoredDiagram, StoredThreat, StoredThreatModel
from portal.portfolio.shaping import person
from portal.portfolio.vocabulary import risk_score, severity_key, term_key, threat_is_open
from portal.tmi import Diagram, Threat, ThreatModel, TMListItem


def _dump(model) -> dict:
    return model.model_dump(mode="json", exclude_none=True)


def _status_text(value: object) -> str:
    return str(value or "")[:200]


def _change(tm: StoredThreatModel, kind: str, when: datetime | None, **fields) -> Change:
    return Change(
        organization_id=tm.organization_id,
        threat_model=tm,
        kind=kind,
        happened_at=when or timezone.now(),
        **{k: (str(v)[:1000] if k == "subject" else str(v)[:200]) for k, v in fields.items()},
    )


# -- threat models -----------------------------------------------------------------------------------------------
def _list_fields(item: TMListItem | ThreatModel) -> dict:
    fields = {
        "name": (item.name or "")[:1000],
        "description": item.description or "",
        "status": term_key(item.status)[:200],
        "status_text": _status_text(item.status),
        "owner": person(item.owner)[:500],
        "created_at": item.created_at,
        "modified_at": item.modified_at,
        "synced_at": timezone.now(),
        "gone_at": None,
    }
    if not isinstance(item, ThreatModel):  # the whole model's counts are not TMI's list counts
        fields.update(threat_count=item.threat_count, item=_dump(item))
    return fields


def threat_models_list_store(
    organization, items: list[TMListItem], *, record_created: Callable[[TMListItem], bool]
) -> tuple[dict[str, StoredThreatModel], list[Change]]:
    """A reader's whole list at once (threat_model_list_store for each item). A model TMI lists as the store has
    it is only stamped synced, all of them in one query: a list of a thousand unchanged models is not a thousand
    writes, each time any reader's set is read."""
    now = timezone.now()
    known = StoredThreatModel.objects.filter(organization=organization).only("tmi_id", *LIST_FIELDS)
    stored = {tm.tmi_id: tm for tm in known}
    rows: dict[str, StoredThreatModel] = {}
    changes: list[Change] = []
    unchanged: list[int] = []
    for item in items:
        tm = stored.get(item.id)
        fields = _list_fields(item)
        if tm is not None and all(getattr(tm, name) == fields[name] for name in LIST_FIELDS):
            rows[item.id] = tm
            unchanged.append(tm.pk)
            continue
        rows[item.id], made = threat_model_list_store(organization, item, record_created=record_created(item))
        changes.extend(made)
    for start in range(0, len(unchanged), 500):
        StoredThreatModel.objects.filter(pk__in=unchanged[start : start + 500]).update(synced_at=now)
    return rows, changes


# What a list item sets (beside synced_at): a model whose columns all equal the item's needs no write.
LIST_FIELDS = (
    "name", "description", "status", "status_text", "owner", "created_at", "modified_at", "gone_at",
    "threat_count", "item",
)  # fmt: skip


def threat_model_list_store(
    organization, item: TMListItem, *, record_created: bool
) -> tuple[StoredThreatModel, list[Change]]:
    """The list's view of a model (name, status, owner, TMI's modified_at and threat_count), or the same fields of
    the whole model (GET /threat_models/{id}). A model seen for the first time after the organisation's first
    sync is recorded as created; a status change is recorded."""
    fields = _list_fields(item)
    status = fields["status"]
    tm, created = StoredThreatModel.objects.get_or_create(organization=organization, tmi_id=item.id, defaults=fields)
    changes: list[Change] = []
    if created:
        if record_created:
            changes.append(_change(tm, ChangeKind.MODEL_CREATED, item.created_at, subject=tm.name))
    else:
        if tm.status != status and tm.synced_at is not None:
            changes.append(
                _change(
                    tm,
                    ChangeKind.MODEL_STATUS,
                    item.status_updated or item.modified_at,
                    subject=fields["name"],
                    before=tm.status,
                    after=status,
                )
            )
        for name, value in fields.items():
            setattr(tm, name, value)
        tm.save(update_fields=list(fields))
    Change.objects.bulk_create(changes)
    return tm, changes


def threat_model_detail_store(tm: StoredThreatModel, model: ThreatModel, children: dict[str, list]) -> None:
    """GET /threat_models/{id} (without its embedded children: 1.8 keeps deleted threats there) and the child
    collections read from their own lists: documents, assets, notes (with content), repositories."""
    tm.detail = _dump(
        model.model_copy(
            update={"threats": [], "diagrams": [], "documents": [], "assets": [], "notes": [], "repositories": []}
        )
    )
    for name in ("documents", "assets", "notes", "repositories"):
        setattr(tm, name, [_dump(child) for child in children.get(name, [])])
    tm.content_synced_at = timezone.now()
    tm.content_modified_at = model.modified_at
    tm.sync_requested_at = None
    tm.save(
        update_fields=[
            "detail",
            "documents",
            "assets",
            "notes",
            "repositories",
            "content_synced_at",
            "content_modified_at",
            "sync_requested_at",
        ]
    )


def threat_model_gone(tm: StoredThreatModel) -> Change:
    now = timezone.now()
    StoredThreatModel.objects.filter(pk=tm.pk).update(gone_at=now)
    change = _change(tm, ChangeKind.MODEL_GONE, now, subject=tm.name)
    change.save()
    return change


# -- threats -----------------------------------------------------------------------------------------------------
def _threat_fields(threat: Threat, now: datetime) -> dict:
    status = term_key(threat.status)
    return {
        "name": (threat.name or "")[:1000],
        "severity": severity_key(threat.severity),
        "status": status[:200],
        "is_open": threat_is_open(status=threat.status, mitigated=threat.mitigated),
        **threat_register_fields(threat),
        "modified_at": threat.modified_at,
        "data": _dump(threat),
        "synced_at": now,
        "gone_at": None,
    }


def threat_register_fields(threat: Threat) -> dict:
    """The columns the register filters and sorts on, read from TMI's threat (both generations)."""
    types = [clean_display_text(t).replace("|", "/").strip() for t in threat.threat_type or []]
    ssvc = getattr(threat, "ssvc", None)
    decision = ssvc.get("decision") if isinstance(ssvc, dict) else None
    score = threat.score if isinstance(threat.score, (int, float)) and 0 <= threat.score <= 10 else None
    return {
        "threat_type": ("|" + "|".join(t for t in types if t) + "|")[:1000] if any(types) else "",
        "priority": term_key(threat.priority)[:100],
        "score": score,
        "ssvc_decision": term_key(decision)[:50] if isinstance(decision, str) else "",
        "created_at": threat.created_at,
    }


def _threat_changes(tm: StoredThreatModel, old: StoredThreat, new: dict, threat: Threat) -> list[Change]:
    when = threat.modified_at
    subject = new["name"]
    changes = []
    if old.gone_at is None and old.is_open != new["is_open"]:
        kind = ChangeKind.THREAT_CLOSED if not new["is_open"] else ChangeKind.THREAT_REOPENED
        changes.append(_change(tm, kind, when, subject=subject, before=old.status, after=new["status"]))
    elif old.status != new["status"]:
        changes.append(
            _change(tm, ChangeKind.THREAT_STATUS, when, subject=subject, before=old.status, after=new["status"])
        )
    if old.severity != new["severity"]:
        changes.append(
            _change(tm, ChangeKind.THREAT_SEVERITY, when, subject=subject, before=old.severity, after=new["severity"])
        )
    for change in changes:
        change.threat_tmi_id = threat.id
    return changes


@transaction.atomic
def threats_store(tm: StoredThreatModel, threats: Iterable[Threat], *, complete: bool) -> list[Change]:
    """Upsert the threats TMI answered. `complete`: they are all the model has, so any other stored threat is
    gone. Changes are recorded only once the model's threats were read before (the first read is the baseline)."""
    now = timezone.now()
    baseline = tm.threats_synced_at is None
    # One row per id, even when the answer lists a threat twice (offset paging while someone adds a threat shows
    # one threat on two pages): a second create would break the unique constraint and lose the whole answer.
    threats = list({threat.id: threat for threat in threats}.values())
    stored = StoredThreat.objects.filter(threat_model=tm)
    if not complete:  # a few changed threats: only those rows, not the model's every threat and its JSON
        stored = stored.filter(tmi_id__in=[threat.id for threat in threats])
    existing = {t.tmi_id: t for t in stored}
    changes: list[Change] = []
    creates, updates, unchanged, seen = [], [], [], set()
    cursor = tm.threats_cursor
    for threat in threats:
        seen.add(threat.id)
        fields = _threat_fields(threat, now)
        stamp = threat.modified_at or threat.created_at
        if stamp and (cursor is None or stamp > cursor):
            cursor = stamp
        old = existing.get(threat.id)
        if old is None:
            creates.append(
                StoredThreat(organization_id=tm.organization_id, threat_model=tm, tmi_id=threat.id, **fields)
            )
            if not baseline:
                change = _change(tm, ChangeKind.THREAT_CREATED, threat.created_at, subject=fields["name"])
                change.threat_tmi_id = threat.id
                changes.append(change)
            continue
        if all(getattr(old, name) == fields[name] for name in THREAT_COLUMNS):  # as stored (the overlap): no write
            unchanged.append(old.pk)
            continue
        if not baseline:
            changes.extend(_threat_changes(tm, old, fields, threat))
        for name, value in fields.items():
            setattr(old, name, value)
        updates.append(old)
    StoredThreat.objects.bulk_create(creates, batch_size=500)
    if updates:
        StoredThreat.objects.bulk_update(updates, THREAT_UPDATE_FIELDS, batch_size=500)
    for start in range(0, len(unchanged), 500):
        StoredThreat.objects.filter(pk__in=unchanged[start : start + 500]).update(synced_at=now)
    if complete:
        for tmi_id, old in existing.items():
            if tmi_id not in seen and old.gone_at is None:
                old.gone_at = now
                StoredThreat.objects.filter(pk=old.pk).update(gone_at=now)
                change = _change(tm, ChangeKind.THREAT_GONE, now, subject=old.name, before=old.status)
                change.threat_tmi_id = tmi_id
                changes.append(change)
    Change.objects.bulk_create(changes)
    tm.threats_synced_at = now
    tm.threats_cursor = cursor
    tm.save(update_fields=["threats_synced_at", "threats_cursor"])
    if creates or updates or changes or baseline:  # nothing answered and nothing gone: the counts stand
        threat_model_counts_update(tm)
    else:  # but today still gets its snapshot (a model with no threats, or none changed since yesterday)
        snapshot_ensure(tm)
    return changes


THREAT_UPDATE_FIELDS = [
    "name", "severity", "status", "is_open", "threat_type", "priority", "score", "ssvc_decision", "created_at",
    "modified_at", "data", "synced_at", "gone_at",
]  # fmt: skip
THREAT_COLUMNS = [name for name in THREAT_UPDATE_FIELDS if name != "synced_at"]


def threat_model_counts_update(tm: StoredThreatModel) -> None:
    """The derived counts from the stored live threats: open by severity, totals, the risk score."""
    live = StoredThreat.objects.filter(threat_model=tm, gone_at__isnull=True)
    by_severity = {
        row["severity"]: row["n"]
        for row in live.filter(is_open=True).values("severity").annotate(n=models.Count("id")).order_by()
    }
    tm.open_by_severity = by_severity
    tm.open_total = sum(by_severity.values())
    tm.threats_total = live.count()
    tm.risk_score = risk_score(by_severity)
    tm.save(update_fields=["open_by_severity", "open_total", "threats_total", "risk_score"])
    snapshot_take(tm)


# -- diagrams ----------------------------------------------------------------------------------------------------
def _cells_key(diagram: Diagram) -> str:
    cells = [cell.model_dump(mode="json", exclude_none=True) for cell in diagram.cells]
    return hashlib.sha256(json.dumps([diagram.name, cells], sort_keys=True).encode()).hexdigest()


def diagram_svg_prefix(position: int) -> str:
    """Ids inside a stored SVG are prefixed by the diagram's place, so several on one page never collide."""
    return f"dfd{position}"


@transaction.atomic
def diagrams_store(tm: StoredThreatModel, diagrams: list[Diagram]) -> None:
    """Every diagram with its cells; the SVG is drawn again only when the cells (or the name) changed."""
    now = timezone.now()
    existing = {d.tmi_id: d for d in StoredDiagram.objects.filter(threat_model=tm)}
    diagrams = list({diagram.id: diagram for diagram in diagrams}.values())  # once each, as threats_store
    for position, diagram in enumerate(diagrams):
        key = _cells_key(diagram)
        row = existing.pop(diagram.id, None) or StoredDiagram(
            organization_id=tm.organization_id, threat_model=tm, tmi_id=diagram.id
        )
        if row.cells_key != key or row.position != position or not row.svg:
            row.svg = render_svg(diagram.cells, title=diagram.name, id_prefix=diagram_svg_prefix(position))
            row.cells_key = key
        row.name, row.position, row.data = (diagram.name or "")[:1000], position, _dump(diagram)
        row.modified_at, row.synced_at, row.gone_at = diagram.modified_at, now, None
        row.save()
    StoredDiagram.objects.filter(pk__in=[row.pk for row in existing.values()], gone_at__isnull=True).update(gone_at=now)


# -- snapshots ---------------------------------------------------------------------------------------------------
def snapshot_ensure(tm: StoredThreatModel) -> None:
    """Today's snapshot, if the model has none yet today (its counts did not change: one read, no write)."""
    if not DailySnapshot.objects.filter(threat_model=tm, day=timezone.localdate()).exists():
        snapshot_take(tm)


def snapshot_take(tm: StoredThreatModel) -> None:
    """Today's counts of the model (the last sync of the day wins)."""
    DailySnapshot.objects.update_or_create(
        threat_model=tm,
        day=timezone.localdate(),
        defaults={
            "organization_id": tm.organization_id,
            "status": tm.status,
            "open_by_severity": tm.open_by_severity,
            "open_total": tm.open_total,
            "threats_total": tm.threats_total,
            "risk_score": tm.risk_score,
        },
    )
