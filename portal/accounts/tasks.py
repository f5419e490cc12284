"""Celery tasks of the accounts app: thin wrappers over refresh.py. Beat runs them (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from portal.accounts.refresh import tmi_tokens_refresh_due as _refresh_due


@shared_task(name="portal.accounts.tasks.tmi_tokens_refresh_due")
def tmi_tokens_refresh_due() -> dict:
    report = _refresh_due()
    return {
        "refreshed": report.refreshed,
        "already_fresh": report.already_fresh,
        "refused": report.refused,
        "unreachable": report.unreachable,
        "postponed": report.postponed,
    }
