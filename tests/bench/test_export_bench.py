"""`python -m bench export` runs end to end with small numbers and writes its figures with `--json PATH`: the
render's CPU seconds and peak RSS for the model and the portfolio, each measured in a fresh process; with
`--before GITREF` the same reports rendered with that commit's code, beside them, and whether they read the same."""

from __future__ import annotations

from tests.bench.running import bench, figures_read


def test_a_small_run_writes_positive_figures(tmp_path):
    run = bench(
        "export",
        "--threats", "12",
        "--diagrams", "1",
        "--cells", "30",
        "--models", "3",
        "--before", "HEAD",
        "--json", str(tmp_path / "export.json"),
        timeout=420,
    )  # fmt: skip
    f = figures_read(run, tmp_path / "export.json")
    for key in ("model_cpu_s", "model_peak_mb", "portfolio_cpu_s", "portfolio_peak_mb"):
        assert f[key] > 0, key
        assert f[f"before_{key}"] > 0, key
    # A fresh process each: its peak is the render's, well under what the parent (sandbox, store) holds.
    assert 50 < f["model_peak_mb"] < 400 and 50 < f["portfolio_peak_mb"] < 400
    assert f["model_pages"] == f["before_model_pages"] > 3 and f["portfolio_pages"] == f["before_portfolio_pages"]
    assert f["model_same_text_as_before"] is True and f["portfolio_same_text_as_before"] is True
    assert "model_cpu_s" not in run.stdout  # people read sentences; machines read the JSON
    assert "render" in run.stdout and "peak RSS" in run.stdout
