"""Fixtures shared by every test: running TMI sandboxes, one per generation."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from django.conf import settings
from django.db.backends.signals import connection_created

from portal.sandbox.config import GENERATIONS, SandboxConfig
from portal.sandbox.server import SandboxServer

# Loopback listeners that count what reaches them (the address guard's tests, Test connection).
pytest_plugins = ["tests.tmi.listeners"]

# The sandboxes listen on loopback, which the portal refuses as a TMI server unless the operator lists it
# (PORTAL_TMI_ALLOWED_SERVERS, portal/organizations/tmi_servers.py). The tests list it deliberately, as the
# demo lists its sandbox; the processes they start (daphne, Celery workers) read it from the environment.
# Tests of the refusal itself override the setting.
TESTS_TMI_SERVERS = "public,127.0.0.1"
os.environ["PORTAL_TMI_ALLOWED_SERVERS"] = TESTS_TMI_SERVERS
settings.PORTAL_TMI_ALLOWED_SERVERS = TESTS_TMI_SERVERS.split(",")


def _sqlite_without_fsync(sender, connection, **kwargs):
    """The test database is thrown away: no fsync on each of its commits (about 8 ms each here)."""
    if connection.vendor == "sqlite":
        connection.cursor().execute("PRAGMA synchronous=OFF")


connection_created.connect(_sqlite_without_fsync)


def _one_tls_context_for_test_clients() -> None:
    """Tests build hundreds of httpx clients for plain-http calls to loopback, and httpx loads the CA bundle
    into a new TLS context for each: 40 ms a client. They share one verifying context instead, as the portal's
    own client does (portal/tmi/_http.py); a test that passes its own `verify` still gets its own."""
    from httpx._transports import default

    from portal.tmi._http import shared_tls_context

    original = default.create_ssl_context

    def create_ssl_context(verify=True, cert=None, trust_env=True):
        if verify is True and cert is None:
            return shared_tls_context()
        return original(verify=verify, cert=cert, trust_env=trust_env)

    default.create_ssl_context = create_ssl_context


_one_tls_context_for_test_clients()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Django's cache holds per-organisation TMI answers (the sign-in page's providers) and rate-limit
    counts; test databases reuse primary keys and sandboxes reuse ports, so each test starts empty."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layers():
    """Each test gets channel layers of its own. channels_redis keeps one receive lock per layer, bound to the
    event loop that first received, and pytest-asyncio gives each test its own loop: a consumer that an
    earlier test left receiving made the next test's fail with "bound to a different event loop" (CI, once)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


class SandboxPool:
    """Running sandboxes, kept for the whole session by configuration and lent to one test at a time.

    A test that asks for a sandbox gets an idle one of the same configuration, reset through its control call
    (/_sandbox/reset: the seed again, no faults, the clock back, every session, socket and sign-in gone), as
    if new; only when none is idle does a new one start. Starting and stopping a server per test cost about
    a quarter of a second each time; a reset costs a few milliseconds. A sandbox the test stopped is not
    lent again."""

    def __init__(self) -> None:
        self.idle: dict[str, list[SandboxServer]] = {}
        self.every: list[SandboxServer] = []

    @staticmethod
    def key(config: SandboxConfig) -> str:
        return repr(config)

    def take(self, config: SandboxConfig) -> SandboxServer:
        idle = self.idle.get(self.key(config))
        if idle:
            return idle.pop().reset()
        server = SandboxServer(config).start()
        self.every.append(server)
        RUNNING_SANDBOXES[server.base_url] = server
        return server

    def give_back(self, config: SandboxConfig, server: SandboxServer) -> None:
        if server.running:
            self.idle.setdefault(self.key(config), []).append(server)
        else:
            RUNNING_SANDBOXES.pop(server.base_url, None)

    def stop_all(self) -> None:
        running = [server for server in self.every if server.running]
        for server in running:  # all told first: each then takes one tick to end, not one tick after another
            server.stop_soon()
        for server in self.every:
            RUNNING_SANDBOXES.pop(server.base_url, None)
        for server in running:
            server.stop()


@pytest.fixture(scope="session")
def sandbox_pool() -> Iterator[SandboxPool]:
    pool = SandboxPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def sandbox_factory(sandbox_pool) -> Iterator[Callable[..., SandboxServer]]:
    """Sandboxes for this test, each its own server: `sandbox_factory("0.217", seed=None, access_token_seconds=5)`.

    Lent from the session's pool (see SandboxPool), so each starts as a new server would."""
    lent: list[tuple[SandboxConfig, SandboxServer]] = []

    from portal.organizations.tmi_budget import tmi_budget_forget

    def start(generation: str = "1.8", **overrides) -> SandboxServer:
        overrides.setdefault("seed", "demo")
        # The real servers' rate limits (0.217's count loopback: 10 GET / a minute) are off unless a test is
        # about them (tests/sandbox/test_limits*.py pass rate_limits=True).
        overrides.setdefault("rate_limits", False)
        config = replace(SandboxConfig(generation=generation), **overrides)
        server = sandbox_pool.take(config)
        lent.append((config, server))
        # A pooled server's address comes back with the portal's TMI budgets an earlier test spent there (the
        # sync's REST calls, a 429's closure): each test starts with them empty.
        tmi_budget_forget(server.base_url)
        return server

    yield start
    for config, server in lent:
        tmi_budget_forget(server.base_url)
        sandbox_pool.give_back(config, server)


