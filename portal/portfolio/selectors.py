"""Reads for pages, PDFs and spreadsheets: the store, filtered by the member's visible set. No TMI call.

Every read goes through `_visible_models`, the one place that turns (organisation, member) into the models they
may see: those TMI listed for them when their set was last read. The rows are shaped into the plain records of
records.py, with TMI's own answers (kept as JSON) validated back into the client's typed models first.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import models
from django.db.models import F, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.safestring import mark_safe

from portal.diagrams import diagram_summary
from portal.diagrams.text import clean_display_text
from portal.portfolio.flag_rules import unchanged_for as unchanged_for_pks
from portal.portfolio.flag_rules import without_reviewer
from portal.portfolio.models import StoredDiagram, StoredThreat, StoredThreatModel, SyncState, VisibleSet
from portal.portfolio.records import (
    Count,
    DiagramView,
    Portfolio,
    ThreatModelDetail,
    ThreatModelListPage,
    ThreatModelRow,
)
from portal.portfolio.report_data import Progress as ReportProgress
from portal.portfolio.report_data import (
    ThreatModelReport,
    portfolio_filters_clean,
    report_items,
    threat_model_matches,
)
from portal.portfolio.shaping import (
    asset_row,
    diagram_sentence,
    link_row,
    note_view,
    severity_counts,
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
NO_STATUS = "(none)"  # the model list's filter value for models TMI holds without a status


@dataclass(frozen=True)
class Freshness:
    """How fresh what a member sees is, for the line every page shows, and the first read's progress."""

    read_at: datetime | None  # the member's visible set, last read from TMI
    synced_at: datetime | None  # the organisation's last finished sync
    running: bool
    done: int
    total: int
    trouble: str = ""  # the organisation's last pass ended with TMI trouble (its words for the operator)

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
        trouble=(state.last_error if state and not state.running_since else ""),
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


