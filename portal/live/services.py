"""Bookkeeping of open live sockets (LiveConnection rows), read by the token-refresh task and by the
other sessions of the same diagram (each one's own role)."""

from __future__ import annotations

import time
from datetime import timedelta

from channels.db import database_sync_to_async
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_connection_get
from portal.live.models import LiveConnection
from portal.portfolio.models import StoredThreatModel
from portal.portfolio.requests import portfolio_sync_request

# A model whose sync was asked this recently is not asked again when someone opens it live: ten people opening a
# diagram together ask once. (Leaving always asks: what was drawn must reach the pages.)
LIVE_OPEN_SYNC_SECONDS = 30


def live_connection_open(
    *, organization, user, threat_model_id: str, diagram_id: str, channel_name: str
) -> TMIConnection:
    """The member's TMI connection (the vault's row; SignInRequired, and no bookkeeping row, without one) and
    the socket's bookkeeping row: one trip to the database thread for both, of the six a live socket made."""
    connection = tmi_connection_get(organization=organization, user=user)
    # One insert: the channel name is made afresh for each socket (consumers.py), so there is no row to update.
    LiveConnection.objects.create(
        channel_name=channel_name,
        organization=organization,
        user=user,
        threat_model_id=threat_model_id,
        diagram_id=diagram_id,
    )
    return connection


def live_connection_role_set(*, channel_name: str, tmi_user_id: str, can_edit: bool) -> None:
    LiveConnection.objects.filter(channel_name=channel_name).update(tmi_user_id=tmi_user_id, can_edit=can_edit)


def live_connection_close(*, channel_name: str) -> None:
    LiveConnection.objects.filter(channel_name=channel_name).delete()


def live_model_sync_ask(*, organization, threat_model_id: str, opening: bool) -> None:
    """A model open in a live session is synced into the portfolio store when the session starts and again
    when it ends, without waiting for the schedule."""
    if opening:
        since = timezone.now() - timedelta(seconds=LIVE_OPEN_SYNC_SECONDS)
        asked = StoredThreatModel.objects.filter(
            organization=organization, tmi_id=threat_model_id, sync_requested_at__gte=since
        )
        if asked.exists():
            return
    portfolio_sync_request(organization, models={threat_model_id}, inline=False)


alive_connection_open = database_sync_to_async(live_connection_open)
alive_connection_close = database_sync_to_async(live_connection_close)
alive_connection_role_set = database_sync_to_async(live_connection_role_set)
_live_model_sync_ask = database_sync_to_async(live_model_sync_ask)
# (organisation, threat model) -> when this process last asked for an opening sync. The rows' own check above
# holds across processes, but only for a model already in the store, and costs a trip to the database thread:
# a thousand people opening a hundred models not yet stored asked a thousand times (14% of daphne's connect work).
_opened_at: dict[tuple[int, str], float] = {}
_OPENED_KEPT = 10_000


async def alive_model_sync_ask(*, organization, threat_model_id: str, opening: bool) -> None:
    if opening:
        key, now = (organization.pk, threat_model_id), time.monotonic()
        if now - _opened_at.get(key, -LIVE_OPEN_SYNC_SECONDS) < LIVE_OPEN_SYNC_SECONDS:
            return
        if len(_opened_at) >= _OPENED_KEPT:
            _opened_at.clear()  # at worst, one more ask per model
        _opened_at[key] = now
    await _live_model_sync_ask(organization=organization, threat_model_id=threat_model_id, opening=opening)
