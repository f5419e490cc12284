"""Fixtures shared by every test: running TMI sandboxes, one per generation."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from portal.sandbox.config import GENERATIONS, SandboxConfig
from portal.sandbox.server import SandboxServer


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes on free loopback ports; each is stopped when the test ends.

    Usage: ``sandbox_factory("0.217", seed=None, access_token_seconds=5)``.
    """
    started: list[SandboxServer] = []

    def start(generation: str = "1.8", **overrides) -> SandboxServer:
        overrides.setdefault("seed", "demo")
        config = replace(SandboxConfig(generation=generation), **overrides)
        server = SandboxServer(config).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=GENERATIONS, ids=lambda g: f"tmi-{g}")
def generation(request) -> str:
    return request.param


@pytest.fixture
def sandbox(sandbox_factory, generation) -> SandboxServer:
    """A seeded sandbox of each TMI generation (the test runs once per generation)."""
    return sandbox_factory(generation)


# -- organisations and members on a running sandbox ------------------------------------------------


@pytest.fixture
def organization(db, sandbox):
    """Organisation `acme`, on the test's sandbox."""
    from portal.organizations.models import Organization

    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url=sandbox.base_url)


@pytest.fixture
def other_organization(db, sandbox):
    """Organisation `globex`, a second tenant on the same sandbox."""
    from portal.organizations.models import Organization

    return Organization.objects.create(name="Globex", slug="globex", tmi_base_url=sandbox.base_url)


@pytest.fixture
def member_factory(db, django_user_model):
    """`member_factory(organization, "alice", role="member")`: a portal user who is a member of the
    organisation and has signed in at its TMI (the sandbox) with that login hint; the tokens come from
    TMI's real OAuth flow and sit in the token vault."""
    from portal.accounts.vault import tmi_connection_store
    from portal.tmi import TokenPair
    from tests.sandbox.helpers import login

    def make(organization, hint: str, *, role: str = "member"):
        user, _ = django_user_model.objects.get_or_create(username=hint, defaults={"email": f"{hint}@example.com"})
        organization.memberships.update_or_create(user=user, defaults={"role": role})
        tokens = TokenPair(**login(organization.tmi_base_url, hint))
        tmi_connection_store(organization=organization, user=user, tokens=tokens, provider="tmi", subject=hint)
        return user

    return make


# -- markers for what is slow by nature (`make test-fast` leaves them out; CI runs everything) -------------

BROWSER_FIXTURES = {"page", "chromium", "daphne_server", "live_portal"}
WORKER_FIXTURES = {"workers"}
WORKER_MODULES = {"tests/test_celery.py", "tests/devtools/test_demo.py"}
PDF_MODULES = {"tests/reports/test_render.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        fixtures = set(getattr(item, "fixturenames", ()))
        if path.startswith("tests/browser/") or fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if path in WORKER_MODULES or fixtures & WORKER_FIXTURES:
            item.add_marker(pytest.mark.workers)
        if path in PDF_MODULES:
            item.add_marker(pytest.mark.pdf)
