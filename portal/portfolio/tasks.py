"""Celery tasks of the portfolio: thin wrappers over sync.py and history.py. Beat runs the periodic ones."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from portal.organizations.models import Organization
from portal.portfolio.history import portfolio_history_expire as _history_expire
from portal.portfolio.requests import portfolio_syncs_due
from portal.portfolio.sync import portfolio_sync


@shared_task(name="portal.portfolio.tasks.portfolio_sync_task")
def portfolio_sync_task(organization_id: int, members: list[int] = (), models: list[str] = (), full: bool = False):
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return {"skipped": "no organisation"}
    report = portfolio_sync(organization, members=set(members), models=set(models), full=full or None)
    return asdict(report)


@shared_task(name="portal.portfolio.tasks.portfolio_sync_due")
def portfolio_sync_due() -> dict:
    """Each organisation whose last pass is older than PORTAL_SYNC_SECONDS, or that someone asked for."""
    due = portfolio_syncs_due()
    for organization_id in due:
        portfolio_sync_task.delay(organization_id)
    return {"sent": len(due)}


@shared_task(name="portal.portfolio.tasks.portfolio_history_expire")
def portfolio_history_expire() -> dict:
    return {"deleted": _history_expire()}
