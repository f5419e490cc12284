"""Trends over the last PORTAL_TREND_DAYS days, read from the store's history through the member's visible set
(`selectors._visible_models`): open threats by severity per day, threat models by review status per day, threats
closed (mitigated, accepted or closed) per week, and the overview's headline numbers with their change since a week
ago.

A day's counts are the model's daily snapshot of that day, or its last one before (the sync writes a snapshot only
on days it writes the model: carried forward until the next).

Before the portal's history of a model (the days before its first snapshot: the portal was not syncing the
organisation yet), the charts do not go blank, and do not pretend either:
- Open threats are estimated from TMI's own dates of the threats the store holds: a threat counts as open from its
  `created_at`; one closed now counts as open until its last `modified_at` (TMI keeps no date of closing, the last
  change is the latest it can have been). Its severity is the one it has now. Those days are marked estimated:
  the charts draw them dashed, and their text says "estimated from TMI's dates".
- Closed threats per week before the history likewise: a threat closed now, last changed in that week.
- A model's review status before its history is not known (TMI keeps no history of it): the model counts, from
  the day TMI says it was created, as "status not recorded yet", so the number of models is right every day.
Every chart marks the day its history starts.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.portfolio.models import Change, ChangeKind, DailySnapshot, StoredThreat, StoredThreatModel, VisibleSet
from portal.portfolio.selectors import _visible_models
from portal.portfolio.vocabulary import SEVERITIES, TM_STATUSES, severity_key, severity_label, tm_status_label

UNRECORDED = "unrecorded"  # a model's status on the days before the portal recorded it
TREND_CACHE_SECONDS = 300


@dataclass(frozen=True)
class TrendPoint:
    day: date
    values: dict[str, int]
    estimated: bool = False  # from TMI's dates, before the portal's history (see the module)

    @property
    def total(self) -> int:
        return sum(self.values.values())


@dataclass(frozen=True)
class Trend:
    """One count per key per day (or per week: `day` is the week's Monday)."""

    keys: tuple[str, ...]
    labels: dict[str, str]
    points: list[TrendPoint]
    history_start: date | None  # the first day the portal recorded for these models (None: none yet)
    weekly: bool = False

    def series(self, key: str) -> list[int]:
        return [p.values.get(key, 0) for p in self.points]

    @property
    def totals(self) -> list[int]:
        return [p.total for p in self.points]

    @property
    def estimated(self) -> bool:
        return any(p.estimated for p in self.points)

    def shown_keys(self) -> tuple[str, ...]:
        """Keys with a count on some day (a chart of six lines at zero says nothing); at least the first."""
        keys = tuple(k for k in self.keys if any(p.values.get(k) for p in self.points))
        return keys or self.keys[:1]

    def samples(self, every: int = 7) -> list[TrendPoint]:
        """Every `every`-th day counted back from the last, oldest first: what a table or a description lists."""
        if self.weekly:
            return list(self.points)
        return list(reversed(self.points[::-1][::every]))


def _today() -> date:
    return timezone.localdate()


def _window(days: int | None, today: date | None) -> list[date]:
    today = today or _today()
    days = days or settings.PORTAL_TREND_DAYS
    start = today - timedelta(days=days - 1)
    return [start + timedelta(days=i) for i in range(days)]


def _local_day(moment: datetime | None) -> date | None:
    return timezone.localdate(moment) if moment else None


def _models(organization: Any, user: Any, threat_model_id: str | None, threat_model_ids: set[str] | None = None):
    """The member's visible models; one of them, or those of a selection (a report's)."""
    visible = _visible_models(organization, user)
    if threat_model_id is not None:
        visible = visible.filter(tmi_id=str(threat_model_id))
    if threat_model_ids is not None:
        visible = visible.filter(tmi_id__in=[str(i) for i in threat_model_ids])
    return visible


def _index(days: list[date], day: date | None) -> int:
    """Position of `day` in the window, clamped to [0, len(days)] (None: after the window)."""
    if day is None:
        return len(days)
    return min(max((day - days[0]).days, 0), len(days))


def _snapshots(visible, last: date) -> dict[int, list[tuple[date, str, dict]]]:
    rows = (
        DailySnapshot.objects.filter(threat_model__in=visible.values("pk"), day__lte=last)
        .order_by("threat_model_id", "day")
        .values_list("threat_model_id", "day", "status", "open_by_severity")
    )
    found: dict[int, list[tuple[date, str, dict]]] = defaultdict(list)
    for pk, day, status, counts in rows:
        found[pk].append((day, status, counts or {}))
    return found


def _carried(days: list[date], rows: list[tuple[date, str, dict]]) -> list[tuple[str, dict] | None]:
    """Each day's (status, counts): that day's snapshot or the last before it; None before the first."""
    out: list[tuple[str, dict] | None] = []
    current, position = None, 0
    for day in days:
        while position < len(rows) and rows[position][0] <= day:
            current = rows[position][1:]
            position += 1
        out.append(current)
    return out


def _history_start(snapshots: dict) -> date | None:
    firsts = [rows[0][0] for rows in snapshots.values() if rows]
    return min(firsts) if firsts else None


def open_threats_trend(
    *,
    organization: Any,
    user: Any,
    threat_model_id: str | None = None,
    threat_model_ids: set[str] | None = None,
    days: int | None = None,
    today=None,
) -> Trend:
    """Open threats by severity on each day of the window (the member's visible models, or one of them)."""
    window = _window(days, today)
    visible = _models(organization, user, threat_model_id, threat_model_ids)
    read = dict(visible.filter(threats_synced_at__isnull=False).values_list("pk", "created_at"))
    snapshots = _snapshots(visible, window[-1])
    counts = [defaultdict(int) for _ in window]
    estimated = [False] * len(window)
    need: dict[int, int] = {}  # model -> index of its first recorded day (days before it are estimated)
    for pk, created in read.items():
        rows = snapshots.get(pk, [])
        first = _index(window, rows[0][0]) if rows else len(window)
        if first > 0:
            need[pk] = first
            for i in range(_index(window, _local_day(created)) if created else 0, first):
                estimated[i] = True
        for i, carried in enumerate(_carried(window, rows)):
            if carried is not None:
                for key, n in carried[1].items():
                    counts[i][severity_key(key)] += n
    if need:
        threats = StoredThreat.objects.filter(threat_model_id__in=list(need)).values_list(
            "threat_model_id", "severity", "is_open", "created_at", "modified_at", "gone_at"
        )
        for pk, severity, is_open, created, modified, gone in threats:
            if created is None:
                continue  # TMI gave no date: it cannot be placed
            opened = _index(window, _local_day(created))
            # Closed now: open until its last change at the latest (no date of it: never counted open).
            ends = [d for d in (None if is_open else (modified or created), gone) if d is not None]
            closed = _index(window, _local_day(min(ends))) if ends else len(window)
            for i in range(opened, min(closed, need[pk])):
                counts[i][severity_key(severity)] += 1
    points = [
        TrendPoint(day, {key: counts[i].get(key, 0) for key in SEVERITIES}, estimated[i])
        for i, day in enumerate(window)
    ]
    labels = {key: severity_label(key) for key in SEVERITIES}
    return Trend(SEVERITIES, labels, points, _history_start(snapshots))


def models_by_status_trend(
    *, organization: Any, user: Any, threat_model_ids: set[str] | None = None, days: int | None = None, today=None
) -> Trend:
    """Threat models by review status on each day; before a model's history, "status not recorded yet" (from the
    day TMI says it was created). A model whose threats were never read has no snapshot: its status now counts
    on the last day."""
    window = _window(days, today)
    visible = _models(organization, user, None, threat_model_ids)
    snapshots = _snapshots(visible, window[-1])
    counts = [defaultdict(int) for _ in window]
    texts: dict[str, str] = {}
    for pk, created, status, text in visible.values_list("pk", "created_at", "status", "status_text"):
        texts.setdefault(status, text)
        rows = snapshots.get(pk, [])
        carried = _carried(window, rows)
        born = _index(window, _local_day(created)) if created else 0
        for i in range(len(window)):
            if carried[i] is not None:
                counts[i][carried[i][0]] += 1
            elif i == len(window) - 1:
                counts[i][status] += 1
            elif i >= born:
                counts[i][UNRECORDED] += 1
    seen = {key for day in counts for key in day}
    keys = tuple(k for k in TM_STATUSES) + tuple(sorted(k for k in seen if k not in TM_STATUSES and k != UNRECORDED))
    keys += (UNRECORDED,)
    labels = {key: tm_status_label(key, texts.get(key, "")) for key in keys if key != UNRECORDED}
    labels[UNRECORDED] = str(_("Status not recorded yet"))
    points = [TrendPoint(day, {key: counts[i].get(key, 0) for key in keys}) for i, day in enumerate(window)]
    return Trend(keys, labels, points, _history_start(snapshots))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def closed_per_week_trend(
    *,
    organization: Any,
    user: Any,
    threat_model_id: str | None = None,
    threat_model_ids: set[str] | None = None,
    days: int | None = None,
    today=None,
) -> Trend:
    """Threats closed (mitigated, accepted or closed: they stopped being open) in each week, Monday to Sunday,
    over the window. Before a model's history: its threats closed now, by the week of their last change."""
    window = _window(days, today)
    visible = _models(organization, user, threat_model_id, threat_model_ids)
    weeks = []
    monday = _monday(window[0])
    while monday <= window[-1]:
        weeks.append(monday)
        monday += timedelta(days=7)
    counts = defaultdict(int)
    estimated_weeks: set[date] = set()
    start = timezone.make_aware(datetime.combine(weeks[0], time.min))
    closures = Change.objects.filter(
        organization=organization,
        threat_model__in=visible.values("pk"),
        kind=ChangeKind.THREAT_CLOSED,
        happened_at__gte=start,
    ).values_list("happened_at", flat=True)
    for happened in closures:
        day = _local_day(happened)
        if day <= window[-1]:
            counts[_monday(day)] += 1
    snapshots = _snapshots(visible, window[-1])
    firsts = {pk: rows[0][0] for pk, rows in snapshots.items() if rows}
    read = list(visible.filter(threats_synced_at__isnull=False).values_list("pk", flat=True))
    need = [pk for pk in read if firsts.get(pk) is None or firsts[pk] > weeks[0]]
    if need:
        rows = StoredThreat.objects.filter(threat_model_id__in=need, is_open=False, modified_at__gte=start)
        for pk, modified in rows.values_list("threat_model_id", "modified_at"):
            day = _local_day(modified)
            first = firsts.get(pk)
            if (first is None or day < first) and day <= window[-1]:
                counts[_monday(day)] += 1
                estimated_weeks.add(_monday(day))
    history = _history_start(snapshots)
    points = [
        TrendPoint(week, {"closed": counts.get(week, 0)}, week in estimated_weeks or history is None or week < history)
        for week in weeks
    ]
    return Trend(("closed",), {"closed": str(_("Closed"))}, points, history, weekly=True)


# -- the overview's headline numbers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Headline:
    key: str  # a severity key, "open" (all open threats) or "models"
    label: str
    count: int  # today
    week_ago: int
    estimated: bool  # the week-ago number is estimated from TMI's dates
    series: list[int]  # each day of the window, for the sparkline

    @property
    def change(self) -> int:
        return self.count - self.week_ago


@dataclass(frozen=True)
class Trends:
    open_threats: Trend
    models_by_status: Trend
    closed_per_week: Trend


def trends_get(*, organization: Any, user: Any, days: int | None = None) -> Trends:
    """The three trends of the member's portfolio, computed once per state of the store and day (the cache every
    web process shares): an overview of a thousand models reads 90 days of their snapshots."""
    visible_set = VisibleSet.objects.filter(organization=organization, user=user).values("read_at").first()
    stamps = StoredThreatModel.objects.filter(organization=organization).aggregate(
        models.Max("synced_at"), models.Max("threats_synced_at"), models.Max("gone_at")
    )
    latest_change = Change.objects.filter(organization=organization).aggregate(models.Max("pk"))
    version = "|".join(
        str(v) for v in [organization.pk, getattr(user, "pk", None), _today(), days, visible_set, stamps, latest_change]
    )
    key = "portfolio-trends:" + hashlib.sha256(version.encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = Trends(
            open_threats=open_threats_trend(organization=organization, user=user, days=days),
            models_by_status=models_by_status_trend(organization=organization, user=user, days=days),
            closed_per_week=closed_per_week_trend(organization=organization, user=user, days=days),
        )
        cache.set(key, found, TREND_CACHE_SECONDS)
    return found


def headlines(trends: Trends) -> list[Headline]:
    """All open threats, each severity that has open threats now or had a week ago, and the number of models:
    each with today's number, the number a week before, and the days of the window."""
    open_trend, models_trend = trends.open_threats, trends.models_by_status
    back = max(0, len(open_trend.points) - 8)

    def headline(key: str, label: str, trend: Trend, series: list[int]) -> Headline:
        return Headline(key, label, series[-1], series[back], trend.points[back].estimated, series)

    lines = [headline("open", str(_("Open threats")), open_trend, open_trend.totals)]
    for key in SEVERITIES:
        series = open_trend.series(key)
        if series[-1] or series[back]:
            lines.append(headline(key, severity_label(key), open_trend, series))
    lines.append(headline("models", str(_("Threat models")), models_trend, models_trend.totals))
    return lines
