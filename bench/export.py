"""How long, and how much memory, does a PDF export take?

    python -m bench export [--generation 1.8|0.217] [--threats 200] [--diagrams 5] [--cells 300] [--models 50]

Starts a sandbox seeded with `bulk:<models>` small threat models and a portal on a temporary database (as
`python -m bench store` makes it: SQLite, or a scratch database beside DATABASE_URL's), with alice a member whose
tokens sit in the vault, and builds one large threat model through the TMI client: `--threats` threats and
`--diagrams` diagrams of `--cells` cells each (two thirds nodes, one third flows). Then, for the large model
alone and for a portfolio report of the `--models` bulk models, it prints the export worker's three phases
separately: the refresh (the store made fresh from TMI with alice's access; first when the store is empty, then
again with nothing changed), the read (the report selectors over the store) and the render, the PDF's size and
pages, and memory: the tracemalloc peak of the read and the render (a second run with tracing on, since tracing
slows Python down) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "informational")
STATUSES = ("identified", "investigating", "in_progress", "mitigated", "accepted")
SHAPES = ("process", "store", "actor")


def diagram_cells(count: int, seed: str, edge_shape: str = "flow") -> list[dict[str, Any]]:
    """`count` cells: nodes on a grid, each joined to its right-hand neighbour by a labelled flow."""
    nodes = count - count // 3
    columns = 12
    cells: list[dict[str, Any]] = []
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/node/{i}")) for i in range(nodes)]
    for i, cell_id in enumerate(ids):
        cells.append(
            {
                "id": cell_id,
                "shape": SHAPES[i % len(SHAPES)],
                "position": {"x": 40 + (i % columns) * 200, "y": 40 + (i // columns) * 120},
                "size": {"width": 140, "height": 60},
                "attrs": {"text": {"text": f"Component {i + 1}"}},
            }
        )
    flows = count - nodes
    pairs = [(a, a + 1) for a in range(nodes - 1) if (a + 1) % columns] + [
        (a, a + columns) for a in range(nodes - columns)
    ]
    for n, (a, b) in enumerate(pairs[:flows]):
        cells.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/flow/{n}")),
                "shape": edge_shape,
                "source": {"cell": ids[a]},
                "target": {"cell": ids[b]},
                "labels": [{"position": 0.5, "attrs": {"text": {"text": f"flow {n + 1}"}}}],
            }
        )
    return cells


def build_large_model(client, *, threats: int, diagrams: int, cells: int) -> str:
    tm = client.threat_models.create(
        name="Benchmark: large threat model", description="Built by `python -m bench export`."
    )
    from portal.tmi.generations import profile_for

    edge_shape = profile_for(client.server_info().generation).edge_shape
    for n in range(diagrams):
        diagram = client.diagrams.create(tm.id, f"Diagram {n + 1}")
        # JSON Patch takes the cells in both generations (0.217 refuses a PUT with cells), as sent: so in
        # the generation's own edge shape.
        drawn = diagram_cells(cells, f"{tm.id}/{n}", edge_shape)
        client.diagrams.patch(tm.id, diagram.id, [{"op": "replace", "path": "/cells", "value": drawn}])
    for n in range(threats):
        client.threats.create(
            tm.id,
            name=f"Threat {n + 1}",
            threat_type=["Tampering"],
            severity=SEVERITIES[n % len(SEVERITIES)],
            status=STATUSES[n % len(STATUSES)],
            description=f"Threat number {n + 1}, with **some** Markdown in its description.",
            mitigation="Validate input; authenticate callers; log and alert.",
            score=n % 10,
        )
    return tm.id


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(action: Callable[[], Any], *, traced: bool) -> tuple[Any, float, float | None]:
    """(result, seconds, tracemalloc peak in MB when traced)."""
    gc.collect()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    peak = None
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result, seconds, peak


def _pages(pdf: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def _report(label: str, refresh: Callable[[], Any], read: Callable[[], Any], render: Callable[[Any], bytes]) -> None:
    first, first_s, _ = _measure(refresh, traced=False)
    again, again_s, _ = _measure(refresh, traced=False)
    data, read_s, _ = _measure(read, traced=False)
    pdf, render_s, _ = _measure(lambda: render(data), traced=False)
    _, _, read_peak = _measure(read, traced=True)
    _, _, render_peak = _measure(lambda: render(data), traced=True)
    print(f"{label}")
    print(f"  refresh {first_s:7.2f} s   from TMI into the store, empty before ({first.calls} TMI calls)")
    print(f"  refresh {again_s:7.2f} s   again, nothing changed ({again.calls} TMI calls)")
    print(f"  read    {read_s:7.2f} s   tracemalloc peak {read_peak:7.1f} MB   (the store, no TMI call)")
    print(f"  render  {render_s:7.2f} s   tracemalloc peak {render_peak:7.1f} MB")
    print(f"  total   {again_s + read_s + render_s:7.2f} s   (refresh again + read + render)")
    print(f"  PDF {len(pdf) / 2**20:.2f} MB, {_pages(pdf)} pages")
    print(f"  RSS now {_rss_mb():7.1f} MB   process peak RSS so far {_peak_rss_mb():7.1f} MB", flush=True)


def run(args: argparse.Namespace) -> None:
    from bench.store import _member
    from portal.accounts.vault import tmi_client
    from portal.organizations.models import Organization
    from portal.portfolio.selectors import portfolio_report_get, threat_model_report_get
    from portal.portfolio.sync import portfolio_reader_refresh
    from portal.reports.render import portfolio_report_pdf, threat_model_report_pdf
    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    print(f"Starting a TMI {args.generation} sandbox with {args.models} small threat models...", flush=True)
    with SandboxServer(SandboxConfig(generation=args.generation, seed=f"bulk:{args.models}")) as sandbox:
        organization = Organization.objects.create(name="Bench", slug="bench", tmi_base_url=sandbox.base_url)
        alice = _member(organization, sandbox.state)
        generated_at = datetime.now(UTC)
        with tmi_client(organization=organization, user=alice) as client:
            started = time.perf_counter()
            tm_id = build_large_model(client, threats=args.threats, diagrams=args.diagrams, cells=args.cells)
        print(
            f"Built the large model through the TMI client in {time.perf_counter() - started:.1f} s "
            f"({args.threats} threats, {args.diagrams} diagrams of {args.cells} cells)",
            flush=True,
        )
        print(f"Python {sys.version.split()[0]}, TMI {args.generation}, RSS at start {_rss_mb():.1f} MB")
        _report(
            f"One threat model: {args.threats} threats, {args.diagrams} diagrams x {args.cells} cells",
            lambda: portfolio_reader_refresh(organization, user_id=alice.pk, models={tm_id}),
            lambda: threat_model_report_get(organization=organization, user=alice, threat_model_id=tm_id),
            lambda report: threat_model_report_pdf(report, organization=organization, generated_at=generated_at),
        )
        _report(
            f"Portfolio report: {args.models} threat models",
            lambda: portfolio_reader_refresh(organization, user_id=alice.pk),
            lambda: portfolio_report_get(organization=organization, user=alice, filters={"name": "Bulk Model"}),
            lambda reports: portfolio_report_pdf(
                reports,
                organization=organization,
                title="Benchmark portfolio",
                filters_description="Name contains “Bulk Model”",
                generated_at=generated_at,
            ),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--threats", type=int, default=200)
    parser.add_argument("--diagrams", type=int, default=5)
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--models", type=int, default=50)
    args = parser.parse_args(argv)
    from bench.store import _configure_django

    with tempfile.TemporaryDirectory(prefix="portal-bench-export-") as workdir:
        undo = _configure_django(Path(workdir))
        try:
            run(args)
        finally:
            undo()
    sys.stdout.flush()
