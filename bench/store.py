"""The portfolio store against a large TMI: how costly is filling it, keeping it fresh, and reading it?

    python -m bench store [--generation 1.8|0.217] [--models 1000] [--threats 50000] [--requests 30]
                          [--latency-ms 0] [--profile] [--json PATH]

Starts a TMI sandbox in this process (a thread) and seeds it through its state, not over HTTP: `bulk:<models>`
(each model a diagram and three threats, owners rotating among alice, bob, carol and dave, everyone reading
every model), then more threats up to `--threats` in all. The portal runs on a temporary SQLite database, or
with DATABASE_URL on a scratch database made beside the named one (and dropped afterwards); with REDIS_URL the
TMI budgets are kept in Redis, as in production (Celery's broker stays in this process: the bench is the worker). Organisation `bench` has one member, alice, whose visible set is
all the models (her tokens are minted at the sandbox and stored in the vault; her visible set is marked active).

Every TMI call is counted where TMI would see it: at the sandbox's edge (a middleware outside its own), each
with its time, so "calls in any 60 s" is what TMI would have counted. Prints:

1. a cold full sync, run as the sign-in's task and then beat's would run it (passes until one finishes; a pass
   the REST budget stopped is followed by the next after beat's 15 s, as beat would send it; the
   next continues): TMI calls, seconds, passes, the most REST calls in any 60 s window against
   PORTAL_TMI_REST_CALLS_PER_MINUTE;
2. an incremental sync after 10 threat changes scattered over the portfolio, made by each model's owner over
   the sandbox's REST API (each closes an open threat): calls, seconds, and the change rows it recorded. It
   starts once the REST budget's window has room for it (the cold sync may have filled it; in the running
   portal the next pass comes 30-45 s later and passes of ~1,000 calls never meet the budget): the wait is
   printed apart, so the seconds are the pass's own;
3. the server time of the overview, the model list and threat-model pages (Django's test client, in-process,
   alice signed in; the first request of each page is a warm-up and not counted): p50 and p95 (and the CPU
   time's p50), and the TMI calls the sandbox saw meanwhile (goal 0; overview goal p50 <= 50 ms), and the sync
   requests the page views sent (a member whose visible set is stale has one sent per page);
4. the time from a change in TMI to the overview showing it with the default schedule, computed for the worst
   case from the measured incremental sync (not a live beat and worker, which would take minutes of waiting):
   a pass finishes; beat (every 15 s) sends the next once the last finished pass is older than
   PORTAL_SYNC_SECONDS, so at most PORTAL_SYNC_SECONDS + 15 s later; that pass reads the changed model at the
   latest when it ends. Passes read models in the same order, so a change that lands just after a running pass
   read its model is read that much earlier in the next: the bound holds for it too. Worst case =
   PORTAL_SYNC_SECONDS + beat + one incremental sync. (The overview reads the store: no cache in between.)

Wall times stretch with the machine's load (printed beside them, with the CPU time this process spent, which
stretches much less). The sandbox shares this process (and its GIL) with the portal, so sync seconds and CPU
include TMI's own work; a real TMI answers from another process or machine. `--latency-ms` adds that much to every TMI call at the sandbox (a
fault hook), standing for the network. `--profile` prints where the time goes (cProfile) of the cold sync, the
incremental sync and the overview's requests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.figures import figures_write, json_option
from bench.sandbox_faults import sandbox_latency_add

MEMBER = "alice"
SEEDED_THREATS_PER_MODEL = 3  # the sandbox's bulk seed gives each model three threats
CHANGES = 10
MAX_COLD_PASSES = 40


# -- the portal --------------------------------------------------------------------------------------------------
def _configure_django(workdir: Path) -> Callable[[], None]:
    """Django on a temporary SQLite file, or with DATABASE_URL on a scratch database beside the named one.
    Returns what undoes it."""
    external = bool(os.environ.get("DATABASE_URL"))
    if not external:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["PORTAL_VAR_DIR"] = str(workdir)
    os.environ["PORTAL_SYNC_INLINE"] = "false"  # the production path: syncs are asked of a worker
    os.environ["PORTAL_TMI_ALLOWED_SERVERS"] = "127.0.0.1"
    os.environ.setdefault("DJANGO_DEBUG", "false")  # no per-query bookkeeping, as in production
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    # Sync requests (a page whose member's set is stale) go to a broker of this process alone, where the bench
    # counts them: never to a queue a real worker reads.
    from portal.celery import app as celery_app

    celery_app.conf.broker_url = "memory://"
    celery_app.conf.result_backend = "cache+memory://"
    if not external:
        call_command("migrate", verbosity=0, interactive=False)
        return lambda: None
    name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{name}_bench_{os.getpid()}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return lambda: connection.creation.destroy_test_db(name, verbosity=0)


# -- TMI, seen from its edge -------------------------------------------------------------------------------------
class EdgeLog:
    """Every TMI call the sandbox answered (its control routes aside): when, and which path."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[list] = []  # [monotonic time of arrival, method, path, status answered]

    def mark(self) -> int:
        with self.lock:
            return len(self.calls)

    def since(self, mark: int) -> list[list]:
        with self.lock:
            return self.calls[mark:]


