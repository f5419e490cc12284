"""Celery tasks of the accounts app: thin wrappers over refresh.py. Beat runs them (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from portal.accounts.refresh import tmi_tokens_refresh_due as _refresh_due
from portal.accounts.refresh import tmi_tokens_refresh_shares


@shared_task(name="portal.accounts.tasks.tmi_tokens_refresh_due")
def tmi_tokens_refresh_due() -> int:
    """Beat's: one task per share of the connections due (refresh.tmi_tokens_refresh_shares); how many it sent."""
    shares = tmi_tokens_refresh_shares()
    for share in shares:
        tmi_tokens_refresh_share.delay(share)
    return len(shares)


@shared_task(name="portal.accounts.tasks.tmi_tokens_refresh_share")
def tmi_tokens_refresh_share(connection_ids: list[int]) -> dict:
    report = _refresh_due(connection_ids=connection_ids)
    return {
        "refreshed": report.refreshed,
        "already_fresh": report.already_fresh,
        "refused": report.refused,
        "unreachable": report.unreachable,
        "postponed": report.postponed,
    }
