"""What changed in a member's portfolio in a window: new threats by severity, threats closed (mitigated, accepted,
closed) or reopened, severities raised or lowered, threats deleted, models created and models whose review status
changed. Read from the change rows the sync records (store.py), through the member's visible set
(`selectors._visible_models`, the one filter): a member never sees changes of models they cannot see.

Which clock a window uses:
- "This week", "this month", a report: TMI's own time of the change (`happened_at`): what happened then.
- "Since your last visit": when the portal learnt of it (`recorded_at`), against the portal's own clock of the
  visit: a change made at TMI just before the visit but synced after it is still news to the member.

Also the one write here: `member_visit_record`, a member's visit to the overview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.portfolio.models import Change, ChangeKind, MemberVisit, StoredThreat
from portal.portfolio.records import Count
from portal.portfolio.selectors import _visible_models
from portal.portfolio.shaping import severity_counts
from portal.portfolio.vocabulary import (
    CLOSED_THREAT_STATUSES,
    SEVERITIES,
    THREAT_STATUS_LABELS,
    severity_key,
    severity_label,
    threat_status_label,
    tm_status_label,
)

PERIOD_DAYS = {"week": 7, "month": 30}
PERIODS = ("visit", "week", "month")


@dataclass(frozen=True)
class ChangeItem:
    kind: str  # ChangeKind
    model_id: str  # TMI's id of the threat model
    model_name: str  # its name now
    threat_id: str  # TMI's id of the threat ("" for a model's own change)
    subject: str  # the threat's (or model's) name when it changed
    severity: str  # the threat's severity now (vocabulary key; "" for a model)
    before: str
    before_label: str
    after: str
    after_label: str
    happened_at: datetime
    threat_live: bool = False  # the threat is still in TMI: its row on the model page can be linked to

    @property
    def severity_label(self) -> str:
        return severity_label(self.severity) if self.severity else ""


@dataclass(frozen=True)
class WhatChanged:
    """The changes of one window, grouped as the issue lists them. `period`: "visit", "week", "month", "report"
    (since this schedule's last report) or "days" (a report's last days). `first`: there is no earlier visit
    (or report) to count from, so the window is the last week (or nothing)."""

    period: str
    since: datetime | None
    until: datetime
    first: bool = False
    new_threats: list[ChangeItem] = field(default_factory=list)
    new_by_severity: list[Count] = field(default_factory=list)
    closed: list[ChangeItem] = field(default_factory=list)
    reopened: list[ChangeItem] = field(default_factory=list)
    raised: list[ChangeItem] = field(default_factory=list)
    lowered: list[ChangeItem] = field(default_factory=list)
    deleted: list[ChangeItem] = field(default_factory=list)
    models_created: list[ChangeItem] = field(default_factory=list)
    model_status: list[ChangeItem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(
            len(group)
            for group in (
                self.new_threats, self.closed, self.reopened, self.raised, self.lowered, self.deleted,
                self.models_created, self.model_status,
            )
        )  # fmt: skip

    @property
    def new_by_severity_shown(self) -> list[Count]:
        """The severities that have new threats: what a sentence lists."""
        return [count for count in self.new_by_severity if count.count]

    @property
    def created_after(self) -> str:
        """The register's `created_after` for the new threats (ISO 8601); "" without a start (everything)."""
        return self.since.isoformat() if self.since else ""


def _label(kind: str, key: str) -> str:
    if kind == ChangeKind.THREAT_CLOSED and key not in CLOSED_THREAT_STATUSES:
        # Closed by TMI's `mitigated` flag while its status still reads as open ("In progress"): say what it is.
        return str(THREAT_STATUS_LABELS["mitigated"])
    if not key:
        return ""
    if kind == ChangeKind.THREAT_SEVERITY:
        return severity_label(key)
    if kind in (ChangeKind.MODEL_STATUS, ChangeKind.MODEL_CREATED):
        return tm_status_label(key)
    return threat_status_label(key)


def severity_raised(before: str, after: str) -> bool:
    """Raised: the new severity is more serious (critical first; "not rated" counts as below informational)."""
    return SEVERITIES.index(severity_key(after)) < SEVERITIES.index(severity_key(before))


def change_rows(
    *,
    organization: Any,
    user: Any,
    since: datetime | None,
    until: datetime,
    by_recorded: bool = False,
    threat_model_ids: set[str] | None = None,
) -> list[ChangeItem]:
    """Every change of the member's visible models in (since, until], newest first (TMI's time of the change);
    `threat_model_ids`: only these models (a report's selection, a model's page)."""
    visible = _visible_models(organization, user)
    if threat_model_ids is not None:
        visible = visible.filter(tmi_id__in=[str(i) for i in threat_model_ids])
    clock = "recorded_at" if by_recorded else "happened_at"
    rows = Change.objects.filter(organization=organization, threat_model__in=visible.values("pk"))
    if since is not None:
        rows = rows.filter(**{f"{clock}__gt": since})
    rows = rows.filter(**{f"{clock}__lte": until}).select_related("threat_model").order_by("-happened_at", "-pk")
    rows = list(rows)
    threat_ids = {(r.threat_model_id, r.threat_tmi_id) for r in rows if r.threat_tmi_id}
    severities: dict[tuple[int, str], str] = {}
    live: set[tuple[int, str]] = set()
    if threat_ids:
        found = StoredThreat.objects.filter(
            threat_model_id__in={pk for pk, _ in threat_ids}, tmi_id__in={tid for _, tid in threat_ids}
        ).values_list("threat_model_id", "tmi_id", "severity", "gone_at")
        severities = {(pk, tid): sev for pk, tid, sev, _gone in found}
        live = {(pk, tid) for pk, tid, _sev, gone in found if gone is None}
    return [
        ChangeItem(
            kind=r.kind,
            model_id=r.threat_model.tmi_id,
            model_name=r.threat_model.name,
            threat_id=r.threat_tmi_id,
            subject=r.subject,
            severity=severities.get((r.threat_model_id, r.threat_tmi_id), "unknown") if r.threat_tmi_id else "",
            before=r.before,
            before_label=_label(r.kind, r.before),
            after=r.after,
            after_label=_label(r.kind, r.after),
            happened_at=r.happened_at,
            threat_live=(r.threat_model_id, r.threat_tmi_id) in live,
        )
        for r in rows
    ]


