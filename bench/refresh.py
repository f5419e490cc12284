"""How fast do Celery workers refresh the tokens that are due, and do more workers help?

    python -m bench refresh [--due 100] [--workers 8] [--latency-ms 0] [--generation 1.8|0.217] [--json PATH]
                            [--database-url URL] [--redis-url URL]

Starts a TMI sandbox (its auth-flow limit on, loopback exempt as a 1.8 behind trusted proxies is) and a portal
with a temporary SQLite database and the embedded broker (or --database-url, an empty database, and
--redis-url) whose `--due` members each have
a live socket open and an access token expiring within the refresh window: all of them are due. The portal's
auth-flow budget is raised to 1,000 calls a minute (PORTAL_TMI_AUTH_CALLS_PER_MINUTE) and the organisation's
TMI calls at once to `--workers`, as an operator would for a server that copes. `--latency-ms` delays each
refresh at the sandbox, as a TMI across a network (and its own database) would answer.

Then, twice in one run, first with one worker process and then with `--workers`: real Celery workers on the
portal's broker, beat's task sent once, and the time until every token due is stored refreshed. Between the two
rounds the tokens are made due again. The sandbox counts, for each round, the refreshes of each member and the
refresh tokens presented again after they were spent (a real TMI refuses the second use).

Prints (and with --json PATH writes as one JSON object): due, workers, seconds, one_worker_seconds, speedup,
refreshed, refreshed_twice, refresh_tokens_reused; and what the machine allows: `cpus`, the CPU seconds the whole
machine was busy during the one-worker round (`one_worker_busy_cpu_s`, from /proc/stat: the worker, the sandbox and
the database all count) and `speedup_ceiling`, the most any number of workers could gain over one here. One worker
kept `one_worker_busy_cpu_s / one_worker_seconds` CPUs busy; `cpus` of them cannot go more than
`cpus / that` times faster, nor `--workers` more than `--workers` times: on a machine whose refreshes are all CPU
(TMI on loopback), more workers can only use the idle CPUs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.figures import figures_write, json_option
from bench.members import bench_member_add
from bench.sandbox_faults import sandbox_latency_add

ROOT = Path(__file__).resolve().parents[1]
BUDGET_PER_MINUTE = 1000


def _configure_django(workdir: Path, *, database_url: str | None, redis_url: str | None) -> dict[str, str]:
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if redis_url:  # the broker, the budgets and the gates in Redis, as several machines would share them
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["PORTAL_VAR_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ["PORTAL_TMI_ALLOWED_SERVERS"] = "127.0.0.1"
    os.environ["PORTAL_TMI_AUTH_CALLS_PER_MINUTE"] = str(BUDGET_PER_MINUTE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    # The workers are processes of their own, started as production ones are: keys of the run's own.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PORTAL_FIELD_ENCRYPTION_SALT", secrets.token_urlsafe(50))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return dict(os.environ)


def _members(organization, sandbox, count: int) -> list[int]:
    from portal.live.models import LiveConnection

    ids = []
    for i in range(count):
        user, connection, _ = bench_member_add(organization, sandbox, f"member{i}")
        # An open live socket: work that needs a fresh access token at any moment, so beat refreshes it.
        LiveConnection.objects.create(
            organization=organization,
            user=user,
            threat_model_id="00000000-0000-0000-0000-000000000001",
            diagram_id="00000000-0000-0000-0000-000000000002",
            channel_name=f"bench.{i}",
        )
        ids.append(connection.pk)
    return ids


def _make_due(ids: list[int]) -> None:
    from django.utils import timezone

    from portal.accounts.models import TMIConnection

    # Within beat's window (TMI_REFRESH_WINDOW_SECONDS, 300), beyond the client's own margin (60 s), so that only
    # beat refreshes them (not the portfolio sync the new members start).
    TMIConnection.objects.filter(pk__in=ids).update(expires_at=timezone.now() + timedelta(seconds=150))


def _worker(env: dict[str, str], concurrency: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "prefork"]
            + ["--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat"]
            + ["--loglevel", "WARNING"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def machine_busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (all CPUs; idle, I/O wait and time stolen by the
    host excluded), or None where /proc/stat is not there to say."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def speedup_ceiling(*, cpus: int, workers: int, seconds: float, busy_cpu_s: float | None) -> float | None:
    """The most `workers` can gain over one worker that kept the machine `busy_cpu_s` busy in `seconds`."""
    if busy_cpu_s is None or busy_cpu_s <= 0 or seconds <= 0:
        return None
    return round(min(float(workers), cpus * seconds / busy_cpu_s), 1)


def _round(env: dict[str, str], ids: list[int], workers: int, sandbox, log: Path) -> dict:
    from django.utils import timezone

    from portal.accounts.models import TMIConnection
    from portal.accounts.tasks import tmi_tokens_refresh_due
    from portal.celery import ping

    state = sandbox.state
    _make_due(ids)
    process = _worker(env, workers, log)
    try:
        try:
            for _ in range(workers):  # every child is up before the clock starts
                ping.delay().get(timeout=120)
        except Exception:
            print(log.read_text()[-3000:], file=sys.stderr)
            raise
        before = dict(state.refreshes_by_user)
        reused_before = state.refresh_tokens_reused
        started_at = timezone.now()
        began, busy_before = time.monotonic(), machine_busy_cpu_s()
        tmi_tokens_refresh_due.delay()
        waiting = TMIConnection.objects.filter(pk__in=ids).exclude(refreshed_at__gte=started_at)
        while waiting.exists():
            if time.monotonic() - began > 300:
                print(log.read_text()[-3000:], file=sys.stderr)
                raise SystemExit(f"{waiting.count()} of {len(ids)} tokens still not refreshed after 300 s")
            time.sleep(0.01)
        seconds, busy_after = time.monotonic() - began, machine_busy_cpu_s()
    finally:
        _stop(process)
    counts = {user: n - before.get(user, 0) for user, n in state.refreshes_by_user.items()}
    return {
        "seconds": round(seconds, 2),
        "refreshed": TMIConnection.objects.filter(pk__in=ids, refreshed_at__gte=started_at).count(),
        "refreshed_twice": sum(1 for n in counts.values() if n > 1),
        "refresh_tokens_reused": state.refresh_tokens_reused - reused_before,
        "signed_out": TMIConnection.objects.filter(pk__in=ids, needs_sign_in=True).count(),
        "busy_cpu_s": None if busy_before is None else round(busy_after - busy_before, 2),
    }


def run(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> dict:
    from portal.accounts.refresh import tmi_connections_due_list
    from portal.organizations.models import Organization
    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    config = SandboxConfig(generation=args.generation, seed="demo", rate_limits=True, rate_limit_loopback=False)
    print(f"Starting a TMI {args.generation} sandbox...", flush=True)
    with SandboxServer(config) as sandbox:
        organization = Organization.objects.create(
            name="Bench",
            slug="bench",
            tmi_base_url=sandbox.base_url,
            allowed_email_domains=["tmi.local", "test.tmi"],
            tmi_max_concurrency=args.workers,
        )
        print(f"Storing {args.due} members' tokens, all due...", flush=True)
        if args.latency_ms:
            sandbox_latency_add(sandbox.base_url, args.latency_ms, ("/oauth2",))
        ids = _members(organization, sandbox, args.due)
        _make_due(ids)
        assert tmi_connections_due_list().count() == args.due, "every member's token is due"
        print("One worker...", flush=True)
        one = _round(env, ids, 1, sandbox, workdir / "worker-1.log")
        print(f"{args.workers} workers...", flush=True)
        many = _round(env, ids, args.workers, sandbox, workdir / f"worker-{args.workers}.log")
    return {
        "generation": args.generation,
        "due": args.due,
        "workers": args.workers,
        "seconds": many["seconds"],
        "one_worker_seconds": one["seconds"],
        "speedup": round(one["seconds"] / many["seconds"], 2) if many["seconds"] else None,
        "refreshed": many["refreshed"],
        "refreshed_twice": many["refreshed_twice"],
        "refresh_tokens_reused": many["refresh_tokens_reused"],
        "signed_out": many["signed_out"],
        "one_worker_refreshed": one["refreshed"],
        "one_worker_refreshed_twice": one["refreshed_twice"],
        "one_worker_refresh_tokens_reused": one["refresh_tokens_reused"],
        "budget_per_minute": BUDGET_PER_MINUTE,
        "latency_ms": args.latency_ms,
        "cpus": os.cpu_count(),
        "one_worker_busy_cpu_s": one["busy_cpu_s"],
        "speedup_ceiling": speedup_ceiling(
            cpus=os.cpu_count(), workers=args.workers, seconds=one["seconds"], busy_cpu_s=one["busy_cpu_s"]
        ),
    }


def _print(figures: dict) -> None:
    print()
    print(
        f"TMI {figures['generation']}: {figures['due']} tokens due, budget {figures['budget_per_minute']} a minute,"
        f" {figures['latency_ms']} ms added to each refresh at TMI"
    )
    print(
        f"  1 worker                       {figures['one_worker_seconds']:.2f} s ({figures['one_worker_refreshed']} refreshed)"
    )
    print(
        f"  {figures['workers']} workers                      {figures['seconds']:.2f} s"
        f" ({figures['refreshed']} refreshed; {figures['speedup']}x one worker)"
    )
    print(
        f"  members refreshed twice        {figures['refreshed_twice']} (one worker: {figures['one_worker_refreshed_twice']})"
    )
    print(
        f"  refresh tokens used twice      {figures['refresh_tokens_reused']}"
        f" (one worker: {figures['one_worker_refresh_tokens_reused']}; counted by the sandbox)"
    )
    print(f"  members signed out             {figures['signed_out']}")
    if figures["speedup_ceiling"] is not None:
        print(
            f"  the most {figures['workers']} workers could gain   {figures['speedup_ceiling']}x on this machine"
            f" (one worker kept {figures['one_worker_busy_cpu_s'] / figures['one_worker_seconds']:.1f}"
            f" of its {figures['cpus']} CPUs busy)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench refresh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--due", type=int, default=100, help="tokens due")
    parser.add_argument("--workers", type=int, default=8, help="worker processes in the second round")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to each refresh at the sandbox")
    json_option(parser)
    parser.add_argument("--database-url", help="an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--redis-url", help="Redis for the broker, budgets and gates instead of the embedded ones")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="portal-bench-refresh-") as workdir:
        env = _configure_django(Path(workdir), database_url=args.database_url, redis_url=args.redis_url)
        figures = run(args, env, Path(workdir))
    _print(figures)
    figures_write(figures, args.json)
    sys.stdout.flush()
