"""The token vault: the one place TMI tokens are stored, read and refreshed.

TMI refresh tokens are single use (PROTOCOL.md 3.6), so every refresh — by a page, a socket
consumer or a Celery worker, in any process — goes through `tmi_tokens_refresh`, which takes the
connection's refresh lease (one conditional UPDATE) before it talks to TMI and re-reads the row
first: whoever comes second waits for the lease to end, finds the new pair and uses it instead of
spending the old refresh token again. No database lock is held while TMI answers (on SQLite that
lock is the whole database's), so many refreshes of different members run at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone as dj_timezone

from portal.accounts.deadlines import tmi_deadline_current
from portal.accounts.models import TMIConnection
from portal.accounts.tmi_generations import tmi_generation_hint, tmi_generation_remember
from portal.organizations.models import Organization
from portal.organizations.tmi_budget import Purpose, tmi_budget
from portal.organizations.tmi_gates import tmi_gate
from portal.organizations.tmi_servers import tmi_address_guard
from portal.row_reads import row_get
from portal.tmi import AsyncTMIClient, RateLimited, RefreshFailed, RetryPolicy, TMIClient, TokenAuth, TokenPair, User

logger = logging.getLogger(__name__)


class SignInRequired(Exception):
    """The member has no usable TMI tokens for this organisation and must sign in again."""


# Work done in a member's name (exports' schedules) must stop when TMI stops renewing their access. The
# vault cannot know that work (higher layers import it, not the reverse), so it tells whoever registered
# (once, in their AppConfig.ready): each listener is called with the connection right after the mark, in
# the caller's transaction (so the two commit or roll back together), inside a savepoint of its own.
_sign_in_required_listeners: list[Callable[[TMIConnection], None]] = []


def tmi_sign_in_required_subscribe(listener: Callable[[TMIConnection], None]) -> None:
    if listener not in _sign_in_required_listeners:
        _sign_in_required_listeners.append(listener)


def _sign_in_required_announce(connection: TMIConnection) -> None:
    for listener in list(_sign_in_required_listeners):
        try:
            with transaction.atomic():
                listener(connection)
        except Exception:  # noqa: BLE001 - a listener's failure must not undo or hide the refusal
            logger.exception("sign-in-required listener %r failed for connection %s", listener, connection.pk)


def _pair_of(connection: TMIConnection) -> TokenPair:
    expires_in = int(connection.expires_at.timestamp() - dj_timezone.now().timestamp())
    return TokenPair(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        expires_in=expires_in,
        issued_at=dj_timezone.now().timestamp(),
    )


def _expiry_of(tokens: TokenPair) -> datetime:
    return datetime.fromtimestamp(tokens.expires_at, tz=UTC)


def tmi_client_options(
    server: Organization | str,
    *,
    timeout: float | None = None,
    max_retries: int | None = None,
    purpose: Purpose = Purpose.REFRESH,
    background: bool = False,
) -> dict:
    """What every TMI client the portal builds for `server` (an organisation, or a bare TMI address: Test
    connection, the tests) is given: the timeout and retries of the settings (or the caller's), the server's
    place in the gate that caps calls at once across the portal (organizations/tmi_gates.py: the organisation's
    cap, or the default for an address), the server's generation as last seen (tmi_generations.py), and the
    deadline of the page view or sign-out in progress, if any (deadlines.py). Its auth-flow calls (code
    exchange, refresh, client credentials) take a place in the server's auth-flow budget (tmi_budget.py);
    only a sign-in's code exchange (`purpose=Purpose.SIGN_IN`) may use the places kept for sign-ins. A
    `background` client (the portfolio sync) also takes a place in the server's REST budget for each call."""
    if isinstance(server, Organization):
        base_url, places = server.tmi_base_url, server.tmi_max_concurrency
    else:
        base_url, places = server, Organization._meta.get_field("tmi_max_concurrency").default
    options: dict = {
        "gate": tmi_gate(base_url, places),
        "budget": tmi_budget(base_url, purpose),
        "generation_hint": tmi_generation_hint(base_url),
        "on_discovery": tmi_generation_remember(base_url),
        "timeout": settings.TMI_TIMEOUT_SECONDS if timeout is None else timeout,
        "retry_policy": RetryPolicy(
            max_retries=settings.TMI_MAX_RETRIES if max_retries is None else max_retries,
            base_delay=settings.TMI_RETRY_BASE_SECONDS,
        ),
        # Only the TMI servers the operator allows, checked on every connection (tmi_servers.py).
        "address_guard": tmi_address_guard(),
    }
    if background:
        options["rest_budget"] = tmi_budget(base_url, Purpose.REST)
    deadline = tmi_deadline_current()
    if deadline is not None:
        options["deadline"] = deadline
    return options


def _server_address(url: str) -> str:
    return (url or "").strip().rstrip("/").lower()


def _issued_by(connection: TMIConnection, organization: Organization) -> bool:
    """Did the organisation's TMI server (as this caller sees it) issue these tokens? After a move they must
    not be sent to the new server, nor the new server's to the old one by a request that began before it."""
    return bool(connection.tmi_base_url) and _server_address(connection.tmi_base_url) == _server_address(
        organization.tmi_base_url
    )


# Who wants to know when a member's TMI access begins (a sign-in stored their tokens) or ends (signed out): the
# portfolio reads or drops their visible set. Registered at start-up by the apps above this one.
_stored_listeners: list[Callable[[Organization, int], None]] = []
_ended_listeners: list[Callable[[Organization, int], None]] = []


def tmi_connection_subscribe(
    *, stored: Callable[[Organization, int], None], ended: Callable[[Organization, int], None]
) -> None:
    """`stored(organization, user_id)` runs after a sign-in kept a member's tokens; `ended(...)` after they
    were signed out or TMI refused to renew their access."""
    if stored not in _stored_listeners:
        _stored_listeners.append(stored)
    if ended not in _ended_listeners:
        _ended_listeners.append(ended)


def tmi_connection_ended_announce(*, organization: Organization, user_id: int) -> None:
    for listener in list(_ended_listeners):
        listener(organization, user_id)


def tmi_connection_store(
    *,
    organization: Organization,
    user,
    tokens: TokenPair,
    provider: str,
    subject: str,
    email: str = "",
    display_name: str = "",
) -> TMIConnection:
    """Keep a freshly issued pair (after sign-in), replacing whatever the member had."""
    connection, _ = TMIConnection.objects.update_or_create(
        organization=organization,
        user=user,
        defaults={
            "tmi_base_url": organization.tmi_base_url.strip().rstrip("/"),
            "provider": provider,
            "subject": subject,
            "email": email,
            "display_name": display_name,
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": _expiry_of(tokens),
            "needs_sign_in": False,
            "refreshed_at": None,
        },
    )
    for listener in list(_stored_listeners):
        listener(organization, user.pk)
    return connection


def tmi_connection_get(*, organization: Organization, user) -> TMIConnection:
    # One per member (a constraint); a plain row read on every socket and call (see row_reads).
    connection = row_get(TMIConnection, organization=organization, user=user)
    if connection is None or connection.needs_sign_in or not _issued_by(connection, organization):
        raise SignInRequired(organization.slug)
    return connection


def tmi_tokens_get(*, organization: Organization, user) -> TokenPair:
    return _pair_of(tmi_connection_get(organization=organization, user=user))


# A lease outlives any refresh call (the client's timeout, a refresh is never retried after one), so a lease
# that has run out was left by a process that died; the next one takes it over.
LEASE_SECONDS = 60.0
LEASE_POLL_SECONDS = 0.02


def tmi_tokens_refresh(
    *, connection_id: int, stale: TokenPair | None = None, patience: float | None = None
) -> TokenPair:
    """Refresh under the connection's lease. `stale` is the pair the caller found wanting; if the stored
    pair has changed since, someone else refreshed and the stored one is returned as it is.

    TMI (or the portal's own auth-flow budget) answering 429 is no refusal of the token: TMI did not process
    the request, so the refresh token is unspent and the member stays signed in. The lease is let go, the
    Retry-After waited, and the refresh tried again (someone else may have done it meanwhile), for up to
    `patience` seconds in all (default TMI_REFRESH_RATE_LIMIT_WAIT_SECONDS; less under a page's deadline);
    then the caller gets RateLimited, a transient failure: "try again", never "sign in again"."""
    return tmi_tokens_refresh_report(connection_id=connection_id, stale=stale, patience=patience)[0]


class RefreshClients:
    """The TMI clients of a run of refreshes (a share of beat's list), one per server, open until the run ends:
    the run talks to TMI over one kept-alive connection instead of building a client and opening a connection
    for every member (about a third of a refresh's CPU, the server's and the portal's, at a TMI nearby)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._clients: dict[tuple[str, int], TMIClient] = {}

    def client_for(self, organization: Organization) -> TMIClient:
        key = (_server_address(organization.tmi_base_url), organization.tmi_max_concurrency)
        if key not in self._clients:
            self._clients[key] = self._stack.enter_context(_refresh_client(organization))
        return self._clients[key]


@contextlib.contextmanager
def tmi_refresh_clients() -> Iterator[RefreshClients]:
    """`with tmi_refresh_clients() as clients:` around many refreshes, each given `clients=clients`."""
    with contextlib.ExitStack() as stack:
        yield RefreshClients(stack)


def _refresh_client(organization: Organization) -> TMIClient:
    options = tmi_client_options(organization)
    # No waiting for a budget place while a lease is held: a spent budget answers at once (429).
    options["budget"] = tmi_budget(organization.tmi_base_url, Purpose.REFRESH, max_wait=0)
    return TMIClient(organization.tmi_base_url, **options)


def tmi_tokens_refresh_report(
    *,
    connection_id: int,
    stale: TokenPair | None = None,
    patience: float | None = None,
    wait: bool = True,
    clients: RefreshClients | None = None,
) -> tuple[TokenPair, bool]:
    """`tmi_tokens_refresh`, also saying whether this call refreshed (False: someone else had). With
    `wait=False` a refresh under way elsewhere is not waited for: its caller is told "someone else" at once.
    `clients`: the run's (tmi_refresh_clients), else a client of its own."""
    allowed = settings.TMI_REFRESH_RATE_LIMIT_WAIT_SECONDS if patience is None else patience
    deadline = tmi_deadline_current()
    if deadline is not None:
        allowed = min(allowed, deadline - time.monotonic())
    waited = 0.0
    while True:
        try:
            return _tokens_refresh_leased(
                connection_id=connection_id,
                stale=stale,
                wait=wait,
                until=time.monotonic() + max(0.0, allowed - waited),
                clients=clients,
            )
        except RateLimited as error:
            pause = max(0.05, error.retry_after if error.retry_after is not None else 1.0)
            if waited + pause > allowed:
                raise
            logger.info("refresh rate-limited; trying again in %.1f s", pause)
            time.sleep(pause)  # without the lease
            waited += pause


def _lease_take(*, connection_id: int, stale: TokenPair | None, wait: bool, until: float):
    """(connection, None) once this caller holds the lease; (None, pair) when someone else refreshed."""
    while True:
        now = dj_timezone.now()
        # Taken by one conditional UPDATE, which only one process can win: the database's write lock (on SQLite
        # the whole file's) is held for that statement only, not across a read, Python and a save.
        free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lte=now)
        taken = (
            TMIConnection.objects.filter(free, pk=connection_id, needs_sign_in=False).update(
                refresh_lease_until=now + timedelta(seconds=LEASE_SECONDS)
            )
            == 1
        )
        connection = TMIConnection.objects.select_related("organization").get(pk=connection_id)
        if connection.needs_sign_in or not _issued_by(connection, connection.organization):
            if taken:
                _lease_let_go(connection_id)
            raise SignInRequired(str(connection.organization_id))
        if stale is not None and connection.access_token != stale.access_token:
            if taken:  # refreshed by the lease's last holder, between this caller's read and its UPDATE
                _lease_let_go(connection_id)
            return None, _pair_of(connection)
        if taken:
            return connection, None
        if not wait:
            return None, _pair_of(connection)
        # Someone else is at TMI with this refresh token: their new pair is what this caller wants too.
        stale = stale or _pair_of(connection)
        if time.monotonic() + LEASE_POLL_SECONDS > until:
            raise RateLimited(
                status_code=429,
                error="refresh_in_progress",
                error_description="another process is refreshing these tokens",
                headers={"Retry-After": "1"},
            )
        time.sleep(LEASE_POLL_SECONDS)


