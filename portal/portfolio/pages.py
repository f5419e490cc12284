"""What every stakeholder page does before it reads the store: mark the member active, have their visible set
read again when it is stale, and say how fresh the page is (or how far the first read has got)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from portal.accounts.vault import tmi_connection_get
from portal.organizations.tmi_servers import tmi_address_guard
from portal.portfolio.models import StoredThreatModel
from portal.portfolio.requests import portfolio_sync_request
from portal.portfolio.selectors import Freshness, freshness_get, threat_model_visible
from portal.portfolio.visibility import visible_set_touch

# A threat model not (yet) in the member's set is looked for at TMI once their set is this old (a link to a
# model created a moment ago); a younger set's answer stands: not found.
UNLISTED_RECHECK_SECONDS = 10


@dataclass(frozen=True)
class PageFreshness(Freshness):
    model_pending: bool = False  # the page's threat model is being read from TMI


def _server_allowed(organization: Any) -> None:
    """AddressNotAllowed (as the TMI client raises it) when the operator no longer allows the organisation's TMI
    server: the page says so (tmi_pages) rather than "Reading", and no sync is asked for. A name that does not
    resolve at the moment is not refused here (the client's own check when it connects still applies)."""
    guard = tmi_address_guard()
    _, host, port = guard.target(organization.tmi_base_url)
    try:
        guard.resolve(host, port)
    except OSError:
        pass


def _page_freshness(organization: Any, user: Any, threat_model_id: str | None) -> PageFreshness:
    _server_allowed(organization)  # AddressNotAllowed: the page says the operator does not allow this server
    tmi_connection_get(organization=organization, user=user)  # SignInRequired: the page says "sign in again"
    visible_set = visible_set_touch(organization, user.pk)
    pending = False
    if threat_model_id and visible_set.read_at is not None:
        tm = threat_model_visible(organization=organization, user=user, threat_model_id=threat_model_id)
        recheck = visible_set.read_at < timezone.now() - timedelta(seconds=UNLISTED_RECHECK_SECONDS)
        if tm is None and recheck:
            portfolio_sync_request(organization, members={user.pk}, models={threat_model_id})
            tm = threat_model_visible(organization=organization, user=user, threat_model_id=threat_model_id)
            pending = tm is None and not _answered(organization, threat_model_id)
        elif tm is not None and tm.content_synced_at is None:
            portfolio_sync_request(organization, models={threat_model_id})
            tm.refresh_from_db(fields=["content_synced_at"])
            pending = tm.content_synced_at is None
    # A sync this page asked for (inline, or a worker quicker than the page) may have met TMI refusing to renew the
    # member's access: it dropped their set, so this page sends them to sign in again rather than to "Reading".
    tmi_connection_get(organization=organization, user=user)
    fresh = freshness_get(organization=organization, user=user)
    return PageFreshness(**fresh.__dict__, model_pending=pending)


def _answered(organization: Any, threat_model_id: str) -> bool:
    """After an inline sync the answer is in: a model still not visible is not the member's to see."""
    from django.conf import settings

    return (
        settings.PORTAL_SYNC_INLINE
        or StoredThreatModel.objects.filter(
            organization=organization, tmi_id=threat_model_id, gone_at__isnull=False
        ).exists()
    )


async def page_freshness(organization: Any, user: Any, *, threat_model_id: str | None = None) -> PageFreshness:
    return await database_sync_to_async(_page_freshness)(organization, user, threat_model_id)


def refresh_ask(organization: Any, user: Any, *, threat_model_id: str = "") -> None:
    """ "Refresh now": the member's set, and the model they look at (only if it is theirs to see)."""
    models = set()
    if threat_model_id and threat_model_visible(organization=organization, user=user, threat_model_id=threat_model_id):
        models.add(str(threat_model_id))
    portfolio_sync_request(organization, members={user.pk}, models=models)