class _EdgeCounter:
    """ASGI middleware outside the sandbox's own: counts what reaches TMI, as TMI would."""

    def __init__(self, app, *, log: EdgeLog) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        call = [time.monotonic(), scope["method"], scope["path"], 0]
        with self.log.lock:  # on arrival: a call whose answer the client has is always counted already
            self.log.calls.append(call)

        async def sending(message):
            if message["type"] == "http.response.start":
                call[3] = message["status"]
            await send(message)

        await self.app(scope, receive, sending)


def _load_average() -> float:
    """The machine's load over the last minute: wall times on a shared machine stretch with it, CPU seconds (this
    process: the portal and the sandbox's thread) much less, so both are printed."""
    return round(os.getloadavg()[0], 1)


def most_in_any_window(times: list[float], window: float = 60.0) -> int:
    """The most of `times` within any `window` seconds (a sliding window, as TMI and the budget count)."""
    ordered, best, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _rest_times(calls: list[list]) -> list[float]:
    from portal.tmi.gates import is_auth_flow

    return [at for at, _method, path, _status in calls if not is_auth_flow(path)]


# -- seeding -----------------------------------------------------------------------------------------------------
def _threats_add(state, total: int) -> None:
    """Threats beyond the bulk seed's three per model, spread evenly, straight into the sandbox's state (as its
    POST stores them), in the generation's own vocabulary."""
    from portal.sandbox import seed
    from portal.sandbox.rest.children import KIND_BY_COLLECTION, new_child

    legacy = state.config.is_legacy
    severities = seed.SEVERITIES_0217 if legacy else seed.SEVERITIES_18
    statuses = seed.THREAT_STATUSES_0217 if legacy else seed.THREAT_STATUSES_18
    rng = random.Random(f"bench-store-{state.config.generation}")
    kind = KIND_BY_COLLECTION["threats"]
    models = list(state.threat_models.values())
    extra = total - SEEDED_THREATS_PER_MODEL * len(models)
    for index, tm in enumerate(models):
        count = extra // len(models) + (1 if index < extra % len(models) else 0)
        for i in range(count):
            name, category, description, mitigation, cwe = seed.THREATS[rng.randrange(len(seed.THREATS))]
            status = statuses[rng.randrange(len(statuses))]
            body = {
                "name": f"{name} (#{i + 1 + SEEDED_THREATS_PER_MODEL})",
                "description": description,
                "mitigation": mitigation,
                "severity": severities[rng.randrange(len(severities))],
                "score": round(rng.uniform(1, 9.8), 1),
                "priority": ("P1", "P2", "P3")[rng.randrange(3)],
                "status": status,
                "mitigated": status in ("mitigated", "Mitigated"),
                "threat_type": category if legacy else [category],
            }
            if not legacy:
                body["cwe_id"] = [cwe]
            new_child(state, tm, kind, body, at=seed.at(index / 100, 60 + i))


