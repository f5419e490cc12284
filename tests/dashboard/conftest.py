"""Dashboard test helpers: a clean per-user cache for every test, the sandbox's view of what a user may read."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from django.core.cache import cache

from portal.portfolio.vocabulary import severity_key, term_key, threat_is_open


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()  # test databases reuse primary keys, so an earlier test's cached answers must go
    yield
    cache.clear()


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
