"""Keeping an organisation's store in step with its TMI server, gently (PROTOCOL.md 12.9, 12.15-12.17).

One pass (`portfolio_sync`), run by a Celery task (beat, a sign-in, "Refresh now", a live session):

1. Readers: the organisation's service account when an owner configured one, and every active member (opened a
   page within PORTAL_ACTIVE_MEMBER_SECONDS) whose TMI access is usable. Each reads with its own token.
2. Visible sets: a reader's set older than PORTAL_VISIBLE_SET_SECONDS (or never read) is read again from TMI's
   own list (GET /threat_models, all pages). The list also brings each model's modified_at and threat_count.
3. Content, models people look at first: a model new to the store, one whose modified_at moved, one someone asked
   to refresh, and one not read whole within PORTAL_FULL_SYNC_SECONDS is read whole (the model, its threats,
   diagrams with cells, documents, assets, notes, repositories). Otherwise only its threats changed since the
   last seen (modified_after: TMI leaves the model's modified_at alone when a threat changes), one call, and the
   whole threat list only when the count TMI lists differs from the stored one (a delete).
4. A model that left a reader's list is asked for once: 404 marks it gone, anything else only leaves that set.

Every call goes through the server's gate (calls at once) and, as a background client, its REST budget (calls a
minute); a spent budget ends the pass, the next continues. Content fetched with one reader's token serves every
member whose visible set includes the model: TMI decides who sees what, the store only keeps one copy.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.service_account import tmi_service_account_configured, tmi_service_client
from portal.accounts.vault import SignInRequired, tmi_client, tmi_connection_refused
from portal.organizations.models import Organization
from portal.portfolio import store
from portal.portfolio.models import SYNC_LEASE_SECONDS, StoredThreatModel, SyncState, VisibleModel, VisibleSet
from portal.tmi import Failure, RateLimited, ServiceUnavailable, TMIClient, TMIError, TMListItem, failure_of

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 10  # models between progress writes
MODIFIED_AFTER_OVERLAP = timedelta(seconds=1)  # TMI's timestamps and ours may round differently
# TMI's clock and ours may differ: a model TMI dates this much before the reader's last read counts as created since.
CREATED_SINCE_SLACK = timedelta(minutes=5)
# What TMI sent but the store cannot hold (an id longer than any TMI id, a value the database refuses): that model
# (or that reader's list) is skipped with an error, as a malformed answer is, and the pass goes on.
STORE_ERRORS = (DatabaseError, ValueError)
MAX_FAILURES_IN_A_ROW = 3  # TMI failing this many models running: the pass stops, the next tries again


@dataclass
class SyncReport:
    calls: int = 0
    readers: int = 0
    sets_read: int = 0
    models_listed: int = 0
    models_read_whole: int = 0
    models_checked: int = 0
    changes: int = 0
    gone: int = 0
    stopped: str = ""  # why the pass ended early ("budget", "busy", "failing", "error"), or ""
    skipped: str = ""  # why nothing ran ("running", "no readers")
    errors: list[str] = field(default_factory=list)


@dataclass
class Reader:
    """Someone TMI will answer for: a member (user_id) or the service account (user_id None)."""

    visible_set: VisibleSet
    open: Callable[[], contextlib.AbstractContextManager[TMIClient]]

    @property
    def label(self) -> str:
        return f"member {self.visible_set.user_id}" if self.visible_set.user_id else "service account"


# -- who reads ---------------------------------------------------------------------------------------------------
def visible_set_for(organization: Organization, user_id: int | None) -> VisibleSet:
    found = VisibleSet.objects.filter(organization=organization, user_id=user_id).first()
    if found is not None:
        return found
    with contextlib.suppress(Exception), transaction.atomic():
        return VisibleSet.objects.create(organization=organization, user_id=user_id)
    return VisibleSet.objects.get(organization=organization, user_id=user_id)


def _member_usable(organization: Organization, user_id: int) -> bool:
    connection = TMIConnection.objects.filter(organization=organization, user_id=user_id).first()
    address = organization.tmi_base_url.strip().rstrip("/").lower()
    return bool(connection and not connection.needs_sign_in and connection.tmi_base_url.lower() == address)


def _readers(organization: Organization, *, members: set[int]) -> list[Reader]:
    readers: list[Reader] = []
    if tmi_service_account_configured(organization):
        readers.append(
            Reader(visible_set_for(organization, None), lambda: tmi_service_client(organization, background=True))
        )
    else:  # credentials cleared: nothing reads as the service account any more, so its set vouches for nothing
        VisibleSet.objects.filter(organization=organization, user__isnull=True).delete()
    for user_id in members:  # asked for by name (a sign-in, a page): their set exists from now on
        visible_set_for(organization, user_id)
    # Someone no longer a member (active lately or not, asked for or not) has nothing to see: their set goes.
    VisibleSet.objects.filter(organization=organization, user__isnull=False).exclude(
        user__in=organization.memberships.values("user")
    ).delete()
    since = timezone.now() - timedelta(seconds=settings.PORTAL_ACTIVE_MEMBER_SECONDS)
    active = VisibleSet.objects.filter(organization=organization, user__isnull=False).filter(
        Q(wanted_at__gte=since) | Q(user_id__in=members)
    )
    for visible_set in active.select_related("user").order_by(F("read_at").asc(nulls_first=True)):
        if not _member_usable(organization, visible_set.user_id):
            continue
        user = visible_set.user
        readers.append(
            Reader(visible_set, lambda u=user: tmi_client(organization=organization, user=u, background=True))
        )
    return readers


# -- the pass ----------------------------------------------------------------------------------------------------
def _lease(organization: Organization) -> SyncState | None:
    state, _ = SyncState.objects.get_or_create(organization=organization)
    now = timezone.now()
    stale = now - timedelta(seconds=SYNC_LEASE_SECONDS)
    taken = (
        SyncState.objects.filter(pk=state.pk)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=stale))
        .update(running_since=now, models_done=0)
    )
    if not taken:
        return None
    state.refresh_from_db()
    if state.tmi_base_url and state.tmi_base_url != organization.tmi_base_url:
        # The organisation moved to another TMI server: ids there mean other things. Start afresh.
        StoredThreatModel.objects.filter(organization=organization).delete()
        VisibleSet.objects.filter(organization=organization).update(read_at=None)
        state.last_sync_at = state.last_full_sync_at = None
    state.tmi_base_url = organization.tmi_base_url
    state.save(update_fields=["tmi_base_url", "last_sync_at", "last_full_sync_at"])
    return state


def _count_calls(client: TMIClient, report: SyncReport) -> None:
    """Calls that reached TMI: counted on their answer, so a request the portal's own budget refused (answered
    429 by the transport, never sent: X-Portal-Budget) is not one."""

    def hook(response):
        if "x-portal-budget" not in response.headers:
            report.calls += 1

    hooks = client.http.event_hooks
    client.http.event_hooks = {**hooks, "response": [*hooks["response"], hook]}


class _Clients:
    """One open client per reader for the pass; a reader whose access fails is dropped."""

    def __init__(self, stack: contextlib.ExitStack, report: SyncReport) -> None:
        self.stack, self.report, self.open = stack, report, {}
        self.failed: dict[int, Exception] = {}  # not asked again this pass (a refused client secret: one grant)

    def of(self, reader: Reader) -> TMIClient:
        key = reader.visible_set.pk
        if key in self.failed:
            raise self.failed[key]
        if key not in self.open:
            try:
                client = self.stack.enter_context(reader.open())
            except (SignInRequired, TMIError) as error:
                self.failed[key] = error
                raise
            _count_calls(client, self.report)
            self.open[key] = client
        return self.open[key]


def portfolio_sync(
    organization: Organization,
    *,
    full: bool | None = None,
    members: set[int] | None = None,
    models: set[str] | None = None,
) -> SyncReport:
    """One pass over the organisation (see the module). `members`: read these members' visible sets now, active
    or not (a sign-in). `models`: read these whole now, whatever else is due (Refresh now, a live session).
    `full`: read everything whole. None: a full pass when the last one is older than PORTAL_FULL_SYNC_SECONDS,
    in which each reader's set is read again and each model not read whole within that time is read whole: a pass
    the budget stopped half way is continued by the next, not started again (a portfolio whose whole read costs
    more than a minute's budget would otherwise never finish its first full pass)."""
    report = SyncReport()
    state = _lease(organization)
    if state is None:
        if models:
            StoredThreatModel.objects.filter(organization=organization, tmi_id__in=models).update(
                sync_requested_at=timezone.now()
            )
        SyncState.objects.filter(organization=organization).update(requested_at=timezone.now())
        report.skipped = "running"
        return report
    started = state.running_since  # an ask that found the lease taken is stamped after this, however slow we are
    due_before = started - timedelta(seconds=settings.PORTAL_FULL_SYNC_SECONDS)
    whole_before = started if full else due_before  # content read before this is read whole again
    if full is None:
        full = state.last_full_sync_at is None or state.last_full_sync_at < due_before
    try:
        _pass(
            organization,
            state,
            report,
            full=full,
            whole_before=whole_before,
            members=members or set(),
            models=models or set(),
        )
    except Exception as error:  # a bug, not TMI: the pass ends unfinished, and says why
        report.stopped = "error"
        report.errors.append(f"{type(error).__name__}: {error}"[:200])
        raise
    finally:
        finished = timezone.now()
        fields = {
            "running_since": None,
            "last_calls": report.calls,
            "last_error": "; ".join(report.errors)[:500],
            "models_done": state.models_done,
            "models_total": state.models_total,
        }
        if not report.stopped and not report.skipped:
            fields["last_sync_at"] = finished
            if full:
                fields["last_full_sync_at"] = finished
        if SyncState.objects.filter(pk=state.pk, requested_at__gt=started).exists():
            # Asked for while this pass ran (and skipped for it): still asked once it ends, so the next due check
            # (portfolio_syncs_due) sends it rather than waiting PORTAL_SYNC_SECONDS.
            fields["requested_at"] = finished
        SyncState.objects.filter(pk=state.pk).update(**fields)
    logger.info("portfolio sync of %s: %s", organization.slug, report)
    return report


def _pass(
    organization: Organization,
    state: SyncState,
    report: SyncReport,
    *,
    full: bool,
    whole_before: datetime,
    members: set[int],
    models: set[str],
) -> None:
    readers = _readers(organization, members=members)
    report.readers = len(readers)
    if not readers:
        report.skipped = "no readers"
        return
    record_created = state.last_sync_at is not None
    with contextlib.ExitStack() as stack:
        clients = _Clients(stack, report)
        listed: dict[str, TMListItem] = {}
        reader_of: dict[str, Reader] = {}
        left: dict[str, Reader] = {}  # models that left a reader's list: asked for once below
        failed: set[int] = set()  # readers TMI did not answer this pass: their sets vouch for nothing in it
        threshold = timezone.now() - timedelta(seconds=settings.PORTAL_VISIBLE_SET_SECONDS)
        for index, reader in enumerate(readers):
            due = (
                full
                or index == 0  # at least one list a pass: modified_at and threat_count come with it
                or reader.visible_set.read_at is None
                or reader.visible_set.read_at < threshold
                or reader.visible_set.user_id in members
            )
            if not due:
                continue
            try:
                items = list(clients.of(reader).threat_models.iter())
            except SignInRequired:
                failed.add(reader.visible_set.pk)
                continue
            except TMIError as error:
                if _stop_for(error, report):
                    return
                report.errors.append(f"{reader.label}: {type(error).__name__}")
                if failure_of(error) is Failure.SIGN_IN and reader.visible_set.user_id is not None:
                    # A 401 after the client's refresh and retry: TMI takes this member's access no more.
                    tmi_connection_refused(organization=organization, user_id=reader.visible_set.user_id)
                    failed.add(reader.visible_set.pk)
                    continue
                if failure_of(error) is Failure.TRANSIENT:  # TMI is not answering: the next pass tries again
                    report.stopped = "failing"
                    return
                failed.add(reader.visible_set.pk)  # TMI refuses this reader (a client secret it no longer knows)
                continue
            try:
                gone_from_set = _visible_set_replace(organization, reader.visible_set, items, record_created, report)
            except STORE_ERRORS as error:
                logger.exception("portfolio sync of %s: %s's list not stored", organization.slug, reader.label)
                report.errors.append(f"{reader.label}: {type(error).__name__}")
                continue
            report.sets_read += 1
            for item in items:
                listed.setdefault(item.id, item)
                reader_of.setdefault(item.id, reader)
            left.update({tm_id: reader for tm_id in gone_from_set})
        report.models_listed = len(listed)
        if len(failed) == len(readers):  # TMI answered nobody: nothing to read with, and nothing was
            report.stopped = "failing"
            return
        # Readers whose sets were fresh still vouch for the models in them (their models are read with their access;
        # a reader TMI refused just now would only fail each of them).
        readers = [reader for reader in readers if reader.visible_set.pk not in failed]
        for reader in readers:
            for tm_id in VisibleModel.objects.filter(visible_set=reader.visible_set).values_list(
                "threat_model__tmi_id", flat=True
            ):
                reader_of.setdefault(tm_id, reader)
        # Models that left a list and nobody else lists, and those a probe could not settle before (TMI failing).
        unsettled = StoredThreatModel.objects.filter(
            organization=organization, gone_at__isnull=True, sync_requested_at__isnull=False, visible_in__isnull=True
        ).values_list("tmi_id", flat=True)
        probes = {**{tm_id: readers[0] for tm_id in (unsettled if readers else ())}, **left}
        for tm_id, reader in probes.items():
            if tm_id in reader_of:
                continue
            try:
                client = clients.of(reader)
            except (SignInRequired, TMIError):
                _probe_again(organization, tm_id, True)
                continue
            if _probe_gone(organization, client, tm_id, report):
                report.gone += 1
        _content(organization, state, report, clients, listed, reader_of, whole_before=whole_before, models=models)


def _visible_set_replace(
    organization: Organization,
    visible_set: VisibleSet,
    items: list[TMListItem],
    record_created: bool,
    report: SyncReport,
) -> set[str]:
    """The reader's set becomes exactly what TMI listed; returns the ids that left it. A model new to the store
    is recorded as created only when TMI created it since the reader's set was last read: the first read of a
    member's set, or access granted to an older model, shows models that existed already."""
    since = visible_set.read_at

    def created(item: TMListItem) -> bool:
        return (
            record_created
            and since is not None
            and (item.created_at is None or item.created_at >= since - CREATED_SINCE_SLACK)
        )

    with transaction.atomic():
        rows, changes = store.threat_models_list_store(organization, items, record_created=created)
        report.changes += len(changes)
        current = dict(VisibleModel.objects.filter(visible_set=visible_set).values_list("threat_model__tmi_id", "id"))
        left = set(current) - set(rows)
        VisibleModel.objects.filter(pk__in=[current[tm_id] for tm_id in left]).delete()
        VisibleModel.objects.bulk_create(
            [
                VisibleModel(organization=organization, visible_set=visible_set, threat_model=tm)
                for tm_id, tm in rows.items()
                if tm_id not in current
            ],
            batch_size=500,
        )
        VisibleSet.objects.filter(pk=visible_set.pk).update(read_at=timezone.now())
    return left


def visible_set_forget(visible_set: VisibleSet, tm_id: str) -> None:
    VisibleModel.objects.filter(visible_set=visible_set, threat_model__tmi_id=tm_id).delete()


def _probe_again(organization: Organization, tm_id: str, again: bool) -> None:
    StoredThreatModel.objects.filter(organization=organization, tmi_id=tm_id).update(
        sync_requested_at=timezone.now() if again else None
    )


def _probe_gone(organization: Organization, client: TMIClient, tm_id: str, report: SyncReport) -> bool:
    """A model nobody lists any more: TMI's 404 says it is gone; an answer or a refusal says only that access
    changed. Any other failure (TMI down, the budget spent) settles nothing: the model is marked to be asked
    about again by the next pass (it is in nobody's list, so nothing else would ask)."""
    tm = StoredThreatModel.objects.filter(organization=organization, tmi_id=tm_id, gone_at__isnull=True).first()
    if tm is None:
        return False
    unsettled = False
    try:
        client.threat_models.get(tm_id)
    except SignInRequired:
        unsettled = True
    except TMIError as error:
        if failure_of(error) is Failure.NOT_FOUND:
            report.changes += 1
            store.threat_model_gone(tm)
            return True
        unsettled = failure_of(error) is not Failure.FORBIDDEN
        if unsettled:
            report.errors.append(f"{tm_id}: {type(error).__name__}")
    _probe_again(organization, tm_id, unsettled)
    return False


def _stop_for(error: BaseException, report: SyncReport) -> bool:
    """A spent budget or a busy TMI ends the pass: the next one continues where this stopped. A 503 that says
    when to come back (Retry-After) is TMI asking for a pause too, not a failure of one model."""
    if isinstance(error, RateLimited) and error.headers.get("x-portal-budget"):
        report.stopped = "budget"  # the portal's own budget: no trouble at TMI
        return True
    if isinstance(error, RateLimited) or (isinstance(error, ServiceUnavailable) and error.retry_after is not None):
        report.stopped = "busy"
        report.errors.append(f"TMI asked to wait ({error.status_code})")
        return True
    return False


def _order(organization: Organization, ids: set[str], models: set[str]) -> Iterator[StoredThreatModel]:
    """Asked-for models first, then those people looked at (latest first), then the rest."""
    rows = StoredThreatModel.objects.filter(organization=organization, tmi_id__in=ids, gone_at__isnull=True)
    asked = [r for r in rows if r.tmi_id in models or r.sync_requested_at is not None]
    rest = [r for r in rows if not (r.tmi_id in models or r.sync_requested_at is not None)]
    rest.sort(key=lambda r: (r.viewed_at is None, -(r.viewed_at.timestamp() if r.viewed_at else 0)))
    yield from asked
    yield from rest


def _content(
    organization: Organization,
    state: SyncState,
    report: SyncReport,
    clients: _Clients,
    listed: dict[str, TMListItem],
    reader_of: dict[str, Reader],
    *,
    whole_before: datetime,
    models: set[str],
) -> None:
    ids = set(reader_of)
    state.models_total, state.models_done = len(ids), 0
    SyncState.objects.filter(pk=state.pk).update(models_total=len(ids), models_done=0)
    failures = 0
    for tm in _order(organization, ids, models):
        reader = reader_of[tm.tmi_id]
        item = listed.get(tm.tmi_id)
        whole = (
            tm.tmi_id in models
            or tm.sync_requested_at is not None
            or tm.content_synced_at is None
            or tm.content_synced_at < whole_before
            or tm.threats_synced_at is None
            or (item is not None and item.modified_at != tm.content_modified_at)
        )
        try:
            client = clients.of(reader)
            if whole:
                _read_whole(organization, client, tm, report)
                report.models_read_whole += 1
            else:
                _read_changed_threats(client, tm, item, report)
                report.models_checked += 1
            failures = 0
        except SignInRequired:
            continue
        except TMIError as error:
            if _stop_for(error, report):
                return
            if failure_of(error) in (Failure.FORBIDDEN, Failure.NOT_FOUND):
                visible_set_forget(reader.visible_set, tm.tmi_id)  # TMI refuses it to this reader now
                continue
            failures += 1
            report.errors.append(f"{tm.tmi_id}: {type(error).__name__}")
            if failures >= MAX_FAILURES_IN_A_ROW:
                report.stopped = "failing"
                return
        except STORE_ERRORS as error:  # nothing of it was written (atomic): the next pass tries again
            logger.exception("portfolio sync of %s: threat model %s not stored", organization.slug, tm.tmi_id)
            report.errors.append(f"{tm.tmi_id}: {type(error).__name__}")
        state.models_done += 1
        if state.models_done % PROGRESS_EVERY == 0:
            SyncState.objects.filter(pk=state.pk).update(models_done=state.models_done)


def _children(client: TMIClient, tm_id: str) -> dict[str, list]:
    documents = list(client.documents.iter(tm_id))
    assets = list(client.assets.iter(tm_id))
    repositories = list(client.repositories.iter(tm_id))
    notes = [client.notes.get(tm_id, note.id) for note in client.notes.iter(tm_id)]  # the list leaves out content
    return {"documents": documents, "assets": assets, "notes": notes, "repositories": repositories}


def _read_whole(organization: Organization, client: TMIClient, tm: StoredThreatModel, report: SyncReport) -> None:
    model = client.threat_models.get(tm.tmi_id)
    threats = list(client.threats.iter(tm.tmi_id))  # never the embedded copies (PROTOCOL.md 12.17)
    diagrams = [client.diagrams.get(tm.tmi_id, d.id) for d in client.diagrams.iter(tm.tmi_id)]  # with cells
    children = _children(client, tm.tmi_id)
    with transaction.atomic():
        tm, changes = store.threat_model_list_store(organization, model, record_created=False)
        report.changes += len(changes)
        store.threat_model_detail_store(tm, model, children)
        store.diagrams_store(tm, diagrams)
        report.changes += len(store.threats_store(tm, threats, complete=True))


def _read_changed_threats(
    client: TMIClient, tm: StoredThreatModel, item: TMListItem | None, report: SyncReport
) -> None:
    since: datetime | None = tm.threats_cursor
    filters = {"modified_after": (since - MODIFIED_AFTER_OVERLAP).isoformat()} if since else {}
    changed = list(client.threats.iter(tm.tmi_id, **filters))
    report.changes += len(store.threats_store(tm, changed, complete=not filters))
    if filters and item is not None and item.threat_count is not None:
        live = tm.threats_total  # kept by threats_store (threat_model_counts_update) as it stores
        if live != item.threat_count:  # one was deleted (or created and deleted): read them all
            report.changes += len(store.threats_store(tm, list(client.threats.iter(tm.tmi_id)), complete=True))


# -- one reader, at once: an export made with their access (portal/exports/running.py) ---------------------------
def portfolio_reader_refresh(
    organization: Organization,
    *,
    user_id: int | None,
    models: set[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """What an export reports, read again now with the access it is made with (a member, or the service account
    for `user_id` None), beside any pass (no lease: a report does not wait for one): the reader's visible set from
    TMI's list, then `models` read whole if TMI still lists them for the reader, or (None) every listed model as a
    pass reads it (whole when new or changed, else its changed threats). TMI errors propagate, so the caller knows
    the store may be stale; a model TMI refuses to the reader (403, 404) leaves their set. SignInRequired and
    ClientCredentialsMissing propagate too."""
    report = SyncReport(readers=1)
    visible_set = visible_set_for(organization, user_id)
    reader = Reader(
        visible_set,
        (lambda: tmi_service_client(organization, background=True))
        if user_id is None
        else (lambda: tmi_client(organization=organization, user=user_id, background=True)),
    )
    state = SyncState.objects.filter(organization=organization).first()
    with contextlib.ExitStack() as stack:
        client = _Clients(stack, report).of(reader)
        items = list(client.threat_models.iter())
        report.sets_read, report.models_listed = 1, len(items)
        left = _visible_set_replace(organization, visible_set, items, bool(state and state.last_sync_at), report)
        for tm_id in left:
            if not VisibleModel.objects.filter(organization=organization, threat_model__tmi_id=tm_id).exists():
                if _probe_gone(organization, client, tm_id, report):
                    report.gone += 1
        listed = {item.id: item for item in items if models is None or item.id in models}
        stored = StoredThreatModel.objects.filter(organization=organization, tmi_id__in=listed, gone_at__isnull=True)
        rows = list(stored.order_by("name", "tmi_id"))
        for done, tm in enumerate(rows):
            if progress:
                progress(done, len(rows))
            item = listed[tm.tmi_id]
            whole = (
                models is not None
                or tm.sync_requested_at is not None
                or tm.content_synced_at is None
                or tm.threats_synced_at is None
                or item.modified_at != tm.content_modified_at
            )
            try:
                if whole:
                    _read_whole(organization, client, tm, report)
                    report.models_read_whole += 1
                else:
                    _read_changed_threats(client, tm, item, report)
                    report.models_checked += 1
            except TMIError as error:
                if failure_of(error) not in (Failure.FORBIDDEN, Failure.NOT_FOUND):
                    raise
                visible_set_forget(visible_set, tm.tmi_id)  # TMI refuses it to this reader now
    return report
