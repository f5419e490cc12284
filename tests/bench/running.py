"""Running a benchmark from a test: `python -m bench ...` in a child process, with the environment a person
running it would have. The test suite's own overrides (pyproject.toml's pytest env: budgets out of the way,
syncs inline, no retry backoff) are left out, because the benchmarks measure the production defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = (
    "PORTAL_TMI_AUTH_CALLS_PER_MINUTE",
    "PORTAL_TMI_REST_CALLS_PER_MINUTE",
    "PORTAL_SYNC_INLINE",
    "TMI_RETRY_BASE_SECONDS",
    "DATABASE_CONN_MAX_AGE",
)


def production_environ() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in TEST_ONLY}


def bench_start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=production_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def bench_finish(process: subprocess.Popen, timeout: float) -> subprocess.CompletedProcess:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        err += f"\n(killed after {timeout} s)"
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return bench_finish(bench_start(*args), timeout)


def figures_read(run: subprocess.CompletedProcess, path: Path) -> dict:
    """What a benchmark wrote with `--json PATH`, once it ended well."""
    import json

    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(path.read_text())
