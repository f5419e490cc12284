"""Telling open admin pages that something changed: one channel-layer group per organisation."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from portal.diagrams.text import clean_display_text

logger = logging.getLogger(__name__)


def admin_group(organization_id: int) -> str:
    return f"admin-{organization_id}"


def admin_change_broadcast(*, organization, section: str, actor=None, summary: str = "") -> None:
    """After commit, tell `admin-<organization id>` which section changed and who changed it.
    A failing channel layer must never undo or fail the change itself, so errors are only logged."""
    event = {
        "type": "admin.changed",
        "section": section,
        "summary": summary,
        # A name from TMI, shown by admin.js: without bidi or control characters, as on the pages.
        "actor": clean_display_text(actor.get_full_name() or actor.email or actor.get_username()) if actor else "",
        "actor_id": actor.pk if actor else None,
    }
    group = admin_group(organization.pk)

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:  # noqa: BLE001 - a page that does not refresh is better than a lost change
            logger.warning("could not tell open admin pages of %s about a change", group, exc_info=True)

    transaction.on_commit(send)
