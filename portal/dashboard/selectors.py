"""Reads for the stakeholder pages. Each opens one TMI client acting as the member (through the token
vault), fetches what its page needs concurrently, and returns plain records (records.py).

`concurrency` bounds how many TMI calls run at once; 1 makes the same calls one after another (the
benchmark compares both). Results are cached per member for a few seconds (caching.py).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from portal.accounts.vault import atmi_client
from portal.dashboard.caching import CACHE_SECONDS, cache_read, cache_write, cached, user_cache_key
from portal.dashboard.concurrency import PER_PAGE_CONCURRENCY, gather_limited
from portal.dashboard.fetching import all_threat_models, open_by_severity, open_threats, threat_model_bundle
from portal.portfolio.records import Count, Portfolio, ThreatModelDetail, ThreatModelListPage, ThreatModelRow
from portal.portfolio.shaping import (
    asset_row,
    diagram_view,
    link_row,
    note_view,
    person,
    severity_counts,
    status_counts,
    threat_model_row,
    threat_model_summary,
    threat_row,
)
from portal.portfolio.vocabulary import SEVERITIES, TM_STATUSES, term_key, threat_status_label, tm_status_label
from portal.tmi import AsyncTMIClient, TMListItem

RISKIEST_COUNT = 5
RECENT_COUNT = 5
PAGE_SIZE = 20
SORTS = ("created", "name", "changed", "risk")  # "created" (newest first) is TMI's own order


# -- shared pieces ---------------------------------------------------------------------------------------------
async def _open_counts(
    client: AsyncTMIClient, organization: Any, user: Any, items: list[TMListItem], *, concurrency: int
) -> dict[str, dict[str, int] | None]:
    """Open threats by severity for each model, `concurrency` models at a time. One cache entry per member
    remembers each model's counts with its modified_at and when they were read: a model that changed
    since, or was read more than CACHE_SECONDS ago, is read again."""
    key = user_cache_key(organization, user, "open-threats")
    now = time.time()
    known: dict[str, tuple[str, float, dict[str, int]]] = await cache_read(key) or {}
    fresh = {tm_id: entry for tm_id, entry in known.items() if now - entry[1] < CACHE_SECONDS}

    def stale(item: TMListItem) -> bool:
        return item.id not in fresh or fresh[item.id][0] != str(item.modified_at)

    missing = [item for item in items if stale(item)]
    fetched = await gather_limited([lambda i=i: open_threats(client, i) for i in missing], limit=concurrency)
    refused = {item.id for item, counts in zip(missing, fetched) if counts is None}
    fresh.update(
        {item.id: (str(item.modified_at), now, counts) for item, counts in zip(missing, fetched) if counts is not None}
    )
    if missing:
        await cache_write(key, fresh)
    return {item.id: None if item.id in refused else fresh[item.id][2] for item in items}


async def _threat_models(
    client: AsyncTMIClient, organization: Any, user: Any, *, concurrency: int, **filters: Any
) -> list[TMListItem]:
    key = user_cache_key(organization, user, "threat-models", sorted(filters.items()))
    return await cached(key, lambda: all_threat_models(client, concurrency=concurrency, **filters))


# -- the portfolio -----------------------------------------------------------------------------------------------
async def portfolio_for_dashboard(
    *, organization: Any, user: Any, concurrency: int = PER_PAGE_CONCURRENCY
) -> Portfolio:
    """Every threat model the member can read, counted by status; open threats by severity across them;
    the riskiest models (risk score: vocabulary.SEVERITY_WEIGHTS per open threat); the latest changes."""
    async with atmi_client(organization=organization, user=user) as client:
        items = await _threat_models(client, organization, user, concurrency=concurrency)
        counts = await _open_counts(client, organization, user, items, concurrency=concurrency)
    rows = [threat_model_row(item, counts.get(item.id)) for item in items]
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


def _matches(item: TMListItem, search: str, status: str) -> bool:
    """The filters as TMI 1.8 applies them (name substring, any case; status), for servers that ignore them."""
    return (not search or search.lower() in (item.name or "").lower()) and (
        not status or term_key(item.status) == status
    )


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


async def threat_model_list_for_dashboard(
    *,
    organization: Any,
    user: Any,
    search: str = "",
    status: str = "",
    sort: str = "created",
    page: Any = 1,
    page_size: int = PAGE_SIZE,
    concurrency: int = PER_PAGE_CONCURRENCY,
) -> ThreatModelListPage:
    """One page of the member's threat models. TMI 1.8 filters by name and status and pages with
    limit/offset, so in TMI's own order the portal asks for just that page. TMI 0.217 ignores those
    filters, and no generation sorts by name, change or risk: then the portal reads the (filtered at 1.8)
    list and filters, sorts and pages it itself."""
    search, status, sort, number = _clean_list_query(search, status, sort, page)
    filters = {k: v for k, v in (("name", search), ("status", status)) if v}
    async with atmi_client(organization=organization, user=user) as client:
        generation = (await client.server_info()).generation
        by_tmi = generation == "1.8" and sort == "created"
        if by_tmi:
            result = await client.threat_models.list(limit=page_size, offset=(number - 1) * page_size, **filters)
            total = result.total if result.total is not None else len(result.items)
            if number > _page_count(total, page_size):  # past the end (a stale link): show the last page
                number = _page_count(total, page_size)
                result = await client.threat_models.list(limit=page_size, offset=(number - 1) * page_size, **filters)
            shown = list(result.items)
        else:
            everything = await _threat_models(
                client, organization, user, concurrency=concurrency, **(filters if generation == "1.8" else {})
            )
            matching = [item for item in everything if _matches(item, search, status)]
            total = len(matching)
            if sort == "risk":
                counts = await _open_counts(client, organization, user, matching, concurrency=concurrency)
                ordered = _sorted([threat_model_row(i, counts.get(i.id)) for i in matching], sort)
            else:
                ordered = _sorted([threat_model_row(i) for i in matching], sort)
            number = min(number, _page_count(total, page_size))
            by_id = {item.id: item for item in matching}
            shown = [by_id[row.id] for row in ordered[(number - 1) * page_size : number * page_size]]
        counts = await _open_counts(client, organization, user, shown, concurrency=concurrency)
    rows = [threat_model_row(item, counts.get(item.id)) for item in shown]
    return ThreatModelListPage(
        rows=rows,
        total=total,
        page=number,
        pages=_page_count(total, page_size),
        search=search,
        status=status,
        sort=sort,
        done_by_tmi=by_tmi,
        generation=generation,
    )


# -- one threat model --------------------------------------------------------------------------------------------
# The status filter offers two groups ("open", "closed") and each status TMI holds. A status's option is
# prefixed, because TMI's statuses are free text and may themselves be "open" or "closed".
STATUS_OPTION_PREFIX = "status:"


def _status_filter(value: str, statuses: Counter) -> tuple[str, str]:
    """(group, one status) chosen by the filter's value; an unknown value filters nothing. A bare status
    name (links made before the prefix) still chooses that status unless it names a group."""
    if value in ("open", "closed"):
        return value, ""
    key = term_key(value.removeprefix(STATUS_OPTION_PREFIX))
    return "", key if key in statuses else ""


async def threat_model_for_dashboard(
    *,
    organization: Any,
    user: Any,
    threat_model_id: str,
    severity: str = "",
    threat_status: str = "",
    concurrency: int = PER_PAGE_CONCURRENCY,
) -> ThreatModelDetail:
    """The model with its threats (filtered by severity and status for the table), diagrams as SVG,
    documents, assets, notes (sanitised Markdown) and repositories, and a plain-language summary.
    Not cached: people open this page right after changing the model in TMI."""
    async with atmi_client(organization=organization, user=user) as client:
        bundle = await threat_model_bundle(client, str(threat_model_id), concurrency=concurrency)
    tm = bundle.threat_model
    threats = sorted(
        (threat_row(t) for t in bundle.threats),
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
    status = term_key(tm.status)
    label = tm_status_label(status, tm.status)
    documents = [link_row(d) for d in bundle.documents]
    return ThreatModelDetail(
        id=tm.id,
        name=tm.name,
        description=tm.description or "",
        status=status,
        status_label=label,
        owner=person(tm.owner),
        framework=tm.threat_model_framework or "",
        modified_at=tm.modified_at,
        summary=threat_model_summary(
            status_label=label,
            threats=threats,
            diagrams=len(bundle.diagrams),
            documents=len(documents),
            assets=len(bundle.assets),
        ),
        threats=threats,
        shown_threats=shown,
        severity_filter=severity,
        status_filter=group or (STATUS_OPTION_PREFIX + one_status if one_status else ""),
        open_by_severity=severity_counts(open_by_severity(bundle.threats)),
        threat_statuses=[Count(key, threat_status_label(key), n) for key, n in sorted(statuses.items())],
        diagrams=[diagram_view(d, i) for i, d in enumerate(bundle.diagrams)],
        documents=documents,
        repositories=[link_row(r) for r in bundle.repositories],
        assets=[asset_row(a) for a in bundle.assets],
        notes=[note_view(n) for n in bundle.notes],
    )


# -- home --------------------------------------------------------------------------------------------------------
def organizations_for_home(*, user: Any) -> list[Any]:
    """The organisations the signed-in user belongs to, with their role (memberships, organisation joined)."""
    if not user.is_authenticated:
        return []
    return list(user.memberships.select_related("organization").order_by("organization__name"))
