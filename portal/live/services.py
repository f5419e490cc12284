"""Bookkeeping of open live sockets (LiveConnection rows), read by the token-refresh task and by the
other sessions of the same diagram (each one's own role)."""

from __future__ import annotations

from channels.db import database_sync_to_async

from portal.live.models import LiveConnection


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


alive_connection_open = database_sync_to_async(live_connection_open)
alive_connection_close = database_sync_to_async(live_connection_close)
alive_connection_role_set = database_sync_to_async(live_connection_role_set)