def _lease_let_go(connection_id: int) -> None:
    TMIConnection.objects.filter(pk=connection_id).update(refresh_lease_until=None)


def _tokens_refresh_leased(
    *, connection_id: int, stale: TokenPair | None, wait: bool, until: float, clients: RefreshClients | None
) -> tuple[TokenPair, bool]:
    connection, theirs = _lease_take(connection_id=connection_id, stale=stale, wait=wait, until=until)
    if connection is None:
        return theirs, False
    refused, tokens = False, None
    try:
        with contextlib.ExitStack() as own:
            if clients is not None:
                client = clients.client_for(connection.organization)
            else:
                client = own.enter_context(_refresh_client(connection.organization))
            try:
                tokens = _refresh_at_tmi(client, connection.refresh_token)
            except RefreshFailed:
                refused = True
    finally:
        # One UPDATE: the fields a locked read and save would write, without the read (and its decryption).
        changes: dict = {"refresh_lease_until": None}
        if refused:
            changes["needs_sign_in"] = True
        elif tokens is not None:
            changes.update(
                access_token=tokens.access_token, expires_at=_expiry_of(tokens), refreshed_at=dj_timezone.now()
            )
            if tokens.refresh_token:  # else TMI kept the refresh token as it was
                changes["refresh_token"] = tokens.refresh_token
        TMIConnection.objects.filter(pk=connection_id).update(**changes)
    if refused:
        current = TMIConnection.objects.select_related("organization").get(pk=connection_id)
        _sign_in_required_announce(current)
        tmi_connection_ended_announce(organization=current.organization, user_id=current.user_id)
        raise SignInRequired(str(current.organization_id))
    return tokens, True


