"""`python -m bench refresh` runs end to end with small numbers: real Celery workers refresh every token due,
one and then several, and the sandbox counts no member refreshed twice and no refresh token used twice. The
speed targets are the bench's to print (README), not this test's."""

from __future__ import annotations

import json
import os

import pytest

from bench.refresh import machine_busy_cpu_s, speedup_ceiling
from tests.bench.running import bench_finish, bench_start

KEYS = {"due", "workers", "seconds", "one_worker_seconds", "refreshed", "refreshed_twice", "refresh_tokens_reused"}


@pytest.mark.workers
def test_refresh_bench_refreshes_every_token_due_once(tmp_path):
    out = tmp_path / "refresh.json"
    run = bench_finish(bench_start("refresh", "--due", "12", "--workers", "3", "--json", str(out)), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert KEYS <= figures.keys()
    assert figures["due"] == 12 and figures["workers"] == 3
    assert figures["refreshed"] == figures["one_worker_refreshed"] == 12
    assert figures["refreshed_twice"] == figures["refresh_tokens_reused"] == 0
    assert figures["one_worker_refreshed_twice"] == figures["one_worker_refresh_tokens_reused"] == 0
    assert figures["signed_out"] == 0 and figures["seconds"] > 0 and figures["one_worker_seconds"] > 0
    assert "12 tokens due" in run.stdout and "refresh tokens used twice" in run.stdout
    # What the machine allows is measured, not assumed: one worker kept some CPU busy, and no more than 3 workers'
    # worth of gain is ever promised.
    assert figures["cpus"] == os.cpu_count() and figures["one_worker_busy_cpu_s"] > 0
    assert 0 < figures["speedup_ceiling"] <= 3
    assert "the most 3 workers could gain" in run.stdout


def test_the_speedup_ceiling_is_the_idle_cpus_or_the_workers_whichever_is_fewer():
    # One worker kept 1 of 2 CPUs busy (all CPU, TMI on loopback): twice as fast at most, whatever the workers.
    assert speedup_ceiling(cpus=2, workers=8, seconds=1.0, busy_cpu_s=1.0) == 2.0
    # A quarter of a CPU busy (the rest waiting on a distant TMI): 8 CPUs' worth of room, so the 8 workers bound it.
    assert speedup_ceiling(cpus=2, workers=8, seconds=1.0, busy_cpu_s=0.25) == 8.0
    assert speedup_ceiling(cpus=2, workers=3, seconds=1.0, busy_cpu_s=0.25) == 3.0
    # Not measured (no /proc/stat), or nothing to divide by: no ceiling rather than a made-up one.
    assert speedup_ceiling(cpus=2, workers=8, seconds=1.0, busy_cpu_s=None) is None
    assert speedup_ceiling(cpus=2, workers=8, seconds=0.0, busy_cpu_s=1.0) is None


def test_the_machines_busy_cpu_grows_while_it_works():
    before = machine_busy_cpu_s()
    if before is None:
        pytest.skip("/proc/stat is not on this machine")
    deadline = os.times().elapsed + 0.3
    while os.times().elapsed < deadline:  # 0.3 s of this process's own CPU
        pass
    assert machine_busy_cpu_s() - before >= 0.1  # ticks of 10 ms; some of the 0.3 s may be stolen by the host
