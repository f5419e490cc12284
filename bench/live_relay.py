"""How much does the portal's live bridge add to a diagram edit, and what does a live session cost?

    python -m bench live [--browsers 100] [--per-diagram 10] [--rounds 20] [--repeat 1] [--generation 1.8|0.217]
                         [--json PATH]

Starts a TMI sandbox, a floor relay (bench/live_floor.py) and one daphne serving the portal (each a child
process, on a temporary SQLite database), signs N people in at the sandbox through its real OAuth flow,
gives every room of `--per-diagram` people a threat model with one diagram they may all edit, and makes
each person a member of organisation `bench` with a Django session. Then, in one run, the same rounds:

1. directly against TMI: N raw TMI clients on TMI's collaboration socket (the baseline);
2. through the floor: the same raw clients, each through a bare websockets relay in one process;
3. through the portal: N simulated browsers on the live page's socket, through daphne to TMI.

In each round one person per room moves the room's node, all rooms at once; the time until each other
person in the room sees the change is one relay latency. It prints p50 and p99 of each way; what the
bridge adds to a direct socket as a multiple of what the floor adds (`ratio_p50`, `ratio_p99`); changes
lost (never delivered), late (after their round gave up) and reordered (a seat saw an older change after
a newer one); the seconds until all N browsers had the diagram; and daphne's memory per bridged
session: its RSS with N sessions open minus its RSS with none (measured after one session has come and
gone, so one-off imports are not counted), divided by N. With `--json PATH` the figures are also written
there as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.figures import figures_write, json_option
from bench.live_clients import (
    BrowserSeat,
    DirectSeat,
    FloorSeat,
    Meter,
    RoundsResult,
    Seat,
    SetupFailed,
    rounds_play,
    seats_close,
    seats_open,
)
from bench.live_world import (
    ROOT,
    DaphneProcess,
    FloorProcess,
    Person,
    Room,
    SandboxProcess,
    cpu_s,
    people_sign_in,
    portal_members_create,
    raise_open_files_limit,
    rooms_create,
    rooms_wait_closed,
    rss_kib,
    sandbox_calls,
)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class Progress:
    """One line per tenth of the way, so a 1,000-browser run shows it is moving."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if done == total or done // step != self.last.get(what, -1):
            self.last[what] = done // step
            print(f"  {what}: {done}/{total}", flush=True)
            if done == total:
                self.last.pop(what, None)


@dataclass
class Phase:
    label: str
    result: RoundsResult
    connect_s: float
    connect_cpu_s: float  # the CPU the process in the middle (sandbox, floor or daphne) used while all connected

    @property
    def p50_ms(self) -> float:
        return percentile(self.result.latencies, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.result.latencies, 0.99) * 1000

    @property
    def per_second(self) -> float:
        return self.result.deliveries / self.result.seconds if self.result.seconds else 0.0

    def line(self) -> str:
        return (
            f"  {self.label:<34} p50 {self.p50_ms:8.2f} ms   p99 {self.p99_ms:8.2f} ms   "
            f"{self.per_second:8.0f} changes/s   (n={len(self.result.latencies)}, lost {self.result.lost}, "
            f"late {self.result.late}, reordered {self.result.reordered}; all connected in {self.connect_s:.1f} s)"
        )


def added_ratio(bridge: float, floor: float, direct: float) -> float | None:
    """What the bridge adds over a direct TMI socket, as a multiple of what the floor adds (None when the
    floor adds nothing measurable)."""
    floor_added = floor - direct
    return (bridge - direct) / floor_added if floor_added > 0 else None


def _mib(kib: int) -> str:
    return f"{kib / 1024:7.1f} MiB"


