"""The periodic part of keeping tokens fresh, now small: a token is refreshed when something needs it (a page,
a socket, a sync, an export run: the vault's auth hook refreshes on expiry or a 401, under its row lock), never
every token on a timer. Beat still refreshes two kinds, because nobody would otherwise ask in time:

- continuous work: a member whose live socket is open keeps a fresh access token (the upstream session may
  reconnect at any moment), within TMI_REFRESH_WINDOW_SECONDS of its expiry;
- work later: a member whose export schedules run as them must keep a refresh token that has not lapsed (TMI's
  refresh tokens live TMI_REFRESH_TOKEN_DAYS after they were issued; a refresh issues a new one). Their access
  token is left to expire: the run itself refreshes it, once, when it starts.

Beat's task hands the list out in shares, one task each, so every worker takes part; a refresh under way
elsewhere (a page's, another worker's) is left to finish, never done twice. Every refresh goes through the vault's
one leased path, within the TMI server's auth-flow budget (refreshes stop
short of the places kept for sign-ins: organizations/tmi_budget.py). A budget spent or TMI's 429 ends this run;
the next beat goes on from there."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.vault import SignInRequired, _pair_of, tmi_refresh_clients, tmi_tokens_refresh_report
from portal.audit.services import audit_record
from portal.organizations.tmi_gates import _server_key
from portal.tmi import RateLimited
from portal.tmi.errors import TMIError

logger = logging.getLogger(__name__)

# A refresh token is renewed this long before it would lapse (a daily schedule still finds it alive).
LAPSE_MARGIN = timedelta(days=1)

# What keeps a member's tokens worth refreshing without them: each app whose work goes on without the member
# registers a condition at start-up, so this module needs to know none of them. A condition is a callable giving
# a Django expression over the connection's `organization` and `user` (OuterRef), e.g.
# Exists(LiveConnection.objects.filter(...)). `continuous`: the work needs a usable access token at any moment
# (an open live socket); otherwise it only needs the refresh token kept alive until it runs (a schedule).
_background_work: list[Callable[[], Any]] = []
_later_work: list[Callable[[], Any]] = []


def tmi_background_work_register(condition: Callable[[], Any], *, continuous: bool = True) -> None:
    kept = _background_work if continuous else _later_work
    if condition not in kept:
        kept.append(condition)


def _any_of(conditions: list[Callable[[], Any]]) -> Q | None:
    if not conditions:
        return None
    wanted = Q()
    for condition in conditions:
        wanted |= Q(condition())
    return wanted


def tmi_connections_due_list(*, window_seconds: int | None = None, now=None):
    """Connections beat must refresh: an access token expiring within the window whose owner has continuous
    work, or a refresh token lapsing within LAPSE_MARGIN whose owner has any work that goes on without them."""
    now = now or timezone.now()
    window = settings.TMI_REFRESH_WINDOW_SECONDS if window_seconds is None else window_seconds
    continuous = _any_of(_background_work)
    any_work = _any_of(_background_work + _later_work)
    if any_work is None:
        return TMIConnection.objects.none()
    lapsing_if_issued_before = now - timedelta(days=settings.TMI_REFRESH_TOKEN_DAYS) + LAPSE_MARGIN
    lapsing = Q(issued__lte=lapsing_if_issued_before) & any_work
    due = lapsing if continuous is None else (Q(expires_at__lte=now + timedelta(seconds=window)) & continuous) | lapsing
    return (
        TMIConnection.objects.select_related("organization", "user")
        .annotate(issued=Coalesce("refreshed_at", "created_at"))
        .filter(needs_sign_in=False)
        .filter(due)
        .order_by("expires_at", "pk")
    )


@dataclass
class RefreshReport:
    refreshed: list[int] = field(default_factory=list)
    already_fresh: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)
    postponed: list[int] = field(default_factory=list)  # the auth-flow budget or TMI's 429: the next beat


def tmi_tokens_refresh_due(
    *, window_seconds: int | None = None, connection_ids: list[int] | None = None
) -> RefreshReport:
    """Refresh what is due (of `connection_ids` only, when given: a share of beat's list handed to one worker)."""
    report = RefreshReport()
    window = settings.TMI_REFRESH_WINDOW_SECONDS if window_seconds is None else window_seconds
    due = tmi_connections_due_list(window_seconds=window)
    if connection_ids is not None:
        due = due.filter(pk__in=connection_ids)
    due = list(due)
    with tmi_refresh_clients() as clients:  # one connection to each TMI server for the whole share
        for position, connection in enumerate(due):
            seen = _pair_of(connection)
            try:
                # No waiting, neither for the budget nor for a refresh under way elsewhere (a page's, another
                # worker's): that one's result is this one's too.
                _, refreshed_here = tmi_tokens_refresh_report(
                    connection_id=connection.pk, stale=seen, patience=0, wait=False, clients=clients
                )
            except SignInRequired:
                report.refused.append(connection.pk)
                tmi_refresh_refused_record(connection=connection)
                continue
            except RateLimited:  # the budget is spent (or TMI said so): nobody is signed out; the next beat goes on
                logger.info("auth-flow budget spent: %s refreshes postponed to the next beat", len(due) - position)
                report.postponed.extend(c.pk for c in due[position:])
                break
            except TMIError as error:  # TMI down: the next beat tries again; the token is not spent
                logger.warning("could not refresh connection %s: %s", connection.pk, error)
                report.unreachable.append(connection.pk)
                continue
            (report.refreshed if refreshed_here else report.already_fresh).append(connection.pk)
    return report


def tmi_tokens_refresh_shares(*, window_seconds: int | None = None) -> list[list[int]]:
    """Beat's list cut into shares, one task each. Each TMI server's connections go into as many shares as it
    takes calls at once (its gate's places: the organisation's tmi_max_concurrency), so every worker that takes
    one keeps a place busy to the end: smaller shares only add a task's dispatch each (on the embedded broker,
    a wait of up to its polling interval), and more shares than places would queue at the gate. A share larger
    than TMI_REFRESH_SHARE_MAX is cut again, so a long list still spreads over workers as they free up. Dealt
    in turn in expiry order, so each share starts with its soonest expiring."""
    due = tmi_connections_due_list(window_seconds=window_seconds).values_list(
        "pk", "organization__tmi_base_url", "organization__tmi_max_concurrency"
    )
    places_of: dict[str, int] = {}
    ids_of: dict[str, list[int]] = {}
    for pk, base_url, places in due:
        server = _server_key(base_url)  # organisations on one server share its places (tmi_gates.py)
        places_of[server] = min(places, places_of.get(server, places))
        ids_of.setdefault(server, []).append(pk)
    largest = max(1, settings.TMI_REFRESH_SHARE_MAX)
    shares = []
    for server, ids in ids_of.items():
        count = min(len(ids), max(places_of[server], math.ceil(len(ids) / largest)))
        shares += [ids[first::count] for first in range(count)]
    return shares


def tmi_refresh_refused_record(*, connection: TMIConnection) -> None:
    """The audit row. Telling the member, and pausing what runs in their name, is done by whoever registered
    with the vault (vault.tmi_sign_in_required_subscribe): the vault tells them at the refusal itself."""
    audit_record(
        organization=connection.organization,
        action="tokens.refresh_refused",
        actor=None,
        target=str(connection.user),
        details={"user_id": connection.user_id},
    )