def what_changed_get(
    *,
    organization: Any,
    user: Any,
    since: datetime | None,
    until: datetime | None = None,
    period: str = "days",
    first: bool = False,
    by_recorded: bool = False,
    threat_model_ids: set[str] | None = None,
) -> WhatChanged:
    """The changes in (since, until], grouped: new threats (and their count by severity now), closed, reopened,
    severity raised, lowered, deleted; models created, models whose review status changed."""
    until = until or timezone.now()
    items = change_rows(
        organization=organization,
        user=user,
        since=since,
        until=until,
        by_recorded=by_recorded,
        threat_model_ids=threat_model_ids,
    )
    of = lambda kind: [item for item in items if item.kind == kind]  # noqa: E731
    severity = of(ChangeKind.THREAT_SEVERITY)
    # New threats: those TMI created in the window and still has, counted by their severity now, so that each
    # count opens the register filtered to exactly them (severity, created after the window's start, any state).
    # One deleted since is told under "deleted"; one TMI dated before the window (a visit's window is the portal's
    # clock, and a sync may bring a threat a minute after it was made) is this week's, not this visit's.
    new = [
        item
        for item in of(ChangeKind.THREAT_CREATED)
        if item.threat_live and (since is None or item.happened_at > since)
    ]
    by_severity: dict[str, int] = {}
    for item in new:
        by_severity[item.severity] = by_severity.get(item.severity, 0) + 1
    return WhatChanged(
        period=period,
        since=since,
        until=until,
        first=first,
        new_threats=new,
        new_by_severity=severity_counts(by_severity),
        closed=of(ChangeKind.THREAT_CLOSED),
        reopened=of(ChangeKind.THREAT_REOPENED),
        raised=[item for item in severity if severity_raised(item.before, item.after)],
        lowered=[item for item in severity if not severity_raised(item.before, item.after)],
        deleted=of(ChangeKind.THREAT_GONE),
        models_created=of(ChangeKind.MODEL_CREATED),
        model_status=of(ChangeKind.MODEL_STATUS),
    )


def what_changed_for_period(*, organization: Any, user: Any, period: str, now: datetime | None = None) -> WhatChanged:
    """ "visit" (since the member's visit before this one, as the portal learnt of the changes; a first visit:
    the last week, and says so), "week" (the last 7 days) or "month" (the last 30 days). An unknown period: week."""
    now = now or timezone.now()
    period = period if period in PERIODS else "week"
    if period == "visit":
        visit = MemberVisit.objects.filter(organization=organization, user=user).first()
        if visit is not None and visit.previous_at is not None:
            return what_changed_get(
                organization=organization, user=user, since=visit.previous_at, until=now, period="visit",
                by_recorded=True,
            )  # fmt: skip
        return what_changed_get(
            organization=organization, user=user, since=now - timedelta(days=7), until=now, period="week", first=True
        )
    since = now - timedelta(days=PERIOD_DAYS[period])
    return what_changed_get(organization=organization, user=user, since=since, until=now, period=period)


def threat_model_history_get(
    *, organization: Any, user: Any, threat_model_id: str, days: int | None = None
) -> list[ChangeItem]:
    """One model's changes over the trend window, newest first (nothing when the member may not see it)."""
    now = timezone.now()
    return change_rows(
        organization=organization,
        user=user,
        since=now - timedelta(days=days or settings.PORTAL_TREND_DAYS),
        until=now,
        threat_model_ids={str(threat_model_id)},
    )


# -- the one write: a visit ---------------------------------------------------------------------------------------
@transaction.atomic
def member_visit_record(*, organization: Any, user: Any, now: datetime | None = None) -> MemberVisit:
    """The member opened the overview. Views with no gap longer than PORTAL_VISIT_GAP_SECONDS are one visit; after
    a longer gap a new visit starts and the last view of the one before becomes `previous_at` ("since your last
    visit" counts from there). The first ever view leaves `previous_at` empty: there is no last visit."""
    now = now or timezone.now()
    visit, created = MemberVisit.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"last_seen_at": now, "previous_at": None}
    )
    if created:
        return visit
    if now - visit.last_seen_at > timedelta(seconds=settings.PORTAL_VISIT_GAP_SECONDS):
        visit.previous_at = visit.last_seen_at
    visit.last_seen_at = max(now, visit.last_seen_at)
    visit.save(update_fields=["last_seen_at", "previous_at"])
    return visit