async def _phase(
    heading: str,
    label: str,
    seats_by_room: list[list[Seat]],
    args: argparse.Namespace,
    meter: Meter,
    progress: Progress,
    *,
    cpu_pid: int,
    measure=None,
    after_connect=None,
) -> tuple[Phase, object]:
    seats = [seat for room in seats_by_room for seat in room]
    print(f"{heading}: connecting {len(seats)}...", flush=True)
    started, cpu_started = time.perf_counter(), cpu_s(cpu_pid)
    await seats_open(seats, concurrency=args.connect_concurrency, progress=progress)
    connect_s, connect_cpu_s = time.perf_counter() - started, cpu_s(cpu_pid) - cpu_started
    if after_connect:
        await after_connect()
    print(
        f"  all {len(seats)} have the diagram after {connect_s:.1f} s; playing {args.rounds} rounds",
        flush=True,
    )
    try:
        result = await rounds_play(
            seats_by_room,
            meter,
            rounds=args.rounds,
            warmup=1,
            interval=args.interval_ms / 1000,
            timeout=args.round_timeout,
        )
        measured = measure() if measure else None
    finally:
        await seats_close(seats)
    if not result.latencies:
        raise SystemExit(f"{heading}: no change reached anyone (refusals: {result.refusals[:5]})")
    return Phase(label, result, connect_s, connect_cpu_s), measured