def tmi_connection_refused(*, organization: Organization, user_id: int) -> None:
    """TMI refused the member's access token even after a refresh (a 401 after the retry): they must sign in
    again. Said as a refused refresh says it: the connection is marked, and the listeners told (their visible
    set dropped, their schedules paused)."""
    with transaction.atomic():
        connection = (
            TMIConnection.objects.select_for_update().filter(organization=organization, user_id=user_id).first()
        )
        if connection is None or connection.needs_sign_in:
            return
        connection.needs_sign_in = True
        connection.save(update_fields=["needs_sign_in"])
    _sign_in_required_announce(connection)
    tmi_connection_ended_announce(organization=organization, user_id=user_id)


def _refresh_at_tmi(client: TMIClient, refresh_token: str) -> TokenPair:
    """The one call that spends a refresh token (bench/auth.py counts them here)."""
    return client.auth.refresh(refresh_token)


atmi_tokens_refresh = database_sync_to_async(tmi_tokens_refresh)
_aconnection_get = database_sync_to_async(tmi_connection_get)


def _token_auth(connection: TMIConnection, *, refresh) -> TokenAuth:
    return TokenAuth(_pair_of(connection), refresh=refresh)


@contextlib.contextmanager
def tmi_client(*, organization: Organization, user, background: bool = False) -> Iterator[TMIClient]:
    """A TMI client acting as this member; tokens refresh through the vault. `background`: the portfolio
    sync's, within the server's REST budget."""
    connection = tmi_connection_get(organization=organization, user=user)
    auth = _token_auth(connection, refresh=lambda stale: tmi_tokens_refresh(connection_id=connection.pk, stale=stale))
    options = tmi_client_options(organization, background=background)
    with TMIClient(organization.tmi_base_url, auth=auth, **options) as client:
        yield client