# Sandboxes this test process runs, by base URL: members' tokens are minted from their state.
RUNNING_SANDBOXES: dict[str, SandboxServer] = {}


def member_tokens(base_url: str, hint: str) -> dict:
    """The token response TMI gives the test IdP user `hint`. Minted straight from the sandbox's state when
    this process runs it (the same tokens its code exchange issues, without four HTTP round trips); a sandbox
    elsewhere is signed in to for real. The sign-in tests themselves drive the real PKCE flow."""
    from portal.sandbox import builtin_idp
    from tests.sandbox.helpers import login

    server = RUNNING_SANDBOXES.get(base_url.rstrip("/"))
    if server is None:
        return login(base_url, hint)
    state = server.state
    who = builtin_idp.identity_for(state.config, hint)
    user = state.user_for_login(
        provider=who.provider, provider_id=who.provider_id, email=who.email, display_name=who.display_name
    )
    return state.issue_tokens(user)


@pytest.fixture(params=GENERATIONS, ids=lambda g: f"tmi-{g}")
def generation(request) -> str:
    return request.param


@pytest.fixture
def sandbox(sandbox_factory, generation) -> SandboxServer:
    """A seeded sandbox of each TMI generation (the test runs once per generation). A test may stop it
    (TMI down); the next test then gets a new one."""
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
    from portal.tmi import TMIClient, TokenPair

    def make(organization, hint: str, *, role: str = "member"):
        user, _ = django_user_model.objects.get_or_create(username=hint, defaults={"email": f"{hint}@example.com"})
        organization.memberships.update_or_create(user=user, defaults={"role": role})
        tokens = TokenPair(**member_tokens(organization.tmi_base_url, hint))
        with TMIClient(organization.tmi_base_url, auth=tokens) as tmi:  # as sign-in does, from userinfo
            info = tmi.auth.userinfo()
        tmi_connection_store(
            organization=organization,
            user=user,
            tokens=tokens,
            provider="tmi",
            subject=hint,
            email=info.email,
            display_name=info.display_name,
        )
        return user

    return make


# The default world: the people of `organization`, each made only when a test asks for them. Their login hints
# are the sandbox's demo users, so their TMI access is the seed's (tests/dashboard/conftest.py reads it).


@pytest.fixture
def owner(organization, member_factory):
    """alice, an owner of `organization`."""
    return member_factory(organization, "alice", role="owner")


@pytest.fixture
def admin(organization, member_factory):
    """carol, an admin of `organization`."""
    return member_factory(organization, "carol", role="admin")


@pytest.fixture
def member(organization, member_factory):
    """bob, a member of `organization`."""
    return member_factory(organization, "bob", role="member")


@pytest.fixture
def signed_in_owner(client, owner):
    """The owner, signed in to the portal in the test's Django `client` (through the model backend: social
    auth's may not implement the async `aget_user` the async views need; the sign-in tests test that)."""
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    return owner


# -- markers for what is slow by nature (`make test-fast` leaves them out; CI runs everything) -------------

BROWSER_FIXTURES = {"page", "chromium", "daphne_server", "live_portal"}
WORKER_FIXTURES = {"workers"}
WORKER_MODULES = {"tests/test_celery.py", "tests/devtools/test_demo.py", "tests/devtools/test_demo_terminal.py"}
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


# -- a faster flush after transactional tests ------------------------------------------------------------


def _install_fast_flush() -> None:
    """After each transactional test Django flushes every table and then re-runs the post_migrate handlers,
    which rebuild content types and permissions model by model: about 0.35 s a test, most of a transactional
    test's teardown. Instead the flush skips them and puts back the rows they made, with their ids (so
    ContentType's cache stays right). The rows are read at the first flush, before it: the database then
    holds what migrating made (the test database exists only once a test needs it)."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown
    kept: dict[str, tuple[list, list]] = {}

    def fixture_teardown(self):
        if self.available_apps is not None or self.serialized_rollback:
            return original(self)
        for db_name in self._databases_names(include_mirrors=False):
            if db_name not in kept:
                kept[db_name] = (
                    list(ContentType.objects.using(db_name).all()),
                    list(Permission.objects.using(db_name).all()),
                )
            content_types, permissions = kept[db_name]
            call_command(
                "flush",
                verbosity=0,
                interactive=False,
                database=db_name,
                reset_sequences=False,
                inhibit_post_migrate=True,
            )
            ContentType.objects.using(db_name).bulk_create(content_types)
            Permission.objects.using(db_name).bulk_create(permissions)

    TransactionTestCase._fixture_teardown = fixture_teardown


_install_fast_flush()
