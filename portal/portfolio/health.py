"""The portfolio's part of the tenant admin's health page: how the sync stands, and how much of the TMI server's
budgets (auth-flow calls and the sync's REST calls, each in any 60 s, shared by every process) is in use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.organizations.models import Organization
from portal.organizations.tmi_budget import Purpose, tmi_auth_places, tmi_budget
from portal.portfolio.models import StoredThreatModel, SyncState


@dataclass(frozen=True)
class BudgetUse:
    name: str
    taken: int
    places: int

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.taken / self.places)) if self.places else 0


@dataclass(frozen=True)
class SyncHealth:
    last_sync_at: datetime | None
    last_full_sync_at: datetime | None
    running_since: datetime | None
    last_calls: int
    last_error: str
    models_stored: int
    budgets: list[BudgetUse]


def portfolio_health_get(*, organization: Organization) -> SyncHealth:
    state = SyncState.objects.filter(organization=organization).first()
    base_url = organization.tmi_base_url
    budgets = [
        BudgetUse("auth", tmi_budget(base_url, Purpose.SIGN_IN).taken(), tmi_auth_places(Purpose.SIGN_IN)),
        BudgetUse("rest", tmi_budget(base_url, Purpose.REST).taken(), tmi_auth_places(Purpose.REST)),
    ]
    return SyncHealth(
        last_sync_at=state.last_sync_at if state else None,
        last_full_sync_at=state.last_full_sync_at if state else None,
        running_since=state.running_since if state else None,
        last_calls=state.last_calls if state else 0,
        last_error=state.last_error if state else "",
        models_stored=StoredThreatModel.objects.filter(organization=organization, gone_at__isnull=True).count(),
        budgets=budgets,
    )