def _member(organization, state):
    """Alice: a member with tokens in the vault (minted at the sandbox: not an auth-flow call), active."""
    from django.contrib.auth import get_user_model

    from portal.accounts.vault import tmi_connection_store
    from portal.sandbox import seed
    from portal.tmi import TokenPair

    user = get_user_model().objects.create(username=MEMBER, email=f"{MEMBER}@bench.test")
    organization.memberships.create(user=user, role="member")
    who = seed.ensure_user(state, MEMBER)
    tokens = TokenPair(**state.issue_tokens(who))
    # Stored as a sign-in stores them: the vault tells the portfolio, which marks her set wanted.
    tmi_connection_store(
        organization=organization, user=user, tokens=tokens, provider=state.config.test_idp, subject=who.provider_id
    )
    return user


# -- syncing -----------------------------------------------------------------------------------------------------
def _sum_reports(reports: list) -> dict:
    total: dict = {"passes": len(reports), "stopped": [r.stopped or r.skipped or "finished" for r in reports]}
    for name in ("calls", "models_read_whole", "models_checked", "changes", "gone"):
        total[name] = sum(getattr(r, name) for r in reports)
    total["errors"] = [e for r in reports for e in r.errors][:10]
    return total


def _cold_sync(organization, user, log: EdgeLog, profile: bool) -> dict:
    """Passes as a sign-in's task and then beat's would run them, until one finishes."""
    from django.conf import settings

    from portal.portfolio.sync import portfolio_sync

    mark, started, cpu, reports = log.mark(), time.perf_counter(), time.process_time(), []
    with _profiled("cold full sync", profile):
        while len(reports) < MAX_COLD_PASSES:
            report = portfolio_sync(organization, members={user.pk} if not reports else None)
            reports.append(report)
            print(
                f"  pass {len(reports)}: {report.calls} calls, {report.models_read_whole} models read whole, "
                f"{report.stopped or report.skipped or 'finished'} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            if not report.stopped or report.skipped:
                break
            # Beat looks again after its period and sends the next pass (the last one did not finish).
            time.sleep(float(settings.CELERY_BEAT_SCHEDULE["portfolio-sync-due"]["schedule"]))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    calls = log.since(mark)
    figures = {
        **_sum_reports(reports),
        "finished": not (reports[-1].stopped or reports[-1].skipped),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average": _load_average(),
        "tmi_calls": len(calls),
        "tmi_rest_calls": len(_rest_times(calls)),
        "tmi_429": sum(1 for call in calls if call[3] == 429),
        "most_rest_calls_in_any_60s": most_in_any_window(_rest_times(calls)),
    }
    return figures


@contextlib.contextmanager
def _profiled(label: str, enabled: bool) -> Iterator[None]:
    """With --profile: where the time of the block went (cProfile), the top functions by both measures."""
    if not enabled:
        yield
        return
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
        print(f"--- profile: {label} ---\n{out.getvalue()}", flush=True)


def _changes_make(state, base_url: str, count: int) -> list[tuple[str, str]]:
    """`count` open threats in models spread over the portfolio, each closed by its model's owner over TMI's
    REST API (PATCH). Returns (model id, threat id) of each."""
    from portal.portfolio.vocabulary import threat_is_open
    from portal.sandbox import seed
    from portal.tmi import TMIClient, TokenPair

    owners = [seed.ensure_user(state, hint) for hint in seed.USERS]
    models = list(state.threat_models.values())
    step = max(1, len(models) // count)
    chosen: list[tuple[str, str, object]] = []
    for tm in models[step // 2 :: step]:
        threat = next(
            (t for t in tm["threats"] if threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))), None
        )
        owner = next((u for u in owners if state.role_of(u, tm) == "owner"), None)
        if threat is not None and owner is not None:
            chosen.append((tm["id"], threat["id"], owner))
        if len(chosen) == count:
            break
    closed = "Mitigated" if state.config.is_legacy else "mitigated"
    tokens = {}
    for tm_id, threat_id, owner in chosen:
        if owner.provider_id not in tokens:  # minted at the sandbox: not an auth-flow call
            tokens[owner.provider_id] = TokenPair(**state.issue_tokens(owner))
        with TMIClient(base_url, auth=tokens[owner.provider_id]) as client:
            client.threats.patch(
                tm_id,
                threat_id,
                [
                    {"op": "replace", "path": "/status", "value": closed},
                    {"op": "replace", "path": "/mitigated", "value": True},
                ],
            )
    return [(tm_id, threat_id) for tm_id, threat_id, _owner in chosen]


def _budget_room_wait(base_url: str, needed: int) -> float:
    """Wait until the REST budget's window has `needed` places free; returns how long that took."""
    from portal.organizations.tmi_budget import Purpose, tmi_auth_places, tmi_budget

    budget, places, started = tmi_budget(base_url, Purpose.REST), tmi_auth_places(Purpose.REST), time.monotonic()
    while budget.taken() > places - needed:
        time.sleep(0.5)
    return time.monotonic() - started


def _incremental_sync(organization, log: EdgeLog, changed: list[tuple[str, str]], profile: bool) -> dict:
    from portal.portfolio.models import Change, StoredThreatModel
    from portal.portfolio.sync import portfolio_sync
    from portal.tmi.pagination import MAX_LIMIT

    models = StoredThreatModel.objects.filter(organization=organization, gone_at__isnull=True).count()
    waited = _budget_room_wait(organization.tmi_base_url, models + models // MAX_LIMIT + 1)
    last = Change.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    mark, started, cpu = log.mark(), time.perf_counter(), time.process_time()
    with _profiled("incremental sync", profile):
        report = portfolio_sync(organization)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    calls = log.since(mark)
    rows = Change.objects.filter(organization=organization, pk__gt=last)
    arrived = set(rows.values_list("threat_model__tmi_id", "threat_tmi_id"))
    return {
        **_sum_reports([report]),
        "finished": not (report.stopped or report.skipped),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_average": _load_average(),
        "waited_for_budget_seconds": round(waited, 1),
        "tmi_calls": len(calls),
        "changes_made_in_tmi": len(changed),
        "change_rows": rows.count(),
        "change_kinds": sorted(set(rows.values_list("kind", flat=True))),
        "changes_arrived": sum(1 for pair in changed if pair in arrived),
    }


# -- pages -------------------------------------------------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _pages(organization, user, state, log: EdgeLog, requests: int, profile: bool) -> dict:
    from celery.signals import before_task_publish
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    ids = list(state.threat_models)
    step = max(1, len(ids) // requests)
    model_urls = [reverse("dashboard:threat_model", args=[organization.slug, i]) for i in ids[::step]][:requests]
    pages = {
        "overview": [reverse("dashboard:portfolio", args=[organization.slug])] * requests,
        "list": [
            f"{reverse('dashboard:threat_models', args=[organization.slug])}?page={1 + n % 5}" for n in range(requests)
        ],
        "threat_model": model_urls,
    }
    asked: list[str] = []

    def counted(sender=None, **kwargs):
        asked.append(str(sender))

    before_task_publish.connect(counted, weak=False)
    mark = log.mark()
    figures: dict = {}
    try:
        for name, urls in pages.items():
            _get(client, urls[0])  # warm-up: imports, templates, connections
            times, cpu_times = [], []
            with _profiled(f"{name} page, {len(urls)} requests", profile and name == "overview"):
                for url in urls:
                    started, cpu = time.perf_counter(), time.process_time()
                    _get(client, url)
                    times.append(time.perf_counter() - started)
                    cpu_times.append(time.process_time() - cpu)
            figures[name] = {
                "p50_ms": round(statistics.median(times) * 1000, 1),
                "p95_ms": round(percentile(times, 0.95) * 1000, 1),
                "cpu_p50_ms": round(statistics.median(cpu_times) * 1000, 1),
                "n": len(times),
            }
    finally:
        before_task_publish.disconnect(counted)
    figures["tmi_calls"] = len(log.since(mark))
    figures["sync_requests_sent"] = len(asked)
    figures["load_average"] = _load_average()
    return figures


def _get(client, url: str):
    response = client.get(url)
    body = response.content.decode()
    if response.status_code != 200 or "Reading your threat models from TMI" in body:
        raise SystemExit(f"{url} answered {response.status_code}, not the page:\n{body[:500]}")
    return response


# -- the run -----------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    from django.conf import settings

    from portal.organizations.models import Organization
    from portal.organizations.tmi_budget import tmi_budget_forget
    from portal.portfolio.models import StoredThreat, StoredThreatModel
    from portal.portfolio.selectors import portfolio_overview_get
    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    log = EdgeLog()
    print(
        f"Seeding a TMI {args.generation} sandbox: {args.models} threat models, {args.threats} threats...", flush=True
    )
    started = time.perf_counter()
    sandbox = SandboxServer(SandboxConfig(generation=args.generation, seed=f"bulk:{args.models}"))
    _threats_add(sandbox.state, args.threats)
    sandbox.app.add_middleware(_EdgeCounter, log=log)
    seeded = sum(len(tm["threats"]) for tm in sandbox.state.threat_models.values())
    print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
    with sandbox:
        tmi_budget_forget(sandbox.base_url)
        if args.latency_ms:
            sandbox_latency_add(sandbox.base_url, args.latency_ms, ("/threat_models", "/me", "/oauth2"))
        organization = Organization.objects.create(name="Bench", slug="bench", tmi_base_url=sandbox.base_url)
        user = _member(organization, sandbox.state)
        database = "PostgreSQL" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "SQLite"
        print(
            f"Cold full sync ({database}{', Redis' if settings.REDIS_URL else ''}; REST budget "
            f"{settings.PORTAL_TMI_REST_CALLS_PER_MINUTE} a minute)...",
            flush=True,
        )
        cold = _cold_sync(organization, user, log, args.profile)
        stored_models = StoredThreatModel.objects.filter(organization=organization, gone_at__isnull=True).count()
        stored_threats = StoredThreat.objects.filter(organization=organization, gone_at__isnull=True).count()
        before = portfolio_overview_get(organization=organization, user=user).open_total

        print(f"Closing {CHANGES} open threats in TMI as their owners, then an incremental sync...", flush=True)
        changed = _changes_make(sandbox.state, sandbox.base_url, CHANGES)
        incremental = _incremental_sync(organization, log, changed, args.profile)
        after = portfolio_overview_get(organization=organization, user=user).open_total

        print(f"Pages, {args.requests} requests each...", flush=True)
        pages = _pages(organization, user, sandbox.state, log, args.requests, args.profile)

    beat = float(settings.CELERY_BEAT_SCHEDULE["portfolio-sync-due"]["schedule"])
    worst = settings.PORTAL_SYNC_SECONDS + beat + incremental["seconds"]
    return {
        "generation": args.generation,
        "database": database,
        "redis": bool(settings.REDIS_URL),
        "models": args.models,
        "threats": seeded,
        "rest_budget_per_minute": settings.PORTAL_TMI_REST_CALLS_PER_MINUTE,
        "latency_ms": args.latency_ms,
        "cpus": os.cpu_count(),
        "cold_sync": cold,
        "stored": {"models": stored_models, "threats": stored_threats},
        "incremental_sync": incremental,
        "overview_open_threats": {"before": before, "after": after},
        "pages": pages,
        "change_to_overview": {
            "how": "computed worst case (not a live beat and worker)",
            "seconds": round(worst, 1),
            "sync_seconds": settings.PORTAL_SYNC_SECONDS,
            "beat_seconds": beat,
            "incremental_sync_seconds": incremental["seconds"],
        },
    }


def _print(f: dict) -> None:
    cold, inc, pages, lag = f["cold_sync"], f["incremental_sync"], f["pages"], f["change_to_overview"]
    print()
    print(
        f"TMI {f['generation']}: {f['models']} threat models, {f['threats']} threats; portal on {f['database']}"
        f"{' and Redis' if f['redis'] else ''}; {f['latency_ms']} ms added to each TMI call"
    )
    print("Cold full sync")
    print(
        f"  TMI calls (at the sandbox)                 {cold['tmi_calls']} ({cold['tmi_rest_calls']} REST; the sync"
        f" counted {cold['calls']}; {cold['tmi_429']} answered 429)"
    )
    print(
        f"  seconds                                    {cold['seconds']:.1f} ({cold['cpu_seconds']:.0f} s CPU; load"
        f" {cold['load_average']:.1f}) in {cold['passes']} passes"
        f" ({', '.join(cold['stopped'])}){'' if cold['finished'] else ' - DID NOT FINISH'}"
    )
    print(
        f"  most REST calls in any 60 s                {cold['most_rest_calls_in_any_60s']}"
        f" (budget {f['rest_budget_per_minute']} a minute)"
    )
    print(
        f"  stored                                     {f['stored']['models']} models, {f['stored']['threats']} threats"
    )
    print(f"Incremental sync after {inc['changes_made_in_tmi']} threat changes in TMI")
    print(
        f"  TMI calls                                  {inc['tmi_calls']} ({inc['models_checked']} models checked,"
        f" {inc['models_read_whole']} read whole)"
    )
    print(
        f"  seconds                                    {inc['seconds']:.2f} ({inc['cpu_seconds']:.1f} s CPU; load"
        f" {inc['load_average']:.1f})"
        f"{'' if inc['finished'] else ' - DID NOT FINISH'} (after {inc['waited_for_budget_seconds']:.0f} s waiting for room in the REST budget's window)"
    )
    print(
        f"  change rows                                {inc['change_rows']} ({', '.join(inc['change_kinds'])});"
        f" {inc['changes_arrived']} of {inc['changes_made_in_tmi']} changes arrived"
    )
    print(
        f"  overview's open threats                    {f['overview_open_threats']['before']} before,"
        f" {f['overview_open_threats']['after']} after"
    )
    print(
        f"Page server time (Django test client, in-process; load average {pages['load_average']:.1f}"
        f" on {f['cpus']} CPUs)"
    )
    for name, label in (("overview", "overview"), ("list", "threat-model list"), ("threat_model", "threat-model page")):
        page = pages[name]
        print(
            f"  {label:<42} p50 {page['p50_ms']:7.1f} ms   p95 {page['p95_ms']:7.1f} ms   (n={page['n']};"
            f" CPU p50 {page['cpu_p50_ms']:.1f} ms)"
        )
    print(f"  TMI calls during the page views            {pages['tmi_calls']} (goal 0)")
    print(f"  sync requests the page views sent          {pages['sync_requests_sent']}")
    print(f"Change in TMI -> overview, default schedule ({lag['how']})")
    print(
        f"  worst case                                 {lag['seconds']:.1f} s = {lag['sync_seconds']} s PORTAL_SYNC_SECONDS"
        f" + {lag['beat_seconds']:.0f} s beat + {lag['incremental_sync_seconds']:.2f} s sync (goal <= 60 s)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench store", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--threats", type=int, default=50000, help="in all (at least 3 per model)")
    parser.add_argument("--requests", type=int, default=30, help="requests per page measured")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to each TMI call (default 0)")
    parser.add_argument("--profile", action="store_true", help="print where the time goes (cProfile)")
    json_option(parser)
    args = parser.parse_args(argv)
    if args.models < CHANGES:
        parser.error(f"--models must be at least {CHANGES} (the incremental sync follows {CHANGES} changes)")
    if args.threats < SEEDED_THREATS_PER_MODEL * args.models:
        parser.error(
            f"--threats must be at least {SEEDED_THREATS_PER_MODEL} per model ({SEEDED_THREATS_PER_MODEL * args.models})"
        )
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.latency_ms < 0:
        parser.error("--latency-ms must be 0 or more")
    with tempfile.TemporaryDirectory(prefix="portal-bench-store-") as workdir:
        undo = _configure_django(Path(workdir))
        try:
            figures = run(args)
        finally:
            undo()
    _print(figures)
    figures_write(figures, args.json)
    sys.stdout.flush()
