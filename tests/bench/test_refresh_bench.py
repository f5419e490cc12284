"""`python -m bench refresh` runs end to end with small numbers: real Celery workers refresh every token due,
one and then several, and the sandbox counts no member refreshed twice and no refresh token used twice. The
speed targets are the bench's to print (README), not this test's."""

from __future__ import annotations

import json

import pytest

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
