"""Reads for pages, PDFs and spreadsheets: the store, filtered by the member's visible set. No TMI call.

Every read goes through `_visible_models`, the one place that turns (organisation, member) into the models they
may see: those TMI listed for them when their set was last read. The rows are shaped into the plain records of
records.py, with TMI's own answers (kept as JSON) validated back into the client's typed models first.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.safestring import mark_safe

from portal.diagrams import diagram_summary
from portal.portfolio.models import StoredDiagram, StoredThreat, StoredThreatModel, SyncState, VisibleSet
from portal.portfolio.records import (
    Count,
    DiagramView,
    Portfolio,
    ThreatModelDetail,
    ThreatModelListPage,
    ThreatModelRow,
)
from portal.portfolio.shaping import (
    asset_row,
    diagram_sentence,
    link_row,
    note_view,
    severity_counts,
    status_counts,
    threat_model_summary,
    threat_row,
)
from portal.portfolio.vocabulary import SEVERITIES, TM_STATUSES, term_key, threat_status_label, tm_status_label
from portal.tmi import Asset, Document, Note, Repository, Threat

RISKIEST_COUNT = 5
RECENT_COUNT = 5
PAGE_SIZE = 20
SORTS = ("created", "name", "changed", "risk")  # "created" (newest first) is TMI's own order
# The status filter offers two groups ("open", "closed") and each status TMI holds. A status's option is
# prefixed, because TMI's statuses are free text and may themselves be "open" or "closed".
STATUS_OPTION_PREFIX = "status:"


@dataclass(frozen=True)
class Freshness:
    """How fresh what a member sees is, for the line every page shows, and the first read's progress."""

    read_at: datetime | None  # the member's visible set, last read from TMI
    synced_at: datetime | None  # the organisation's last finished sync
    running: bool
    done: int
    total: int

    @property
    def first_read(self) -> bool:
        """Nothing to show yet: the member's models were never read."""
        return self.read_at is None

    @property
    def updated_at(self) -> datetime | None:
        times = [t for t in (self.read_at, self.synced_at) if t]
        return min(times) if times else None

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def freshness_get(*, organization: Any, user: Any) -> Freshness:
    visible_set = VisibleSet.objects.filter(organization=organization, user=user).first()
    state = SyncState.objects.filter(organization=organization).first()
    return Freshness(
        read_at=visible_set.read_at if visible_set else None,
        synced_at=state.last_sync_at if state else None,
        running=bool(state and state.running_since),
        done=state.models_done if state else 0,
        total=state.models_total if state else 0,
    )


def _visible_models(organization: Any, user: Any) -> QuerySet[StoredThreatModel]:
    """The one filter: the organisation's live models that TMI listed for this member (or the organisation's
    service account, `user` None) when their set was last read."""
    return StoredThreatModel.objects.filter(
        organization=organization,
        gone_at__isnull=True,
        visible_in__visible_set__organization=organization,
        visible_in__visible_set__user=user,
    )


def threat_model_visible(*, organization: Any, user: Any, threat_model_id: str) -> StoredThreatModel | None:
    return _visible_models(organization, user).filter(tmi_id=str(threat_model_id)).first()


ROW_FIELDS = (
    "tmi_id", "name", "description", "status", "status_text", "owner", "created_at", "modified_at",
    "threat_count", "open_by_severity", "threats_synced_at",
)  # fmt: skip


def _row(values: dict) -> ThreatModelRow:
    return ThreatModelRow(
        id=values["tmi_id"],
        name=values["name"],
        description=values["description"],
        status=values["status"],
        status_label=tm_status_label(values["status"], values["status_text"]),
        owner=values["owner"],
        created_at=values["created_at"],
        modified_at=values["modified_at"],
        threat_count=values["threat_count"],
        # None until the model's threats were read: the page says so rather than show zero.
        open_by_severity=values["open_by_severity"] if values["threats_synced_at"] else None,
    )


def threat_model_rows(*, organization: Any, user: Any) -> list[ThreatModelRow]:
    """Every model the member may see, newest first (TMI's own order)."""
    rows = _visible_models(organization, user).order_by("-created_at", "tmi_id").values(*ROW_FIELDS)
    return [_row(values) for values in rows]


# -- the portfolio -----------------------------------------------------------------------------------------------
def portfolio_overview_get(*, organization: Any, user: Any) -> Portfolio:
    """Every model the member may see, counted by status; open threats by severity across them; the riskiest
    models (risk score: vocabulary.SEVERITY_WEIGHTS per open threat); the latest changes."""
    rows = threat_model_rows(organization=organization, user=user)
    totals: Counter[str] = Counter()
    for row in rows:
        totals.update(row.open_by_severity or {})
    riskiest = sorted((r for r in rows if r.risk_score > 0), key=lambda r: (-r.risk_score, r.name.lower()))
    recent = sorted((r for r in rows if r.modified_at), key=lambda r: r.modified_at, reverse=True)
    return Portfolio(
        total=len(rows),
        by_status=status_counts(rows),
        open_by_severity=severity_counts(totals),
        open_total=sum(totals.values()),
        riskiest=riskiest[:RISKIEST_COUNT],
        recent=recent[:RECENT_COUNT],
    )


# -- the list ----------------------------------------------------------------------------------------------------
def _clean_list_query(search: str, status: str, sort: str, page: Any) -> tuple[str, str, str, int]:
    search = (search or "").strip()[:200]
    status = term_key(status)
    status = status if status in TM_STATUSES else ""
    sort = sort if sort in SORTS else "created"
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    return search, status, sort, number