async def _run(
    args: argparse.Namespace,
    sandbox: SandboxProcess,
    floor: FloorProcess,
    daphne: DaphneProcess,
    owner: Person,
    rooms: list[Room],
) -> dict:
    progress = Progress()
    seat_ids = iter(range(10**9))
    directs: list[Phase] = []
    floors: list[Phase] = []
    bridges: list[Phase] = []
    sandbox_directs: list[int] = []  # RSS after each way's rounds (memory figures use the first turn's)
    floor_busies: list[int] = []
    connect_calls: dict[str, int] = {}

    async def count_connect_calls() -> None:
        connect_calls.update(await sandbox_calls(sandbox.base_url))

    async def play(heading: str, label: str, seat, cpu_pid: int, measure, after_connect=None) -> tuple[Phase, object]:
        """One way's rounds: `seat(id, person, room, meter)` makes each person's seat."""
        meter = Meter()
        seats = [[seat(next(seat_ids), p, room, meter) for p in room.people] for room in rooms]
        return await _phase(
            heading, label, seats, args, meter, progress, cpu_pid=cpu_pid, measure=measure, after_connect=after_connect
        )

    # The three ways run one after another; with --repeat they take turns, so a change in the machine's load
    # meets all three alike, and each figure is the median over the repetitions.
    for repetition in range(args.repeat):
        first = repetition == 0
        suffix = f" #{repetition + 1}" if args.repeat > 1 else ""
        if first:
            sandbox_idle, floor_idle = rss_kib(sandbox.pid), rss_kib(floor.pid)
        for phases, busy, heading, label, seat, pid in (
            (
                directs,
                sandbox_directs,
                "Directly against TMI",
                "directly against TMI",
                lambda i, p, room, meter: DirectSeat(i, p, room, meter, sandbox.base_url, args.generation),
                sandbox.pid,
            ),
            (
                floors,
                floor_busies,
                "Through the floor relay",
                "through a bare relay (floor)",
                lambda i, p, room, meter: FloorSeat(i, p, room, meter, sandbox.base_url, args.generation, floor),
                floor.pid,
            ),
        ):
            phase, measured = await play(
                f"{heading}{suffix}", f"{label}{suffix}", seat, pid, measure=partial(rss_kib, pid)
            )
            phases.append(phase)
            busy.append(measured)
            await rooms_wait_closed(sandbox.base_url, owner, rooms)

        if first:
            # One session through the bridge and away again, so one-off imports and caches in daphne are not
            # counted as the sessions' memory.
            warm = BrowserSeat(next(seat_ids), rooms[0].people[0], rooms[0], Meter(), daphne)
            await seats_open([warm], concurrency=1, progress=lambda *a: None)
            await seats_close([warm])
            await rooms_wait_closed(sandbox.base_url, owner, rooms[:1])
            await asyncio.sleep(1.0)
            daphne_idle = rss_kib(daphne.pid)
            await sandbox_calls(sandbox.base_url, reset=True)

        bridge_phase, measured = await play(
            f"Through the portal{suffix}",
            f"through the portal (bridge){suffix}",
            lambda i, p, room, meter: BrowserSeat(i, p, room, meter, daphne),
            daphne.pid,
            measure=lambda: (rss_kib(daphne.pid), rss_kib(sandbox.pid)),
            after_connect=count_connect_calls if first else None,
        )
        bridges.append(bridge_phase)
        if first:
            daphne_busy, sandbox_bridged = measured  # the memory of the first repetition's sessions
        if not daphne.alive():
            raise SystemExit("daphne stopped during the run")
        if repetition + 1 < args.repeat:
            await rooms_wait_closed(sandbox.base_url, owner, rooms)

    sandbox_direct, floor_busy = sandbox_directs[0], floor_busies[0]
    n = sum(len(room.people) for room in rooms)
    # From the figures as printed (to 10 µs), so anyone can recompute the ratios from them.
    ms = {
        f"{way}_{pct}": round(statistics.median(getattr(phase, f"{pct}_ms") for phase in phases), 2)
        for way, phases in (("direct", directs), ("floor", floors), ("bridge", bridges))
        for pct in ("p50", "p99")
    }
    ratio_p50 = added_ratio(ms["bridge_p50"], ms["floor_p50"], ms["direct_p50"])
    ratio_p99 = added_ratio(ms["bridge_p99"], ms["floor_p99"], ms["direct_p99"])
    figures = {
        "generation": args.generation,
        "browsers": n,
        "rooms": len(rooms),
        "rounds": args.rounds,
        "direct_p50_ms": ms["direct_p50"],
        "direct_p99_ms": ms["direct_p99"],
        "bridge_p50_ms": ms["bridge_p50"],
        "bridge_p99_ms": ms["bridge_p99"],
        "floor_p50_ms": ms["floor_p50"],
        "floor_p99_ms": ms["floor_p99"],
        "ratio_p50": None if ratio_p50 is None else round(ratio_p50, 2),
        "ratio_p99": None if ratio_p99 is None else round(ratio_p99, 2),
        "kib_per_session": round((daphne_busy - daphne_idle) / n, 1),
        "floor_kib_per_session": round((floor_busy - floor_idle) / n, 1),
        "connect_s": round(statistics.median(phase.connect_s for phase in bridges), 2),
        "tmi_calls_per_connect": round(sum(connect_calls.values()) / n, 2),
        "direct_connect_s": round(statistics.median(phase.connect_s for phase in directs), 2),
        "floor_connect_s": round(statistics.median(phase.connect_s for phase in floors), 2),
        # daphne's Python runs on one CPU at a time (the GIL): busy all the connect, N connects take at least N times
        # its CPU each.
        "daphne_cpu_ms_per_connect": round(statistics.median(phase.connect_cpu_s for phase in bridges) / n * 1000, 2),
        # The same for the bare relay's process and, straight to TMI, the sandbox's: what the bridge's figure compares to.
        "floor_cpu_ms_per_connect": round(statistics.median(phase.connect_cpu_s for phase in floors) / n * 1000, 2),
        "direct_cpu_ms_per_connect": round(statistics.median(phase.connect_cpu_s for phase in directs) / n * 1000, 2),
        "daphne_busy_while_connecting": round(
            statistics.median(phase.connect_cpu_s / phase.connect_s for phase in bridges if phase.connect_s), 2
        ),
        "lost": sum(phase.result.lost for phase in bridges),
        "reordered": sum(phase.result.reordered for phase in bridges),
        "late": sum(phase.result.late for phase in bridges),
        "floor_lost": sum(phase.result.lost for phase in floors),
        "direct_lost": sum(phase.result.lost for phase in directs),
        "repeats": args.repeat,
        "load_average": round(os.getloadavg()[0], 2),
    }
    print()
    print(
        f"TMI {args.generation}, {n} participants in {len(rooms)} rooms of up to {args.per_diagram}, "
        f"{args.rounds} rounds (every room edits at once; a round ends when all have seen the change)"
    )
    # The clients, daphne, the floor relay and the sandbox share this machine: its load colours every figure.
    print(f"Machine: {os.cpu_count()} CPUs, load average {figures['load_average']:.1f} at the end of the run")
    print("Relay latency (a node moved by one person, until each other person in the room sees it):")
    for phases in zip(bridges, floors, directs, strict=True):
        for phase in phases:
            print(phase.line())
    medians = f", medians of {args.repeat} repetitions" if args.repeat > 1 else ""
    print(
        f"Added to a direct TMI socket (bridge - direct, as a multiple of floor - direct{medians}; the goal is <= 1.2):"
    )
    for label in ("p50", "p99"):
        ratio, bridge, floor_, direct_ = (
            figures[f"ratio_{label}"],
            ms[f"bridge_{label}"],
            ms[f"floor_{label}"],
            ms[f"direct_{label}"],
        )
        shown = "n/a (the floor adds nothing)" if ratio is None else f"{ratio:5.2f}x"
        print(f"  {label}: bridge adds {bridge - direct_:7.2f} ms, floor adds {floor_ - direct_:7.2f} ms: {shown}")
    print("Memory (resident set size):")
    print(f"  {'daphne, no live sessions':<30} {_mib(daphne_idle)}")
    print(
        f"  {f'daphne, {n} bridged sessions':<30} {_mib(daphne_busy)}" + (" (the first repetition)" if medians else "")
    )
    print(f"  {'per bridged session':<30} {figures['kib_per_session']:7.1f} KiB (the goal is <= 100)")
    print(f"  {'per floor-relayed session':<30} {figures['floor_kib_per_session']:7.1f} KiB")
    print(
        f"  {'TMI sandbox (for reference)':<30} {_mib(sandbox_idle)} idle, {_mib(sandbox_direct).strip()} with "
        f"{n} direct clients, {_mib(sandbox_bridged).strip()} with {n} bridged"
    )
    print(
        f"Connecting all {n} browsers through the portal: {figures['connect_s']:.1f} s{' (median)' if medians else ''} "
        "(the goal is <= 10 s)"
    )
    print(
        f"  daphne's CPU: {figures['daphne_cpu_ms_per_connect']:.1f} ms a browser, {figures['daphne_busy_while_connecting']:.2f}"
        f" CPUs on average while they connected (its Python runs on one CPU at a time: {n} browsers need about"
        f" {figures['daphne_cpu_ms_per_connect'] * n / 1000:.1f} s of it on this machine)"
    )
    print(
        f"  the bare relay connected them in {figures['floor_connect_s']:.1f} s ({figures['floor_cpu_ms_per_connect']:.1f}"
        f" ms of its CPU a browser), straight to TMI {figures['direct_connect_s']:.1f} s (the sandbox's CPU:"
        f" {figures['direct_cpu_ms_per_connect']:.1f} ms a browser)"
    )
    print(
        f"  TMI calls the sandbox answered meanwhile: {figures['tmi_calls_per_connect']:.2f} per browser "
        f"({', '.join(f'{route} {count}' for route, count in sorted(connect_calls.items(), key=lambda kv: -kv[1]))})"
    )
    refusals = [refusal for phase in (*bridges, *floors, *directs) for refusal in phase.result.refusals]
    if refusals:
        print(f"  refusals seen: {len(refusals)} (first: {refusals[0]})")
    return figures


