"""Bookkeeping of open live sockets (LiveConnection rows), read by the token-refresh task and by the
other sessions of the same diagram (each one's own role)."""

from __future__ import annotations

from datetime import timedelta

from channels.db import database_sync_to_async
from django.utils import timezone

from portal.live.models import LiveConnection
from portal.portfolio.models import StoredThreatModel
from portal.portfolio.requests import portfolio_sync_request

# A model whose sync was asked this recently is not asked again when someone opens it live: ten people opening a
# diagram together ask once. (Leaving always asks: what was drawn must reach the pages.)
LIVE_OPEN_SYNC_SECONDS = 30


def live_connection_open(
    *, organization, user, threat_model_id: str, diagram_id: str, channel_name: str
) -> LiveConnection:
    connection, _ = LiveConnection.objects.update_or_create(
        channel_name=channel_name,
        defaults={
            "organization": organization,
            "user": user,
            "threat_model_id": threat_model_id,
            "diagram_id": diagram_id,
        },
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
alive_model_sync_ask = database_sync_to_async(live_model_sync_ask)
