"""What to do next, read from the store for one member: the flags of flag_rules.py over the models in their
visible set (selectors._visible_models, the one filter). A few queries whatever the portfolio's size: only the
open threats that can raise a flag are read, and the JSON of a model's items only when it may be unchanged."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from portal.portfolio.flag_rules import (
    SERIOUS_SEVERITIES,
    Flag,
    FlagGroup,
    ModelFacts,
    ThreatFacts,
    flag_groups,
    last_changed,
    model_flags,
    stale_model_days,
    without_reviewer,
)
from portal.portfolio.models import StoredThreat, StoredThreatModel
from portal.portfolio.selectors import _visible_models
from portal.portfolio.ssvc import ACT_NOW_DECISIONS
from portal.portfolio.vocabulary import tm_status_label


def _flags(models: QuerySet[StoredThreatModel], slug: str, now: datetime) -> list[Flag]:
    quiet_since = last_changed(models, before=now - timedelta(days=stale_model_days()))
    generation_18 = set(models.filter(item__has_key="alias").values_list("pk", flat=True))
    no_reviewer = set(without_reviewer(models).values_list("pk", flat=True))
    threats: dict[int, list[ThreatFacts]] = defaultdict(list)
    flaggable = StoredThreat.objects.filter(
        threat_model__in=models.values("pk"), gone_at__isnull=True, is_open=True
    ).filter(Q(severity__in=SERIOUS_SEVERITIES) | Q(ssvc_decision__in=ACT_NOW_DECISIONS))
    for tm_pk, severity, created_at, ssvc in flaggable.values_list(
        "threat_model_id", "severity", "created_at", "ssvc_decision"
    ):
        threats[tm_pk].append(ThreatFacts(severity=severity, is_open=True, created_at=created_at, ssvc=ssvc))
    concerned = set(quiet_since) | no_reviewer | set(threats)
    flags: list[Flag] = []
    rows = models.filter(pk__in=concerned).values_list("pk", "tmi_id", "name", "owner", "status", "status_text")
    for pk, tmi_id, name, owner, status, status_text in rows:
        facts = ModelFacts(
            id=tmi_id,
            name=name,
            owner=owner,
            status=status,
            status_label=tm_status_label(status, status_text),
            has_reviewer=(pk not in no_reviewer) if pk in generation_18 else None,
            last_changed_at=quiet_since.get(pk),
            threats=threats.get(pk, []),
        )
        flags.extend(model_flags(facts, now=now, slug=slug))
    return flags


def portfolio_flags_get(*, organization: Any, user: Any, now: datetime | None = None) -> list[Flag]:
    """Every flag of every model the member may see."""
    return _flags(_visible_models(organization, user), organization.slug, now or timezone.now())


def portfolio_flag_groups_get(*, organization: Any, user: Any, now: datetime | None = None) -> list[FlagGroup]:
    """The overview's "What to do next": the member's flags by kind, each kind summed up."""
    return flag_groups(portfolio_flags_get(organization=organization, user=user, now=now), slug=organization.slug)


def threat_model_flags_get(
    *, organization: Any, user: Any, threat_model_id: str, now: datetime | None = None
) -> list[Flag]:
    """The flags of one model the member may see (none when they may not)."""
    models = _visible_models(organization, user).filter(tmi_id=str(threat_model_id))
    return _flags(models, organization.slug, now or timezone.now())