def _configure(workdir: Path) -> dict[str, str]:
    """Django on a throwaway SQLite database, migrated; the environment daphne gets."""
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["PORTAL_VAR_DIR"] = str(workdir)
    os.environ["DJANGO_DEBUG"] = "false"  # as in production
    os.environ["PORTAL_TMI_ALLOWED_SERVERS"] = "127.0.0.1"  # the bench's own sandbox, on loopback
    # Throwaway secrets for the throwaway database: daphne refuses the public development ones (DEBUG off).
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PORTAL_FIELD_ENCRYPTION_SALT", secrets.token_urlsafe(24))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server keeps Django's async-safety check
    return env


def run(args: argparse.Namespace, workdir: Path) -> None:
    limit = raise_open_files_limit()
    if limit < 4 * args.browsers + 256:
        print(
            f"warning: only {limit} open files allowed; {args.browsers} browsers may need {4 * args.browsers + 256}",
            file=sys.stderr,
        )
    env = _configure(workdir)
    rooms_n = math.ceil(args.browsers / args.per_diagram)
    progress = Progress()
    print(f"Starting a TMI {args.generation} sandbox and daphne...", flush=True)
    with SandboxProcess(args.generation, workdir / "sandbox.log") as sandbox:
        hints = ["bench-owner", *(f"bench-{i:04d}" for i in range(1, args.browsers + 1))]
        people = asyncio.run(
            people_sign_in(sandbox.base_url, hints, concurrency=args.connect_concurrency, progress=progress)
        )
        owner, people = people[0], people[1:]
        groups = [people[i::rooms_n] for i in range(rooms_n)]  # rooms of equal size (±1)
        rooms = asyncio.run(
            rooms_create(
                sandbox.base_url, owner, groups, generation=args.generation, concurrency=args.connect_concurrency
            )
        )
        print(f"  {len(rooms)} threat models with a diagram each", flush=True)
        portal_members_create(sandbox.base_url, people)
        print(f"  {len(people)} portal members with a signed-in session", flush=True)
        with (
            FloorProcess({**env, "PYTHONPATH": str(ROOT)}, workdir / "floor.log") as floor,
            DaphneProcess(env, workdir / "daphne.log") as daphne,
        ):
            try:
                figures = asyncio.run(_run(args, sandbox, floor, daphne, owner, rooms))
            except SetupFailed as failure:
                # The temporary directory goes with the run: show why while the logs still exist.
                for name in ("daphne.log", "floor.log", "sandbox.log"):
                    log = (workdir / name).read_text(errors="replace").splitlines()[-20:]
                    print(f"--- the end of {name} ---", *log, sep="\n", file=sys.stderr)
                raise SystemExit(f"The benchmark could not set up its sessions: {failure}") from None
    figures_write(figures, args.json)
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench live", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--browsers", type=int, default=100, help="simulated browsers, 2 to 1,000 (default 100)")
    parser.add_argument("--per-diagram", type=int, default=10, help="people per diagram (room), 2 to 50 (default 10)")
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds (default 20; one more warms up)")
    parser.add_argument("--interval-ms", type=int, default=50, help="pause between rounds (default 50)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="the three ways in turn this many times; figures are the medians (default 1)",
    )
    parser.add_argument("--round-timeout", type=float, default=10.0, help="seconds a round may take (default 10)")
    parser.add_argument(
        "--connect-concurrency", type=int, default=20, help="sign-ins and connections in flight at once (default 20)"
    )
    parser.add_argument("--logs", metavar="DIR", help="keep the sandbox's, the floor's and daphne's logs in DIR")
    json_option(parser)
    args = parser.parse_args(argv)
    if not 2 <= args.browsers <= 1000:
        parser.error("--browsers must be between 2 and 1000")
    # TMI 1.8 turns away a 51st client in one session (PROTOCOL.md 7.1); a room needs someone to tell.
    if not 2 <= args.per_diagram <= 50:
        parser.error("--per-diagram must be between 2 and 50")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not 1 <= args.repeat <= 20:
        parser.error("--repeat must be between 1 and 20")
    if math.ceil(args.browsers / args.per_diagram) > args.browsers // 2:
        parser.error("every room needs at least two people: lower --per-diagram or raise --browsers")
    with tempfile.TemporaryDirectory(prefix="portal-bench-live-") as workdir:
        try:
            run(args, Path(workdir))
        finally:
            if args.logs:  # the children's logs outlive the run's temporary directory
                Path(args.logs).mkdir(parents=True, exist_ok=True)
                for log in Path(workdir).glob("*.log"):
                    shutil.copy(log, Path(args.logs) / log.name)
