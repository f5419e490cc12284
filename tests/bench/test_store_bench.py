"""`python -m bench store` runs end to end with small numbers, in both TMI generations, and reports figures that
hold together: the sandbox saw every call the sync made, the store holds what TMI holds, the ten changes made in
TMI arrived as change rows and on the overview, and page views made no TMI call at all."""

from __future__ import annotations

import os
import re

import pytest

from bench.store import most_in_any_window, percentile
from tests.bench.running import bench, figures_read

MODELS, THREATS, REQUESTS = 30, 300, 5
CALLS_PER_MODEL_READ_WHOLE = 8  # the model, its threats, diagrams (a list and the one diagram), four child lists


@pytest.mark.parametrize("generation", ["1.8", "0.217"])
def test_a_small_run_reports_sane_figures(generation, tmp_path):
    run = bench(
        "store",
        "--generation", generation,
        "--models", str(MODELS),
        "--threats", str(THREATS),
        "--requests", str(REQUESTS),
        "--json", str(tmp_path / "store.json"),
    )  # fmt: skip
    f = figures_read(run, tmp_path / "store.json")
    assert (f["generation"], f["models"], f["threats"]) == (generation, MODELS, THREATS)
    # The portal the bench measured runs on what the environment names (a scratch database beside DATABASE_URL's).
    assert f["database"] == ("PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite")
    assert f["redis"] == bool(os.environ.get("REDIS_URL"))

    cold = f["cold_sync"]
    assert cold["finished"] and cold["passes"] == 1 and cold["errors"] == []
    assert cold["models_read_whole"] == MODELS
    # The sandbox saw exactly the calls the sync made: one list page, then each model read whole.
    assert cold["tmi_calls"] == cold["calls"] == 1 + CALLS_PER_MODEL_READ_WHOLE * MODELS
    assert cold["tmi_rest_calls"] == cold["tmi_calls"] and cold["tmi_429"] == 0
    assert cold["most_rest_calls_in_any_60s"] == cold["tmi_rest_calls"] <= f["rest_budget_per_minute"] == 3000
    assert 0 < cold["seconds"] < 60 and 0 < cold["cpu_seconds"]
    assert f["stored"] == {"models": MODELS, "threats": THREATS}

    incremental = f["incremental_sync"]
    assert incremental["finished"] and incremental["errors"] == []
    assert incremental["changes_made_in_tmi"] == 10
    assert incremental["changes_arrived"] == 10
    assert incremental["change_rows"] == 10 and incremental["change_kinds"] == ["threat_closed"]
    assert incremental["tmi_calls"] == incremental["calls"]
    assert incremental["models_checked"] + incremental["models_read_whole"] == MODELS
    # A model whose modified_at did not move costs one call (its threats changed since the last pass); one read
    # whole (TMI moved its modified_at) costs what the cold sync paid for it; and one list page before them.
    assert incremental["tmi_calls"] == (
        1 + incremental["models_checked"] + CALLS_PER_MODEL_READ_WHOLE * incremental["models_read_whole"]
    )
    assert incremental["waited_for_budget_seconds"] == 0  # 241 + 31 calls: the budget never bound
    assert 0 < incremental["seconds"] < cold["seconds"] and 0 < incremental["cpu_seconds"]
    assert f["overview_open_threats"]["before"] - f["overview_open_threats"]["after"] == 10

    pages = f["pages"]
    assert pages["tmi_calls"] == 0
    assert pages["sync_requests_sent"] == 0  # the member's set was fresh: nothing asked of a worker either
    for name in ("overview", "list", "threat_model"):
        assert pages[name]["n"] == REQUESTS
        assert 0 < pages[name]["p50_ms"] <= pages[name]["p95_ms"] < 5000
        assert 0 < pages[name]["cpu_p50_ms"]

    lag = f["change_to_overview"]
    assert lag["how"].startswith("computed worst case")
    assert (lag["sync_seconds"], lag["beat_seconds"]) == (30, 15.0)
    assert lag["seconds"] == pytest.approx(30 + 15 + incremental["seconds"], abs=0.1)


def test_the_printed_report_names_every_figure():
    run = bench("store", "--models", "10", "--threats", "30", "--requests", "2")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert re.search(r"TMI calls \(at the sandbox\)\s+81 \(81 REST; the sync counted 81; 0 answered 429\)", out)
    assert re.search(r"most REST calls in any 60 s\s+81 \(budget 3000 a minute\)", out)
    assert re.search(r"change rows\s+10 \(threat_closed\); 10 of 10 changes arrived", out)
    assert re.search(r"TMI calls during the page views\s+0 \(goal 0\)", out)
    for label in ("overview", "threat-model list", "threat-model page"):
        assert re.search(rf"{label}\s+p50\s+[\d.]+ ms\s+p95\s+[\d.]+ ms\s+\(n=2; CPU p50 [\d.]+ ms\)", out), out
    assert re.search(r"worst case\s+[\d.]+ s = 30 s PORTAL_SYNC_SECONDS \+ 15 s beat \+ [\d.]+ s sync", out)
    assert "computed worst case (not a live beat and worker)" in out


def test_bad_options_are_refused_with_a_reason():
    few = bench("store", "--models", "30", "--threats", "10", timeout=60)
    assert few.returncode == 2 and "--threats must be at least 3 per model (90)" in few.stderr
    tiny = bench("store", "--models", "5", timeout=60)
    assert tiny.returncode == 2 and "--models must be at least 10" in tiny.stderr
    listed = bench(timeout=60)
    assert listed.returncode == 0 and re.search(r"^  store\s", listed.stdout, re.MULTILINE)


def test_the_window_and_percentile_count_as_tmi_does():
    assert most_in_any_window([0.0, 10.0, 59.9, 60.0, 61.0, 200.0]) == 4  # 10.0 .. 61.0 within 60 s of each other
    assert most_in_any_window([]) == 0
    assert percentile([float(v) for v in range(1, 101)], 0.95) == 95.0
    assert percentile([4.0], 0.5) == 4.0
