"""The live-relay benchmark still runs end to end: a tiny N through a real daphne and sandbox, in both
TMI generations, printing figures that add up. (The figures themselves are for people, not asserts.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.live_relay import percentile

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"([\d.]+)"


def bench(*args: str, timeout: float = 100) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def figures(line_label: str, output: str) -> tuple[float, float, float, int, int, int, int]:
    match = re.search(
        rf"{re.escape(line_label)}\s+p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms\s+{NUMBER} changes/s\s+"
        rf"\(n=(\d+), lost (\d+), late (\d+), reordered (\d+); all connected in {NUMBER} s\)",
        output,
    )
    assert match, f"no {line_label!r} line in:\n{output}"
    p50, p99, rate, n, lost, late, reordered, _ = match.groups()
    return float(p50), float(p99), float(rate), int(n), int(lost), int(late), int(reordered)


KEYS = (
    "browsers direct_p50_ms direct_p99_ms bridge_p50_ms bridge_p99_ms floor_p50_ms floor_p99_ms ratio_p50 "
    "ratio_p99 kib_per_session connect_s lost reordered"
).split()


@pytest.mark.parametrize("generation", ["1.8", "0.217"])
def test_a_tiny_run_prints_sane_figures(generation, tmp_path):
    # 4 people in 2 rooms of 2, 3 measured rounds: each round, each room's change reaches 1 other person.
    out = tmp_path / "live.json"
    run = bench(
        "live", "--generation", generation, "--browsers", "4", "--per-diagram", "2", "--rounds", "3", "--json", str(out)
    )
    output = run.stdout
    assert run.returncode == 0, output + run.stderr
    assert f"TMI {generation}, 4 participants in 2 rooms" in output

    bridged = figures("through the portal (bridge)", output)
    floor = figures("through a bare relay (floor)", output)
    direct = figures("directly against TMI", output)
    for p50, p99, rate, n, lost, late, reordered in (bridged, floor, direct):
        assert 0 < p50 <= p99 < 10_000
        assert rate > 0
        assert (n, lost, late, reordered) == (6, 0, 0, 0)

    written = json.loads(out.read_text())
    assert set(KEYS) <= set(written)
    assert written["browsers"] == 4
    assert (written["bridge_p50_ms"], written["bridge_p99_ms"]) == pytest.approx(bridged[:2], abs=0.01)
    assert (written["floor_p50_ms"], written["floor_p99_ms"]) == pytest.approx(floor[:2], abs=0.01)
    assert (written["direct_p50_ms"], written["direct_p99_ms"]) == pytest.approx(direct[:2], abs=0.01)
    for pct, index in (("p50", 0), ("p99", 1)):
        if floor[index] > direct[index]:
            expected = (bridged[index] - direct[index]) / (floor[index] - direct[index])
            assert written[f"ratio_{pct}"] == pytest.approx(expected, abs=0.01)
        else:
            assert written[f"ratio_{pct}"] is None
    assert (written["lost"], written["reordered"]) == (0, 0)
    assert 0 < written["connect_s"] < 100
    # The connect explains itself: daphne's own CPU for it (four Django sessions, handshakes and TMI calls cost
    # something; its two threads use at most the machine's CPUs, give or take a clock tick of 10 ms a reading),
    # and the bare relay's and TMI's own connects.
    most = os.cpu_count() * written["connect_s"] + 0.03
    assert 0 < written["daphne_cpu_ms_per_connect"] * 4 / 1000 <= most
    assert written["daphne_busy_while_connecting"] > 0
    assert written["floor_connect_s"] > 0 and written["direct_connect_s"] > 0
    cpu_line = re.search(rf"daphne's CPU: {NUMBER} ms a browser, {NUMBER} CPUs on average", output)
    assert cpu_line, output
    assert float(cpu_line[1]) == pytest.approx(written["daphne_cpu_ms_per_connect"], abs=0.05)
    for key in ("floor_cpu_ms_per_connect", "direct_cpu_ms_per_connect"):
        assert 0 <= written[key] * 4 / 1000 <= most
    others = re.search(
        rf"bare relay connected them in {NUMBER} s \({NUMBER} ms of its CPU a browser\), straight to TMI {NUMBER} s"
        rf" \(the sandbox's CPU: {NUMBER} ms a browser\)",
        output,
    )
    assert others, output
    assert float(others[1]) == pytest.approx(written["floor_connect_s"], abs=0.05)
    assert float(others[2]) == pytest.approx(written["floor_cpu_ms_per_connect"], abs=0.05)
    assert float(others[3]) == pytest.approx(written["direct_connect_s"], abs=0.05)
    assert float(others[4]) == pytest.approx(written["direct_cpu_ms_per_connect"], abs=0.05)

    idle = re.search(rf"daphne, no live sessions\s+{NUMBER} MiB", output)
    busy = re.search(rf"daphne, 4 bridged sessions\s+{NUMBER} MiB", output)
    per_session = re.search(r"per bridged session\s+(-?[\d.]+) KiB", output)
    assert idle and busy and per_session, output
    assert float(idle[1]) > 10  # a real daphne with Django loaded, not a placeholder
    assert float(per_session[1]) == written["kib_per_session"]
    assert float(per_session[1]) == pytest.approx((float(busy[1]) - float(idle[1])) * 1024 / 4, abs=30)
    assert re.search(rf"TMI sandbox \(for reference\)\s+{NUMBER} MiB idle", output)


def test_repetitions_take_turns_and_the_figures_are_their_medians(tmp_path):
    out = tmp_path / "live.json"
    run = bench("live", "--browsers", "4", "--per-diagram", "2", "--rounds", "2", "--repeat", "2", "--json", str(out))
    output = run.stdout
    assert run.returncode == 0, output + run.stderr
    written = json.loads(out.read_text())
    assert written["repeats"] == 2
    for way, label in (
        ("bridge", "through the portal (bridge)"),
        ("floor", "through a bare relay (floor)"),
        ("direct", "directly against TMI"),
    ):
        first, second = figures(f"{label} #1", output), figures(f"{label} #2", output)
        assert first[3] == second[3] == 4  # 2 rounds x 2 rooms x 1 other person, each time
        for pct, index in (("p50", 0), ("p99", 1)):
            assert written[f"{way}_{pct}_ms"] == pytest.approx((first[index] + second[index]) / 2, abs=0.01)
    # In turns: the second direct run starts after the first bridged one.
    assert output.index("Through the portal #1") < output.index("Directly against TMI #2")
    assert "medians of 2 repetitions" in output
    assert (written["lost"], written["reordered"]) == (0, 0)


def test_bad_options_are_refused_with_a_reason():
    run = bench("live", "--browsers", "3", "--per-diagram", "2", timeout=30)
    assert run.returncode == 2
    assert "every room needs at least two people" in run.stderr
    assert bench("live", "--browsers", "1001", timeout=30).returncode == 2
    repeat = bench("live", "--repeat", "0", timeout=30)
    assert repeat.returncode == 2 and "--repeat must be between 1 and 20" in repeat.stderr


def test_the_bench_command_lists_its_benchmarks():
    run = bench(timeout=30)
    assert run.returncode == 0
    assert "store" in run.stdout and "live" in run.stdout
    unknown = bench("nonsense", timeout=30)
    assert unknown.returncode == 2 and re.search(r"python -m bench \{[a-z,]*live[a-z,]*\}", unknown.stderr)


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