@contextlib.asynccontextmanager
async def atmi_client(*, organization: Organization, user) -> AsyncIterator[AsyncTMIClient]:
    """The async twin, for pages that fetch concurrently and for socket consumers."""
    async with atmi_member(organization=organization, user=user) as (client, _):
        yield client


@contextlib.asynccontextmanager
async def atmi_member(
    *, organization: Organization, user, connection: TMIConnection | None = None
) -> AsyncIterator[tuple[AsyncTMIClient, User | None]]:
    """`atmi_client`, and the member's identity at this organisation's TMI as their sign-in recorded it
    (what userinfo said then), which spares the live bridge a userinfo call per socket. `connection`: the row
    `tmi_connection_get` just gave the caller for this member, read together with the caller's own queries."""
    if connection is None:
        connection = await _aconnection_get(organization=organization, user=user)
    connection_id = connection.pk

    async def refresh(stale: TokenPair) -> TokenPair:
        return await atmi_tokens_refresh(connection_id=connection_id, stale=stale)

    # A row stored without the names (none from sign-in does so) leaves the caller to ask userinfo.
    me = (
        User(
            provider=connection.provider,
            provider_id=connection.subject,
            display_name=connection.display_name,
            email=connection.email,
        )
        if connection.display_name or connection.email
        else None
    )
    auth = _token_auth(connection, refresh=refresh)
    # A live diagram holds this for hours: the row (its encrypted tokens, now in `auth`) is not kept with it.
    del connection
    async with AsyncTMIClient(organization.tmi_base_url, auth=auth, **tmi_client_options(organization)) as client:
        yield client, me