def _visible_threats(organization: Any, user: Any) -> QuerySet[StoredThreat]:
    """The live threats of the member's visible models (built on `_visible_models`, never around it)."""
    return StoredThreat.objects.filter(
        organization=organization,
        gone_at__isnull=True,
        threat_model__in=_visible_models(organization, user).values("pk"),
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
    models (risk score: vocabulary.SEVERITY_WEIGHTS per open threat); the latest changes. Counted and ranked
    by the database: a portfolio of thousands of models is a few small queries, not thousands of records."""
    visible = _visible_models(organization, user)
    by_status = _status_counts(visible)
    totals: Counter[str] = Counter()
    for counts in visible.filter(threats_synced_at__isnull=False, open_total__gt=0).values_list(
        "open_by_severity", flat=True
    ):
        totals.update(counts or {})
    riskiest = visible.filter(threats_synced_at__isnull=False, risk_score__gt=0).order_by(
        "-risk_score", Lower("name"), "tmi_id"
    )
    recent = visible.filter(modified_at__isnull=False).order_by("-modified_at", "tmi_id")
    return Portfolio(
        total=sum(c.count for c in by_status),
        by_status=by_status,
        open_by_severity=severity_counts(totals),
        open_total=sum(totals.values()),
        riskiest=[_row(values) for values in riskiest.values(*ROW_FIELDS)[:RISKIEST_COUNT]],
        recent=[_row(values) for values in recent.values(*ROW_FIELDS)[:RECENT_COUNT]],
        threats_pending=visible.filter(threats_synced_at__isnull=True).count(),
    )


def _status_counts(visible: QuerySet[StoredThreatModel]) -> list[Count]:
    """Models by status: TMI's five in their order (zeros too), then any other status TMI holds."""
    statuses: Counter[str] = Counter()
    texts: dict[str, str] = {}
    for row in visible.values("status", "status_text").annotate(n=models.Count("id")).order_by():
        statuses[row["status"]] += row["n"]
        texts.setdefault(row["status"], row["status_text"])
    keys = list(TM_STATUSES) + sorted(k for k in statuses if k not in TM_STATUSES)
    return [Count(key, tm_status_label(key, texts.get(key, "")), statuses.get(key, 0)) for key in keys]


def threat_model_status_counts(*, organization: Any, user: Any) -> list[Count]:
    """The member's models by status, keyed as the model list's status filter takes them."""
    return [replace(c, key=c.key or NO_STATUS) for c in _status_counts(_visible_models(organization, user))]


# The overview of a member, as of one state of the store: kept in the cache every web process shares (Redis
# with REDIS_URL), under a key that changes whenever what it counts may have: the member's set read again, a
# pass finished or progressed, a model or its threats stamped by any write of the sync. At most this long anyway.
OVERVIEW_CACHE_SECONDS = 300


def portfolio_overview_cached(*, organization: Any, user: Any) -> Portfolio:
    """portfolio_overview_get, computed once per state of the store for each member (a page view is then a
    cache read: the overview of 1,000 models is the heaviest read of the pages)."""
    visible_set = VisibleSet.objects.filter(organization=organization, user=user).values("read_at").first()
    state = (
        SyncState.objects.filter(organization=organization)
        .values("last_sync_at", "running_since", "models_done", "last_calls", "requested_at")
        .first()
    )
    # Every write of the sync (a pass, an export's own refresh) stamps the models it read: the latest stamps
    # change whenever a model, its threats or its presence did.
    stamps = StoredThreatModel.objects.filter(organization=organization).aggregate(
        models.Max("synced_at"),
        models.Max("threats_synced_at"),
        models.Max("content_synced_at"),
        models.Max("gone_at"),
        unread=models.Count("id", filter=models.Q(threats_synced_at__isnull=True)),
    )
    version = "|".join(str(v) for v in [organization.pk, getattr(user, "pk", None), visible_set, state, stamps])
    key = "portfolio-overview:" + hashlib.sha256(version.encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = portfolio_overview_get(organization=organization, user=user)
        cache.set(key, found, OVERVIEW_CACHE_SECONDS)
    return found


# -- the list ----------------------------------------------------------------------------------------------------
def _clean_list_query(search: str, status: str, sort: str, page: Any) -> tuple[str, str, str, int]:
    search = clean_display_text(search).strip()[:200]  # no control characters: PostgreSQL refuses a NUL
    # Any status TMI holds (0.217's are free text), so that a chart's bar leads to exactly its models; NO_STATUS
    # for models without one. A status nobody uses lists nothing, and says so.
    status = term_key(clean_display_text(status))[:200]
    sort = sort if sort in SORTS else "created"
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        number = 1
    return search, status, sort, number


# The list's orders, ties broken by TMI's id so that pages never overlap.
_ORDERS = {
    "created": ("-created_at", "tmi_id"),  # TMI's own order, newest first
    "name": (Lower("name"), "tmi_id"),
    "changed": (F("modified_at").desc(nulls_last=True), "tmi_id"),
    "risk": ("-risk_score", Lower("name"), "tmi_id"),
}


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
    unchanged_for: Any = 0,
    no_reviewer: Any = False,
) -> ThreatModelListPage:
    """One page of the member's models, filtered by name (any case) and status, sorted and paged by the
    database (the same in both generations: TMI 0.217 ignores list filters, and neither sorts by risk)."""
    search, status, sort, number = _clean_list_query(search, status, sort, page)
    matching = _visible_models(organization, user)
    if search:
        matching = matching.filter(name__icontains=search)
    if status:
        matching = matching.filter(status="" if status == NO_STATUS else status)
    # The "What to do next" flags' lists (portfolio/flag_rules.py): unchanged for N days, no security reviewer.
    unchanged_days = _clean_days(unchanged_for)
    if unchanged_days:
        matching = matching.filter(pk__in=unchanged_for_pks(matching, unchanged_days, now=timezone.now()))
    no_reviewer = str(no_reviewer or "") in ("1", "true", "True")
    if no_reviewer:
        matching = without_reviewer(matching)
    total = matching.count()
    number = min(number, _page_count(total, page_size))
    shown = matching.order_by(*_ORDERS[sort]).values(*ROW_FIELDS)[(number - 1) * page_size : number * page_size]
    return ThreatModelListPage(
        rows=[_row(values) for values in shown],
        total=total,
        page=number,
        pages=_page_count(total, page_size),
        search=search,
        status=status,
        sort=sort,
        generation=generation,
        unchanged_for=unchanged_days,
        no_reviewer=no_reviewer,
    )


def _clean_days(value: Any) -> int:
    try:
        return min(max(0, int(value or 0)), 100_000)
    except (TypeError, ValueError):
        return 0


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


# =================================================================================================================
# Reports (PDFs, on demand and scheduled): the same store through the same filter (`_visible_models`), TMI's own
# answers validated back into the client's typed models, minus the items TMI marks not for reports
# (report_data.in_report). portal.reports prints them; portal.exports makes the store fresh first
# (sync.portfolio_reader_refresh, in the worker). No TMI call here either.
# =================================================================================================================
_ID_CHUNK = 500  # ids per IN (...): well under every database's limit on query parameters


def _report_ready(models: QuerySet[StoredThreatModel]) -> QuerySet[StoredThreatModel]:
    """Models whose content and threats were read at least once: the store can report them."""
    return models.filter(content_synced_at__isnull=False, threats_synced_at__isnull=False, detail__isnull=False)


def _server_url(organization: Any) -> str:
    """The TMI server the store was read from (the organisation's, unless it moved since)."""
    read_from = SyncState.objects.filter(organization=organization).values_list("tmi_base_url", flat=True).first()
    return (read_from or organization.tmi_base_url or "").rstrip("/")


def _read_at(tm: StoredThreatModel) -> datetime | None:
    times = [t for t in (tm.content_synced_at, tm.threats_synced_at) if t]
    return min(times) if times else None


def _report_of(
    tm: StoredThreatModel, threats: list[dict], diagrams: list[StoredDiagram], server_url: str
) -> ThreatModelReport:
    from portal.tmi import Diagram, ThreatModel

    drawn = [(Diagram.model_validate(d.data), d.svg) for d in diagrams]
    parts = {
        "threats": report_items([Threat.model_validate(data) for data in threats]),
        "diagrams": report_items([diagram for diagram, _ in drawn]),
        "assets": report_items([Asset.model_validate(a) for a in tm.assets]),
        "documents": report_items([Document.model_validate(d) for d in tm.documents]),
        "notes": report_items([Note.model_validate(n) for n in tm.notes]),
        "repositories": report_items([Repository.model_validate(r) for r in tm.repositories]),
    }
    # The model carries the report's lists and counts, so nothing can read hidden items through it (TMI 1.8
    # embeds threats and diagrams in the model, hidden ones included; the store keeps the model without them).
    counts = {
        "threat_count": "threats",
        "diagram_count": "diagrams",
        "asset_count": "assets",
        "document_count": "documents",
        "note_count": "notes",
        "repo_count": "repositories",
    }
    model = ThreatModel.model_validate({**(tm.detail or {}), "id": tm.tmi_id})
    model = model.model_copy(update={**parts, **{count: len(parts[name]) for count, name in counts.items()}})
    shown = {diagram.id for diagram in parts["diagrams"]}
    return ThreatModelReport(
        threat_model=model,
        **parts,
        server_url=server_url,
        source_url=f"{server_url}/threat_models/{tm.tmi_id}",
        read_at=_read_at(tm),
        svgs={diagram.id: svg for diagram, svg in drawn if svg and diagram.id in shown},
    )


def threat_model_report_get(*, organization: Any, user: Any, threat_model_id: str) -> ThreatModelReport | None:
    """One model as the store holds it, for a member (or the service account, `user` None). None when it is not
    in their visible set, or was never read whole."""
    tm = _report_ready(_visible_models(organization, user)).filter(tmi_id=str(threat_model_id)).first()
    if tm is None:
        return None
    threats = StoredThreat.objects.filter(threat_model=tm, gone_at__isnull=True).order_by("id").values_list("data")
    report = _report_of(tm, [data for (data,) in threats], stored_diagrams(tm), _server_url(organization))
    report.last_changed_at = _quiet_since(StoredThreatModel.objects.filter(pk=tm.pk)).get(tm.pk)
    return report


def _quiet_since(models: QuerySet[StoredThreatModel]) -> dict[int, datetime]:
    """When the models that may be flagged "unchanged" last changed (portfolio/flag_rules.py)."""
    from datetime import timedelta

    from portal.portfolio.flag_rules import last_changed, stale_model_days

    return last_changed(models, before=timezone.now() - timedelta(days=stale_model_days()))


def _listed_as(tm: StoredThreatModel) -> Any:
    """What the filters look at: the whole model once read, else TMI's list item."""
    from portal.tmi import ThreatModel, TMListItem

    if tm.detail:
        return ThreatModel.model_validate({**tm.detail, "id": tm.tmi_id})
    return TMListItem.model_validate({**(tm.item or {}), "id": tm.tmi_id, "name": tm.name})


def portfolio_report_get(
    *, organization: Any, user: Any, filters: dict | None = None, progress: ReportProgress | None = None
) -> list[ThreatModelReport]:
    """One report per model in the member's visible set (or the service account's, `user` None) that matches
    `filters` (None: all of them) and was read whole at least once, in name order. Raises ReportFilterError."""
    step = progress or (lambda done, total, label: None)
    clean = portfolio_filters_clean(filters)
    step(0, 3, "Reading the threat models")
    models = [
        tm for tm in _report_ready(_visible_models(organization, user)) if threat_model_matches(_listed_as(tm), clean)
    ]
    models.sort(key=lambda tm: ((tm.name or "").lower(), tm.tmi_id))
    step(1, 3, "Reading threats and diagrams")
    threats: dict[int, list[dict]] = {tm.pk: [] for tm in models}
    diagrams: dict[int, list[StoredDiagram]] = {tm.pk: [] for tm in models}
    pks = list(threats)
    for start in range(0, len(pks), _ID_CHUNK):
        chunk = pks[start : start + _ID_CHUNK]
        rows = StoredThreat.objects.filter(threat_model_id__in=chunk, gone_at__isnull=True).order_by("id")
        for tm_pk, data in rows.values_list("threat_model_id", "data"):
            threats[tm_pk].append(data)
        live = StoredDiagram.objects.filter(threat_model_id__in=chunk, gone_at__isnull=True).order_by("position")
        for diagram in live:
            diagrams[diagram.threat_model_id].append(diagram)
    step(2, 3, "Reading threats and diagrams")
    server_url = _server_url(organization)
    reports = [_report_of(tm, threats[tm.pk], diagrams[tm.pk], server_url) for tm in models]
    quiet = _quiet_since(StoredThreatModel.objects.filter(pk__in=pks)) if pks else {}
    for tm, report in zip(models, reports):
        report.last_changed_at = quiet.get(tm.pk)
    step(3, 3, "Read")
    return reports


def portfolio_report_unread(*, organization: Any, user: Any, filters: dict | None = None) -> int:
    """Models in the set that match `filters` but were never read whole: a portfolio report without them would be
    incomplete (the caller waits for TMI rather than leave them out)."""
    clean = portfolio_filters_clean(filters)
    visible = _visible_models(organization, user)
    unread = visible.exclude(pk__in=_report_ready(visible).values("pk"))
    return sum(1 for tm in unread if threat_model_matches(_listed_as(tm), clean))


def threat_model_choices(*, organization: Any, user: Any) -> list[tuple[str, str]]:
    """(TMI id, name) of every model the member may see, by name: what a form offers to pick from."""
    rows = _visible_models(organization, user).order_by("name", "tmi_id").values_list("tmi_id", "name")
    return [(tmi_id, name or tmi_id) for tmi_id, name in rows]
