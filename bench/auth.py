"""Does the portal stay within TMI's auth-flow limit while many members work and many sign in at once?

    python -m bench auth [--generation 1.8|0.217] [--members 200] [--minutes 4] [--sign-ins 150] [--json PATH]

Starts a sandbox that enforces the real server's auth-flow limit with loopback counted (1.8.22: 100 calls to
/oauth2/{authorize,token,refresh,...} in any 60 s per client address; 0.217.8: 100 a minute), and a portal with
a temporary SQLite database whose `--members` members hold tokens in the vault. The token lifetime is shortened
to the run's length (`--minutes`), so the run is one token lifetime: "an hour" of 1-hour tokens. Worker threads
act as the members (a TMI call each, through the vault, which refreshes a token on demand near its expiry), each
member about every 20 s; in the first minute `--sign-ins` people sign in through the portal's real sign-in pages
(the browsers' own calls to TMI come from addresses of their own, X-Forwarded-For; the code exchange is the
portal's). A sign-in that meets the busy page waits its Retry-After and continues, as the page does.

Prints: TMI's 429 answers to the portal's auth-flow calls (0 means the portal never went over TMI's limit), the
most auth-flow calls the portal made in any 60 s, sign-ins completed (and how many saw the busy page, and the
longest one took), members signed out, refreshes per member in the token lifetime, refresh tokens TMI refused
(used twice or lapsed), and member actions postponed because the budget was spent (the page said "try again").

Why not 2,000 members over a simulated hour in minutes: the budget window is 60 real seconds, so compressing the
hour multiplies the refresh rate. 2,000 members refreshing once an hour is 33 refreshes a minute, within the
budget's 80; the same 2,000 in 4 minutes is 500 a minute, which no budget of 100 can carry. The default keeps the
real ratio (members per token lifetime per budget): 200 members with 4-minute tokens refresh about 67 times a
minute, below the 80 a minute refreshes may take.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from bench.figures import figures_write, json_option
from bench.members import bench_member_add

ACTIVE_EVERY_SECONDS = 20.0
REFRESH_MARGIN_SECONDS = 60.0  # the TMI client refreshes a token this close to its expiry (TokenAuth's skew)
BUSY_MAX_WAITS = 20


def _configure_django(workdir: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["PORTAL_VAR_DIR"] = str(workdir)
    os.environ.pop("REDIS_URL", None)  # the file budget of one machine (REDIS_URL: the same logic in Redis)
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ["PORTAL_TMI_ALLOWED_SERVERS"] = "127.0.0.1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    # Many simulated browsers come from a handful of addresses: the portal's own sign-in start limits stay out.
    os.environ["PORTAL_SIGNIN_STARTS_PER_MINUTE_PER_ADDRESS"] = "100000"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    with connection.cursor() as cursor:  # many threads write: let SQLite wait for its lock rather than fail
        cursor.execute("PRAGMA journal_mode=WAL")


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sends: list[float] = []  # each auth-flow call the portal let out
        self.tmi_429 = 0
        self.refreshes: dict[int, list[float]] = {}  # connection -> when it was refreshed
        self.owner: dict[str, int] = {}  # refresh token -> connection
        self.refused_refresh = 0
        self.newcomer_refreshes = 0
        self.actions = Counter()
        self.sign_ins: list[tuple[bool, bool, float]] = []  # (completed, saw busy, seconds)

    def most_in_any_minute(self) -> int:
        times, best, start = sorted(self.sends), 0, 0
        for end, at in enumerate(times):
            while times[start] <= at - 60:
                start += 1
            best = max(best, end - start + 1)
        return best


def _instrument(tally: Tally) -> None:
    """Count what the portal sends and hears, without changing it."""
    from portal.accounts import vault
    from portal.organizations import tmi_budget

    for cls in (tmi_budget.FileBudget, tmi_budget.RedisBudget):
        take, refused = cls.take, cls.refused

        def counted_take(self, wait, _take=take):
            short = _take(self, wait)
            if short is None:
                with tally.lock:
                    tally.sends.append(time.monotonic())
            return short

        def counted_refused(self, retry_after, _refused=refused):
            with tally.lock:
                tally.tmi_429 += 1
            return _refused(self, retry_after)

        cls.take, cls.refused = counted_take, counted_refused

    at_tmi = vault._refresh_at_tmi

    def counted_refresh(client, refresh_token):
        tokens = at_tmi(client, refresh_token)
        with tally.lock:
            pk = tally.owner.get(refresh_token)
            if pk is None:  # a newcomer's token (signed in during the run): counted apart
                tally.newcomer_refreshes += 1
            else:
                tally.refreshes.setdefault(pk, []).append(time.monotonic())
                tally.owner[tokens.refresh_token] = pk
        return tokens

    vault._refresh_at_tmi = counted_refresh
    vault.tmi_sign_in_required_subscribe(lambda connection: _count_refusal(tally))


def _count_refusal(tally: Tally) -> None:
    with tally.lock:
        tally.refused_refresh += 1


def _members(organization, sandbox, count: int, lifetime: float, tally: Tally) -> list:
    from django.utils import timezone

    from portal.accounts.models import TMIConnection

    users = []
    for i in range(count):
        user, connection, tokens = bench_member_add(organization, sandbox, f"member{i}")
        # Members signed in at different times within the last lifetime: their tokens come within the refresh
        # margin spread over the run (never later than TMI's own expiry of the minted token).
        expires = timezone.now() + timedelta(seconds=REFRESH_MARGIN_SECONDS + random.random() * (lifetime - 60))
        TMIConnection.objects.filter(pk=connection.pk).update(expires_at=expires)
        tally.owner[tokens.refresh_token] = connection.pk
        users.append(user)
    return users


def _act(organization, users: list, stop: float, tally: Tally, pace: float) -> None:
    from django.db import connection as db

    from portal.accounts.vault import SignInRequired, tmi_client
    from portal.tmi import RateLimited, TMIError

    try:
        while time.monotonic() < stop:
            user = random.choice(users)
            try:
                with tmi_client(organization=organization, user=user) as client:
                    client.threat_models.list(limit=1)
                outcome = "done"
            except SignInRequired:
                outcome = "signed_out"
            except RateLimited:
                outcome = "postponed"
            except TMIError as error:
                outcome = type(error).__name__
            with tally.lock:
                tally.actions[outcome] += 1
            time.sleep(random.expovariate(1 / pace))
    finally:
        db.close()


def _sign_in(organization, provider: str, hint: str, number: int, tally: Tally) -> None:
    import httpx
    from django.db import connection as db
    from django.test import Client

    address = f"10.{number // 250}.{number % 250}.1"
    browser = Client(HTTP_HOST="localhost:8000", REMOTE_ADDR=address)
    started, busy, completed = time.monotonic(), False, False
    try:
        with httpx.Client(headers={"X-Forwarded-For": address}, timeout=30) as web:
            start = browser.post(f"/o/{organization.slug}/login/", {"provider": provider, "login_hint": hint})
            if start.status_code == 302:
                back = web.get(start["Location"], follow_redirects=False)
                location = back.headers.get("location", "")
                answer = browser.get(location[location.index("/auth/") :]) if "/auth/" in location else None
                for _ in range(BUSY_MAX_WAITS):
                    if answer is None or answer.status_code != 200 or "Retry-After" not in answer:
                        break
                    busy = True  # the busy page: wait as its meta refresh does, then continue
                    time.sleep(int(answer["Retry-After"]))
                    answer = browser.get("/auth/complete/tmi/continue/")
                completed = answer is not None and answer.status_code == 302 and "/o/" in answer["Location"]
    finally:
        db.close()
    with tally.lock:
        tally.sign_ins.append((completed, busy, time.monotonic() - started))


def run(args: argparse.Namespace) -> dict:
    from django.conf import settings

    from portal.accounts.models import TMIConnection
    from portal.organizations.models import Organization
    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    duration = args.minutes * 60.0
    tally = Tally()
    _instrument(tally)
    config = SandboxConfig(
        generation=args.generation,
        seed="demo",
        rate_limits=True,
        rate_limit_loopback=True,
        access_token_seconds=int(duration),
    )
    print(f"Starting a TMI {args.generation} sandbox (auth-flow limit on, loopback counted)...", flush=True)
    with SandboxServer(config) as sandbox:
        organization = Organization.objects.create(
            name="Bench",
            slug="bench",
            tmi_base_url=sandbox.base_url,
            allowed_email_domains=["tmi.local", "test.tmi"],
        )
        print(f"Storing {args.members} members' tokens...", flush=True)
        users = _members(organization, sandbox, args.members, duration, tally)
        provider = sandbox.state.config.test_idp
        print(
            f"Running {args.minutes} min: members active every ~{ACTIVE_EVERY_SECONDS:.0f} s, "
            f"{args.sign_ins} sign-ins in the first minute; budget {settings.PORTAL_TMI_AUTH_CALLS_PER_MINUTE} "
            f"a minute, {settings.PORTAL_TMI_AUTH_RESERVE_PERCENT}% kept for sign-ins",
            flush=True,
        )
        began = time.monotonic()
        stop = began + duration
        pace = ACTIVE_EVERY_SECONDS * args.threads / max(1, len(users))
        actors = [
            threading.Thread(target=_act, args=(organization, users, stop, tally, pace)) for _ in range(args.threads)
        ]
        for actor in actors:
            actor.start()
        with ThreadPoolExecutor(max_workers=args.sign_in_threads) as pool:
            for i in range(args.sign_ins):
                at = began + 5 + 55 * i / max(1, args.sign_ins)
                time.sleep(max(0.0, at - time.monotonic()))
                pool.submit(_sign_in, organization, provider, f"newcomer{i}", i, tally)
        for actor in actors:
            actor.join()
        signed_out = TMIConnection.objects.filter(organization=organization, needs_sign_in=True).count()

    completed = [s for s in tally.sign_ins if s[0]]
    # At most one refresh per member per token lifetime: two refreshes of one member closer together than a
    # lifetime less the refresh margin (and a little slack for the budget's waits) would be one too many.
    spacing = duration - REFRESH_MARGIN_SECONDS - 5
    too_soon = sum(
        1 for times in tally.refreshes.values() for earlier, later in zip(times, times[1:]) if later - earlier < spacing
    )
    most = max((len(times) for times in tally.refreshes.values()), default=0)
    figures = {
        "generation": args.generation,
        "members": args.members,
        "minutes": args.minutes,
        "token_lifetime_seconds": int(duration),
        "budget_per_minute": settings.PORTAL_TMI_AUTH_CALLS_PER_MINUTE,
        "tmi_429_answers_to_auth_flow_calls": tally.tmi_429,
        "most_portal_auth_flow_calls_in_any_60s": tally.most_in_any_minute(),
        "auth_flow_calls": len(tally.sends),
        "sign_ins": len(tally.sign_ins),
        "sign_ins_completed": len(completed),
        "sign_ins_that_saw_busy_page": sum(1 for s in tally.sign_ins if s[1]),
        "longest_sign_in_seconds": round(max((s[2] for s in tally.sign_ins), default=0.0), 1),
        "members_signed_out": signed_out,
        "refreshes_of_members": sum(len(times) for times in tally.refreshes.values()),
        "members_refreshed": len(tally.refreshes),
        "refreshes_of_those_who_signed_in_during_the_run": tally.newcomer_refreshes,
        "most_refreshes_of_one_member": most,
        "refreshes_sooner_than_a_lifetime_after_the_last": too_soon,
        "refresh_tokens_refused": tally.refused_refresh,
        "member_actions": dict(tally.actions),
    }
    return figures


def _print(figures: dict) -> None:
    print()
    print(f"TMI {figures['generation']}: {figures['members']} members, {figures['minutes']} min (one token lifetime)")
    print(f"  TMI's 429s to the portal's auth-flow calls   {figures['tmi_429_answers_to_auth_flow_calls']}")
    print(
        f"  most portal auth-flow calls in any 60 s      {figures['most_portal_auth_flow_calls_in_any_60s']}"
        f" (budget {figures['budget_per_minute']}; {figures['auth_flow_calls']} in all)"
    )
    print(
        f"  sign-ins completed                           {figures['sign_ins_completed']} of {figures['sign_ins']}"
        f" ({figures['sign_ins_that_saw_busy_page']} saw the busy page; longest {figures['longest_sign_in_seconds']} s)"
    )
    print(f"  members signed out                           {figures['members_signed_out']}")
    print(
        f"  refreshes                                    {figures['refreshes_of_members']} of"
        f" {figures['members_refreshed']} members (at most {figures['most_refreshes_of_one_member']} for one);"
        f" {figures['refreshes_of_those_who_signed_in_during_the_run']} of newcomers"
    )
    print(
        f"  refreshes sooner than a lifetime after last  {figures['refreshes_sooner_than_a_lifetime_after_the_last']}"
    )
    print(f"  refresh tokens TMI refused (used twice)      {figures['refresh_tokens_refused']}")
    print(f"  member actions                               {figures['member_actions']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench auth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=4.0, help="the run, and the token lifetime")
    parser.add_argument("--sign-ins", type=int, default=150, help="people signing in within the first minute")
    parser.add_argument("--threads", type=int, default=6, help="threads acting as members")
    parser.add_argument("--sign-in-threads", type=int, default=24, help="browsers signing in at once")
    json_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="portal-bench-auth-") as workdir:
        _configure_django(Path(workdir))
        figures = run(args)
    _print(figures)
    figures_write(figures, args.json)
    sys.stdout.flush()