def _sorted(rows: list[ThreatModelRow], sort: str) -> list[ThreatModelRow]:
    if sort == "name":
        return sorted(rows, key=lambda r: r.name.lower())
    if sort == "changed":
        return sorted(rows, key=lambda r: (r.modified_at is not None, r.modified_at), reverse=True)
    if sort == "risk":
        return sorted(rows, key=lambda r: (-r.risk_score, r.name.lower()))
    return rows  # "created": TMI's own order, newest first


def _page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def threat_model_list_get(
    *,
    organization: Any,
    user: Any,
    search: str = "",
    status: str = "",
    sort: str = "created",
    page: Any = 1,
    page_size: int = PAGE_SIZE,
    generation: str = "",
) -> ThreatModelListPage:
    """One page of the member's models, filtered by name (any case) and status, sorted and paged here."""
    search, status, sort, number = _clean_list_query(search, status, sort, page)
    rows = [
        r
        for r in threat_model_rows(organization=organization, user=user)
        if (not search or search.lower() in r.name.lower()) and (not status or r.status == status)
    ]
    ordered = _sorted(rows, sort)
    total = len(ordered)
    number = min(number, _page_count(total, page_size))
    return ThreatModelListPage(
        rows=ordered[(number - 1) * page_size : number * page_size],
        total=total,
        page=number,
        pages=_page_count(total, page_size),
        search=search,
        status=status,
        sort=sort,
        done_by_tmi=False,
        generation=generation,
    )


# -- one threat model --------------------------------------------------------------------------------------------
def _status_filter(value: str, statuses: Counter) -> tuple[str, str]:
    """(group, one status) chosen by the filter's value; an unknown value filters nothing. A bare status
    name (links made before the prefix) still chooses that status unless it names a group."""
    if value in ("open", "closed"):
        return value, ""
    key = term_key(value.removeprefix(STATUS_OPTION_PREFIX))
    return "", key if key in statuses else ""


def stored_threats(tm: StoredThreatModel) -> list[Threat]:
    rows = StoredThreat.objects.filter(threat_model=tm, gone_at__isnull=True).order_by("id").values_list("data")
    return [Threat.model_validate(data) for (data,) in rows]


def stored_diagrams(tm: StoredThreatModel) -> list[StoredDiagram]:
    return list(StoredDiagram.objects.filter(threat_model=tm, gone_at__isnull=True).order_by("position"))


def diagram_view_stored(diagram: StoredDiagram) -> DiagramView:
    """The SVG drawn at sync time (portal.diagrams.render_svg escapes everything it draws)."""
    cells = diagram.data.get("cells") or []
    return DiagramView(
        id=diagram.tmi_id,
        name=diagram.name,
        svg=mark_safe(diagram.svg),  # noqa: S308 - rendered and escaped by portal.diagrams from TMI's cells
        summary=diagram_sentence(diagram_summary(_cells(cells))["counts"]),
    )


def _cells(raw: list) -> list:
    from portal.tmi import Diagram

    return Diagram.model_validate({"id": "-", "cells": raw}).cells


def threat_model_detail_get(
    *, organization: Any, user: Any, threat_model_id: str, severity: str = "", threat_status: str = ""
) -> ThreatModelDetail | None:
    """The model with its threats (filtered by severity and status for the table), diagrams as SVG, documents,
    assets, notes (sanitised Markdown) and repositories, and a plain-language summary. None when the member
    may not see it (not in their visible set) or it was never read."""
    tm = threat_model_visible(organization=organization, user=user, threat_model_id=threat_model_id)
    if tm is None or tm.content_synced_at is None:
        return None
    StoredThreatModel.objects.filter(pk=tm.pk).update(viewed_at=timezone.now())  # synced first from now on
    threats = sorted(
        (threat_row(t) for t in stored_threats(tm)),
        key=lambda t: (not t.is_open, SEVERITIES.index(t.severity), t.name.lower()),
    )
    severity = severity if severity in SEVERITIES else ""
    statuses = Counter(t.status for t in threats)
    group, one_status = _status_filter(threat_status, statuses)
    shown = [
        t
        for t in threats
        if (not severity or t.severity == severity)
        and (not group or t.is_open == (group == "open"))
        and (not one_status or t.status == one_status)
    ]
    label = tm_status_label(tm.status, tm.status_text)
    diagrams = stored_diagrams(tm)
    documents = [link_row(Document.model_validate(d)) for d in tm.documents]
    assets = [asset_row(Asset.model_validate(a)) for a in tm.assets]
    detail = tm.detail or {}
    return ThreatModelDetail(
        id=tm.tmi_id,
        name=tm.name,
        description=tm.description,
        status=tm.status,
        status_label=label,
        owner=tm.owner,
        framework=str(detail.get("threat_model_framework") or ""),
        modified_at=tm.modified_at,
        summary=threat_model_summary(
            status_label=label, threats=threats, diagrams=len(diagrams), documents=len(documents), assets=len(assets)
        ),
        threats=threats,
        shown_threats=shown,
        severity_filter=severity,
        status_filter=group or (STATUS_OPTION_PREFIX + one_status if one_status else ""),
        open_by_severity=severity_counts({k: v for k, v in tm.open_by_severity.items()}),
        threat_statuses=[Count(key, threat_status_label(key), n) for key, n in sorted(statuses.items())],
        diagrams=[diagram_view_stored(d) for d in diagrams],
        documents=documents,
        repositories=[link_row(Repository.model_validate(r)) for r in tm.repositories],
        assets=assets,
        notes=[note_view(Note.model_validate(n)) for n in tm.notes],
    )
