"""What to do next: the rules that flag a threat model, in one place, and the store queries they share with the
threat-model list's filters. Pure rules over plain facts (ModelFacts), so the pages (facts from the store,
portfolio/flags.py) and the PDFs (facts from a report's own items, portal/reports) flag by the same rules.

The flags (each one sentence a stakeholder can act on, with who owns the model):
- `closed_with_serious`: a model marked Closed or Approved that still has open critical or high threats;
- `critical_open_long`: open critical threats created in TMI more than PORTAL_CRITICAL_OPEN_DAYS ago;
- `act_now`: open threats whose SSVC decision (TMI 1.8) is Immediate or Out-of-Cycle;
- `unchanged`: a model in which nothing changed for PORTAL_STALE_MODEL_DAYS: the latest of TMI's modified_at
  for the model, its threats, diagrams and other items, and the changes the store's history recorded (TMI's
  model modified_at does not move when a threat changes, PROTOCOL.md 12.9);
- `no_reviewer`: a TMI 1.8 model with no security reviewer (0.217 has no such field: never flagged there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.portfolio import links
from portal.portfolio.models import Change, StoredDiagram, StoredThreat, StoredThreatModel
from portal.portfolio.ssvc import ACT_NOW_DECISIONS

FLAG_KINDS = ("closed_with_serious", "critical_open_long", "act_now", "unchanged", "no_reviewer")
SERIOUS_SEVERITIES = ("critical", "high")
FINISHED_STATUSES = ("closed", "approved")  # a model someone signed off


def critical_open_days() -> int:
    return settings.PORTAL_CRITICAL_OPEN_DAYS


def stale_model_days() -> int:
    return settings.PORTAL_STALE_MODEL_DAYS


@dataclass(frozen=True)
class ThreatFacts:
    severity: str  # vocabulary key
    is_open: bool
    created_at: datetime | None  # TMI's
    ssvc: str = ""  # decision key (ssvc.py), "" for none


@dataclass(frozen=True)
class ModelFacts:
    id: str
    name: str
    owner: str
    status: str  # vocabulary key
    status_label: str
    has_reviewer: bool | None  # None: the generation has no security reviewer (0.217)
    last_changed_at: datetime | None
    threats: list[ThreatFacts] = field(default_factory=list)  # those read (the open ones are what count)


@dataclass(frozen=True)
class Flag:
    """One thing to do about one threat model."""

    kind: str
    sentence: str  # without the model's name: pages print the name (user text, escaped) beside it
    model_id: str
    model_name: str
    owner: str
    count: int  # threats for threat flags; days unchanged for `unchanged`; 1 for `no_reviewer`
    href: str  # where exactly its items are listed ("" in a PDF)


@dataclass(frozen=True)
class FlagGroup:
    """Every flag of one kind, summed up in one sentence, with the link to all of their items."""

    kind: str
    sentence: str
    count: int  # threats for threat flags, models for model flags: what the link lists
    href: str
    flags: list[Flag]


# -- where a flag leads -------------------------------------------------------------------------------------------
def flag_href(slug: str, kind: str, *, model_id: str = "", days: int = 0) -> str:
    """The page that lists exactly a flag's items: the threat register filtered, the threat-model list filtered, or
    the model's page (addresses from portfolio/links.py, like every other count's)."""
    if not slug:
        return ""
    model = [model_id] if model_id else []
    if kind == "closed_with_serious":
        return links.register_url(
            slug, model_status=list(FINISHED_STATUSES), severity=list(SERIOUS_SEVERITIES), model=model
        )
    if kind == "critical_open_long":
        return links.register_url(slug, severity="critical", older_than=days, model=model)
    if kind == "act_now":
        return links.register_url(slug, ssvc=list(ACT_NOW_DECISIONS), model=model)
    if model_id:
        return links.model_url(slug, model_id)
    if kind == "unchanged":
        return links.model_list_url(slug, unchanged_for=days)
    return links.model_list_url(slug, no_reviewer=1)


# -- the rules ----------------------------------------------------------------------------------------------------
def model_flags(facts: ModelFacts, *, now: datetime, slug: str = "") -> list[Flag]:
    critical_days, stale_days = critical_open_days(), stale_model_days()
    still_open = [t for t in facts.threats if t.is_open]
    flags: list[Flag] = []

    def add(kind: str, count: int, sentence: str, days: int = 0) -> None:
        href = flag_href(slug, kind, model_id=facts.id, days=days)
        flags.append(Flag(kind, sentence, facts.id, facts.name, facts.owner, count, href))

    serious = sum(1 for t in still_open if t.severity in SERIOUS_SEVERITIES)
    if facts.status in FINISHED_STATUSES and serious:
        sentence = ngettext(
            "Marked %(status)s, but %(count)d critical or high threat is still open.",
            "Marked %(status)s, but %(count)d critical or high threats are still open.",
            serious,
        ) % {"status": facts.status_label, "count": serious}
        add("closed_with_serious", serious, sentence)
    since = now - timedelta(days=critical_days)
    old = sum(1 for t in still_open if t.severity == "critical" and t.created_at and t.created_at < since)
    if old:
        sentence = ngettext(
            "%(count)d critical threat has been open for more than %(days)d days.",
            "%(count)d critical threats have been open for more than %(days)d days.",
            old,
        ) % {"count": old, "days": critical_days}
        add("critical_open_long", old, sentence, critical_days)
    act_now = sum(1 for t in still_open if t.ssvc in ACT_NOW_DECISIONS)
    if act_now:
        sentence = ngettext(
            "%(count)d open threat has an SSVC decision to act now.",
            "%(count)d open threats have an SSVC decision to act now.",
            act_now,
        ) % {"count": act_now}
        add("act_now", act_now, sentence)
    if facts.last_changed_at and facts.last_changed_at <= now - timedelta(days=stale_days):
        idle = (now - facts.last_changed_at).days
        sentence = ngettext(
            "Nothing in it has changed for %(count)d day.", "Nothing in it has changed for %(count)d days.", idle
        ) % {"count": idle}
        add("unchanged", idle, sentence, stale_days)
    if facts.has_reviewer is False:
        add("no_reviewer", 1, _("No security reviewer is assigned."))
    return flags


def flag_groups(flags: Iterable[Flag], *, slug: str = "") -> list[FlagGroup]:
    """The flags by kind (FLAG_KINDS' order), each kind summed up; the models in it most-affected first."""
    by_kind: dict[str, list[Flag]] = {}
    for flag in flags:
        by_kind.setdefault(flag.kind, []).append(flag)
    groups = []
    for kind in FLAG_KINDS:
        found = sorted(by_kind.get(kind, []), key=lambda f: (-f.count, f.model_name.lower(), f.model_id))
        if not found:
            continue
        models = len(found)
        threats = sum(f.count for f in found)
        in_models = ngettext("%(n)d threat model", "%(n)d threat models", models) % {"n": models}
        if kind == "closed_with_serious":
            count = threats
            sentence = _("%(threats)s in %(models)s marked Closed or Approved.") % {
                "threats": ngettext(
                    "%(n)d open critical or high threat", "%(n)d open critical or high threats", threats
                )
                % {"n": threats},
                "models": in_models,
            }
            href = flag_href(slug, kind)
        elif kind == "critical_open_long":
            count, days = threats, critical_open_days()
            sentence = _("%(threats)s open for more than %(days)d days, in %(models)s.") % {
                "threats": ngettext("%(n)d critical threat", "%(n)d critical threats", threats) % {"n": threats},
                "days": days,
                "models": in_models,
            }
            href = flag_href(slug, kind, days=days)
        elif kind == "act_now":
            count = threats
            sentence = _("%(threats)s with an SSVC decision to act now (Immediate or Out-of-Cycle), in %(models)s.") % {
                "threats": ngettext("%(n)d open threat", "%(n)d open threats", threats) % {"n": threats},
                "models": in_models,
            }
            href = flag_href(slug, kind)
        elif kind == "unchanged":
            count, days = models, stale_model_days()
            sentence = ngettext(
                "%(n)d threat model has not changed for %(days)d days or more.",
                "%(n)d threat models have not changed for %(days)d days or more.",
                models,
            ) % {"n": models, "days": days}
            href = flag_href(slug, kind, days=days)
        else:
            count = models
            sentence = ngettext(
                "%(n)d threat model has no security reviewer.", "%(n)d threat models have no security reviewer.", models
            ) % {"n": models}
            href = flag_href(slug, kind)
        groups.append(FlagGroup(kind, sentence, count, href, found))
    return groups


# -- the store's side: shared by the flags and the threat-model list's filters -----------------------------------
def has_reviewer_field(item: dict | None) -> bool:
    """TMI 1.8 numbers every threat model (`alias`) and has security reviewers; 0.217 has neither (PROTOCOL.md
    9.3). The list item the store keeps tells which generation answered."""
    return "alias" in (item or {})


def without_reviewer(models: QuerySet[StoredThreatModel]) -> QuerySet[StoredThreatModel]:
    """TMI 1.8 models with no security reviewer (TMI leaves the key out when there is none)."""
    return models.filter(item__has_key="alias").exclude(item__has_key="security_reviewer")


def _latest(model: Any, column: str) -> Subquery:
    rows = model.objects.filter(threat_model=OuterRef("pk")).order_by().values("threat_model")
    return Subquery(rows.annotate(latest=Max(column)).values("latest")[:1])


def _items_latest(tm: StoredThreatModel) -> datetime | None:
    """The latest modified_at among the documents, assets, notes and repositories TMI gave (kept as JSON)."""
    times = []
    for items in (tm.documents, tm.assets, tm.notes, tm.repositories):
        for item in items or []:
            when = parse_datetime(str(item.get("modified_at") or "")) if isinstance(item, dict) else None
            if when:
                times.append(when)
    return max(times) if times else None


def last_changed(models: QuerySet[StoredThreatModel], *, before: datetime) -> dict[int, datetime]:
    """When anything last changed in each model where nothing changed since `before`, by the store's pk: TMI's
    modified_at of the model, of its threats (gone ones too) and diagrams, of its other items, and every change
    the history recorded. (The daily snapshots add nothing: a count that moved is a change row already.)"""
    rows = models.annotate(
        threats_latest=_latest(StoredThreat, "modified_at"),
        threats_created=_latest(StoredThreat, "created_at"),
        diagrams_latest=_latest(StoredDiagram, "modified_at"),
        changes_latest=_latest(Change, "happened_at"),
    ).values_list(
        "pk", "created_at", "modified_at", "content_modified_at",
        "threats_latest", "threats_created", "diagrams_latest", "changes_latest",
    )  # fmt: skip
    candidates: dict[int, datetime] = {}
    for pk, *times in rows:
        known = [t for t in times if t]
        if known and max(known) <= before:
            candidates[pk] = max(known)
    # The other items' times are in their JSON: read only for the models that may be unchanged.
    pks = list(candidates)
    for start in range(0, len(pks), 500):
        chunk = StoredThreatModel.objects.filter(pk__in=pks[start : start + 500])
        for tm in chunk.only("pk", "documents", "assets", "notes", "repositories"):
            latest = _items_latest(tm)
            if latest and latest > candidates[tm.pk]:
                candidates[tm.pk] = latest
    return {pk: when for pk, when in candidates.items() if when <= before}


def unchanged_for(models: QuerySet[StoredThreatModel], days: int, *, now: datetime) -> list[int]:
    """The pks of models in which nothing changed for `days` days or more."""
    return list(last_changed(models, before=now - timedelta(days=days)))
