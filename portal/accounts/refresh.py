"""Keeping tokens fresh for work that continues without the member: open live sessions and the
export schedules they own. Every refresh goes through the vault's one locked path."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.vault import SignInRequired, _pair_of, tmi_tokens_refresh
from portal.audit.services import audit_record
from portal.tmi.errors import TMIError

logger = logging.getLogger(__name__)


# What keeps a member's tokens worth refreshing without them: each app whose work goes on without the member
# (an open live socket, an export schedule that runs as them) registers a condition at start-up, so this
# module needs to know none of them. A condition is a callable giving a Django expression over the
# connection's `organization` and `user` (OuterRef), e.g. Exists(LiveConnection.objects.filter(...)).
_background_work: list[Callable[[], Any]] = []


def tmi_background_work_register(condition: Callable[[], Any]) -> None:
    if condition not in _background_work:
        _background_work.append(condition)


def tmi_connections_due_list(*, window_seconds: int | None = None, now=None):
    """Connections that expire within the window and whose owner has work going on without them, as the
    registered conditions say."""
    now = now or timezone.now()
    window = settings.TMI_REFRESH_WINDOW_SECONDS if window_seconds is None else window_seconds
    if not _background_work:
        return TMIConnection.objects.none()
    wanted = Q()
    for condition in _background_work:
        wanted |= Q(condition())
    return (
        TMIConnection.objects.select_related("organization", "user")
        .filter(needs_sign_in=False, expires_at__lte=now + timedelta(seconds=window))
        .filter(wanted)
        .order_by("pk")
    )


@dataclass
class RefreshReport:
    refreshed: list[int] = field(default_factory=list)
    already_fresh: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)


def tmi_tokens_refresh_due(*, window_seconds: int | None = None) -> RefreshReport:
    report = RefreshReport()
    window = settings.TMI_REFRESH_WINDOW_SECONDS if window_seconds is None else window_seconds
    for connection in tmi_connections_due_list(window_seconds=window):
        seen = _pair_of(connection)
        refused = False
        try:
            # Take the row lock first (the vault's nested block re-enters it) so that whoever comes
            # second can tell "someone refreshed it meanwhile" from "I refreshed it".
            with transaction.atomic():
                current = TMIConnection.objects.select_for_update().get(pk=connection.pk)
                if current.access_token != seen.access_token or current.needs_sign_in:
                    report.already_fresh.append(connection.pk)
                    continue
                try:
                    tmi_tokens_refresh(connection_id=connection.pk, stale=seen)
                except SignInRequired:
                    refused = True  # the vault's mark is kept: this block commits
        except TMIError as error:  # TMI down: the next beat tries again; the token is not spent
            logger.warning("could not refresh connection %s: %s", connection.pk, error)
            report.unreachable.append(connection.pk)
            continue
        if refused:
            report.refused.append(connection.pk)
            tmi_refresh_refused_record(connection=connection)
        else:
            report.refreshed.append(connection.pk)
    return report


def tmi_refresh_refused_record(*, connection: TMIConnection) -> None:
    """The audit row. Telling the member, and pausing what runs in their name, is done by whoever registered
    with the vault (vault.tmi_sign_in_required_subscribe): the vault tells them at the refusal itself."""
    audit_record(
        organization=connection.organization,
        action="tokens.refresh_refused",
        actor=None,
        target=str(connection.user),
        details={"user_id": connection.user_id},
    )
