"""Dashboard test helpers: a clean cache and fresh TMI budgets for every test, the store filled by a sync, the
calls the sandbox saw, and the sandbox's view of what a user may read."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from html.parser import HTMLParser

import httpx
import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from portal.portfolio import sync
from portal.portfolio.models import VisibleSet
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.vocabulary import severity_key, term_key, threat_is_open


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()  # test databases reuse primary keys, so an earlier test's cached answers must go
    yield
    cache.clear()


def store_filled(organization, *users) -> sync.SyncReport:
    """A first sync for these members (what their first page view, or their sign-in, asks for), checked clean.
    Not counted by `sync_passes`, which counts the passes the pages ask for."""
    report = portfolio_sync(organization, members={user.pk for user in users})
    assert report.sets_read == len(users) and not (report.errors or report.stopped or report.skipped), report
    return report


def visible_set_age(organization, user, seconds: float) -> None:
    """As if the member's set had been read from TMI `seconds` ago."""
    read_at = timezone.now() - timedelta(seconds=seconds)
    assert VisibleSet.objects.filter(organization=organization, user=user).update(read_at=read_at) == 1


def visible_set_stale(organization, user) -> None:
    """The member's set is older than PORTAL_VISIBLE_SET_SECONDS, so their next page asks for a sync, but younger
    than PORTAL_ACTIVE_MEMBER_SECONDS, so the page still shows it (an older one is emptied: they were away)."""
    fresh_for, kept_for = settings.PORTAL_VISIBLE_SET_SECONDS, settings.PORTAL_ACTIVE_MEMBER_SECONDS
    assert fresh_for + 2 < kept_for
    visible_set_age(organization, user, (fresh_for + kept_for) / 2)


class SyncPasses(list):
    """The report of each pass, in order; `asked` holds what each was asked for (its keyword arguments)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[dict] = []


@pytest.fixture
def sync_passes(monkeypatch) -> SyncPasses:
    """Every sync pass run from now on (pages run theirs inline in tests: PORTAL_SYNC_INLINE)."""
    reports = SyncPasses()
    real = sync.portfolio_sync

    def recorded(*args, **kwargs):
        reports.asked.append(kwargs)
        report = real(*args, **kwargs)
        reports.append(report)
        return report

    monkeypatch.setattr(sync, "portfolio_sync", recorded)
    return reports


def tmi_calls(sandbox) -> Counter:
    """Every call the sandbox got since the last `count_requests_afresh`, by "METHOD /path" (counted at its edge,
    faulted calls included)."""
    return Counter(httpx.get(f"{sandbox.base_url}/_sandbox/requests", timeout=10).json()["seen"])


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def sign_in(client, user) -> None:
    """The member's Django session. The backend is named because the first one in settings (social auth's)
    may not implement Django's async `aget_user`, which async views need; this tests the pages, not it."""
    client.force_login(user, backend=MODEL_BACKEND)


@pytest.fixture
def alice(signed_in_owner):
    return signed_in_owner


def readable_models(sandbox, hint: str) -> list[dict]:
    """The threat models the sandbox lets `hint` read, straight from its state (not through TMI's API)."""
    state = sandbox.state
    user = next(u for u in state.users.values() if u.provider_id == hint)
    return [
        tm for tm in state.threat_models.values() if state.role_of(user, tm) is not None and not tm.get("deleted_at")
    ]


def open_severities(models: list[dict]) -> Counter:
    return Counter(
        severity_key(t.get("severity"))
        for tm in models
        for t in tm.get("threats", [])
        if not t.get("deleted_at") and threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))
    )


def status_counts(models: list[dict]) -> Counter:
    return Counter(term_key(tm.get("status")) for tm in models)


def find_model(sandbox, name: str) -> dict:
    return next(tm for tm in sandbox.state.threat_models.values() if tm["name"] == name)


class Elements(HTMLParser):
    """An HTML page read back: every start tag with its attributes, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data
