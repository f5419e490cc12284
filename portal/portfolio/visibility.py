"""Each member's visible set: which threat models TMI lists for them. The store may hold more; pages, PDFs and
spreadsheets show a member only the models in their set (selectors filter by it, never by TMI's rules redone).

A set is read at sign-in, again by the sync while the member is active and it is older than
PORTAL_VISIBLE_SET_SECONDS, and when TMI refuses a model to them; it is dropped at sign-out and when TMI refuses
to renew their access."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.organizations.models import Organization
from portal.portfolio.models import SyncState, VisibleModel, VisibleSet
from portal.portfolio.requests import portfolio_sync_request
from portal.portfolio.sync import visible_set_for

# A page view marks its member active at most this often (one write a minute, not one per page).
WANTED_WRITE_SECONDS = 60


def visible_set_signed_in(organization: Organization, user_id: int) -> None:
    """Registered with the token vault: a sign-in reads the member's set at once (in the background)."""
    visible_set = visible_set_for(organization, user_id)
    VisibleSet.objects.filter(pk=visible_set.pk).update(wanted_at=timezone.now())
    portfolio_sync_request(organization, members={user_id}, inline=False)


def visible_set_drop(organization: Organization, user_id: int) -> None:
    """Registered with the token vault: signed out, or TMI refused to renew their access."""
    VisibleSet.objects.filter(organization=organization, user_id=user_id).delete()


def visible_set_touch(organization: Organization, user_id: int) -> VisibleSet:
    """A page view: the member is active. A set never read, or older than the interval, is read again in the
    background (the page shows what the store has, or the progress of a first read). A set nobody kept fresh
    (older than PORTAL_ACTIVE_MEMBER_SECONDS: the member was away, so the sync stopped reading it) no longer says
    what TMI lets them see: it is emptied, and the page shows the first read's progress until TMI answers, rather
    than models whose access TMI may have removed meanwhile."""
    visible_set = visible_set_for(organization, user_id)
    now = timezone.now()
    expired = now - timedelta(seconds=settings.PORTAL_ACTIVE_MEMBER_SECONDS)
    if visible_set.read_at is not None and visible_set.read_at < expired:
        VisibleModel.objects.filter(visible_set=visible_set).delete()
        VisibleSet.objects.filter(pk=visible_set.pk).update(read_at=None)
        visible_set.read_at = None
    if visible_set.wanted_at is None or visible_set.wanted_at < now - timedelta(seconds=WANTED_WRITE_SECONDS):
        VisibleSet.objects.filter(pk=visible_set.pk).update(wanted_at=now)
        visible_set.wanted_at = now
    stale = visible_set.read_at is None or visible_set.read_at < now - timedelta(
        seconds=settings.PORTAL_VISIBLE_SET_SECONDS
    )
    if stale and not _asked_lately(organization, now):
        portfolio_sync_request(organization, members={user_id})
        # Read at once when the sync runs in this process (PORTAL_SYNC_INLINE): the page sees it.
        visible_set.read_at = VisibleSet.objects.filter(pk=visible_set.pk).values_list("read_at", flat=True).first()
    return visible_set


# A page asks for the sync its stale set needs at most this often while no pass has finished since: the pages
# a member opens meanwhile (or the reading page looking again) do not queue a pass each.
ASK_AGAIN_SECONDS = 10


def _asked_lately(organization: Organization, now) -> bool:
    if settings.PORTAL_SYNC_INLINE:
        return False  # the ask is the pass itself: nothing waits in a queue
    state = SyncState.objects.filter(organization=organization).values("requested_at", "last_sync_at").first()
    if not state or state["requested_at"] is None:
        return False
    waiting = state["last_sync_at"] is None or state["requested_at"] > state["last_sync_at"]
    return waiting and state["requested_at"] > now - timedelta(seconds=ASK_AGAIN_SECONDS)
