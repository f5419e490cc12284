"""How much CPU, and how much memory, does a PDF export take?

    python -m bench export [--generation 1.8|0.217] [--threats 200] [--diagrams 5] [--cells 300] [--models 50]
                           [--before GITREF] [--pdfs DIR] [--profile] [--json PATH]

Starts a sandbox seeded with `bulk:<models>` small threat models and a portal on a temporary database (as
`python -m bench store` makes it: SQLite, or a scratch database beside DATABASE_URL's), with alice a member whose
tokens sit in the vault, and builds one large threat model through the TMI client: `--threats` threats and
`--diagrams` diagrams of `--cells` cells each (two thirds nodes, one third flows). Then, for the large model
alone and for a portfolio report of the `--models` bulk models, it prints the export worker's phases: the
refresh (the store made fresh from TMI with alice's access; first when the store is empty, then again with
nothing changed) and the read (the report selectors over the store), in seconds; and the render, in a fresh
Python process of its own (Django set up, the report data loaded, the PDF laid out and written): its CPU
seconds (user + system; a loaded machine stretches wall time, much less CPU time) and its peak RSS.

`--before GITREF` renders both reports with the portal's code at GITREF too (portal/ and templates/ from git),
in the same run and from the same data, prints its figures beside this checkout's, and says whether every page
holds the same words (line breaks aside) and whether the line breaks are the same too. `--pdfs DIR` keeps the
PDFs (and the pickled report data) there, to look at. `--profile` prints cProfile's view of the render.
`--json PATH` writes the figures as one JSON object: model_cpu_s, model_peak_mb, portfolio_cpu_s,
portfolio_peak_mb (and before_* with --before, pages, PDF sizes, refresh and read seconds).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import figures_write, json_option

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
    """This process's peak RSS (VmHWM: since its exec; ru_maxrss would carry the parent's over a fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its children that ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _measure(action: Callable[[], Any]) -> tuple[Any, float]:
    """(result, wall seconds)."""
    gc.collect()
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def _pages(pdf: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def pdf_text(pdf: bytes) -> list[str]:
    """Each page's text, as pypdf extracts it: what a reader of the PDF reads."""
    import io

    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def reads_the_same(before: list[str], after: list[str]) -> bool:
    """The same words on the same pages: line breaks aside (a table's column widths move them; a word broken
    after its hyphen is the same word)."""

    def words(page: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"-\s+", "-", page)).strip()

    return len(before) == len(after) and all(words(b) == words(a) for b, a in zip(before, after, strict=True))


# -- the render, in a fresh child process ------------------------------------------------------------------------
def _code_tree(ref: str, into: Path) -> Path:
    """The portal's code (portal/, templates/) as it was at git `ref`, for rendering with it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", ref, "portal", "templates"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _render_child(job: Path, *, code: Path | None, profile: bool) -> dict:
    """Renders the pickled job in a new Python process (run with the portal's code from `code`, or this
    checkout's) so that its CPU time and peak RSS are the render's alone: Django set up, the report data
    loaded, the PDF laid out and written."""
    import json
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-c", "import sys; from bench.export import render_main; render_main(sys.argv[1:])"]
    command += [str(job)] + (["--profile"] if profile else [])
    done = subprocess.run(command, cwd=code or root, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the render process failed:\n{done.stdout}\n{done.stderr}")
    if profile:
        print(done.stderr, flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def render_main(argv: list[str]) -> None:
    """The child: python -c '...render_main(...)' JOB [--profile]. Prints one JSON line."""
    import json
    import pickle

    job_path = Path(argv[0])
    started_cpu = _cpu_s()
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    import django

    django.setup()
    from portal.reports import render as rendering

    job = pickle.loads(job_path.read_bytes())
    function = getattr(rendering, job["function"])
    gc.collect()
    before_cpu, started = _cpu_s(), time.perf_counter()
    if "--profile" in argv:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        pdf = profiler.runcall(function, *job["args"], **job["kwargs"])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    else:
        pdf = function(*job["args"], **job["kwargs"])
    cpu, wall = _cpu_s() - before_cpu, time.perf_counter() - started
    pdf_path = job_path.with_suffix(f".{os.getpid()}.pdf")
    pdf_path.write_bytes(pdf)
    figures = {
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "setup_cpu_s": round(before_cpu - started_cpu, 2),
        "peak_mb": round(_peak_rss_mb(), 1),
        "pdf": str(pdf_path),
    }
    print(json.dumps(figures), flush=True)


def _report(
    label: str,
    key: str,
    refresh: Callable[[], Any],
    read: Callable[[], Any],
    job: Callable[[Any], dict],
    *,
    workdir: Path,
    before: Path | None,
    profile: bool,
    keep: Path | None,
) -> dict:
    import pickle

    first, first_s = _measure(refresh)
    again, again_s = _measure(refresh)
    data, read_s = _measure(read)
    job_path = workdir / f"{key}.pickle"
    job_path.write_bytes(pickle.dumps(job(data)))
    runs = {}
    if before:
        runs["before"] = _render_child(job_path, code=before, profile=False)
    runs["after"] = _render_child(job_path, code=None, profile=profile)
    pdf = Path(runs["after"]["pdf"]).read_bytes()
    if keep:
        import shutil

        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(job_path, keep / job_path.name)
        for when, result in runs.items():
            shutil.copy(result["pdf"], keep / f"{key}-{when}.pdf")
    figures = {
        f"{key}_cpu_s": runs["after"]["cpu_s"],
        f"{key}_peak_mb": runs["after"]["peak_mb"],
        f"{key}_render_wall_s": runs["after"]["wall_s"],
        f"{key}_pdf_mb": round(len(pdf) / 2**20, 2),
        f"{key}_pages": _pages(pdf),
        f"{key}_refresh_s": round(first_s, 2),
        f"{key}_refresh_again_s": round(again_s, 2),
        f"{key}_read_s": round(read_s, 2),
    }
    print(f"{label}")
    print(f"  refresh {first_s:7.2f} s   from TMI into the store, empty before ({first.calls} TMI calls)")
    print(f"  refresh {again_s:7.2f} s   again, nothing changed ({again.calls} TMI calls)")
    print(f"  read    {read_s:7.2f} s   (the store, no TMI call)")
    if before:
        old = runs["before"]
        old_pdf = Path(old["pdf"]).read_bytes()
        old_text, new_text = pdf_text(old_pdf), pdf_text(pdf)
        figures.update(
            {
                f"before_{key}_cpu_s": old["cpu_s"],
                f"before_{key}_peak_mb": old["peak_mb"],
                f"before_{key}_pages": _pages(old_pdf),
                f"{key}_same_text_as_before": reads_the_same(old_text, new_text),
                f"{key}_same_lines_as_before": old_text == new_text,
            }
        )
        print(
            f"  render before {old['cpu_s']:7.2f} s CPU   peak RSS {old['peak_mb']:7.1f} MB   "
            f"({old['wall_s']:.2f} s wall; code of {before.name})"
        )
    print(
        f"  render        {figures[f'{key}_cpu_s']:7.2f} s CPU   peak RSS {figures[f'{key}_peak_mb']:7.1f} MB   "
        f"({runs['after']['wall_s']:.2f} s wall; a fresh process: Django, the report data, the PDF)"
    )
    if before:
        same, lines = figures[f"{key}_same_text_as_before"], figures[f"{key}_same_lines_as_before"]
        print(
            f"  the same words on every page as before: {'yes' if same else 'NO'}"
            f" (line breaks {'the same too' if lines else 'moved'})"
        )
    print(f"  PDF {figures[f'{key}_pdf_mb']:.2f} MB, {figures[f'{key}_pages']} pages", flush=True)
    return figures


def run(args: argparse.Namespace, workdir: Path) -> dict:
    from bench.store import _member
    from portal.accounts.vault import tmi_client
    from portal.organizations.models import Organization
    from portal.portfolio.selectors import portfolio_report_get, threat_model_report_get
    from portal.portfolio.sync import portfolio_reader_refresh
    from portal.sandbox.config import SandboxConfig
    from portal.sandbox.server import SandboxServer

    before = _code_tree(args.before, workdir / "code-before") if args.before else None
    figures: dict[str, Any] = {
        "generation": args.generation,
        "threats": args.threats,
        "diagrams": args.diagrams,
        "cells": args.cells,
        "models": args.models,
        "before": args.before,
    }
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
        keep = Path(args.pdfs) if args.pdfs else None
        common = {"workdir": workdir, "before": before, "profile": args.profile, "keep": keep}
        figures |= _report(
            f"One threat model: {args.threats} threats, {args.diagrams} diagrams x {args.cells} cells",
            "model",
            lambda: portfolio_reader_refresh(organization, user_id=alice.pk, models={tm_id}),
            lambda: threat_model_report_get(organization=organization, user=alice, threat_model_id=tm_id),
            lambda report: {
                "function": "threat_model_report_pdf",
                "args": (report,),
                "kwargs": {"organization": organization, "generated_at": generated_at},
            },
            **common,
        )
        figures |= _report(
            f"Portfolio report: {args.models} threat models",
            "portfolio",
            lambda: portfolio_reader_refresh(organization, user_id=alice.pk),
            lambda: portfolio_report_get(organization=organization, user=alice, filters={"name": "Bulk Model"}),
            lambda reports: {
                "function": "portfolio_report_pdf",
                "args": (reports,),
                "kwargs": {
                    "organization": organization,
                    "title": "Benchmark portfolio",
                    "filters_description": "Name contains “Bulk Model”",
                    "generated_at": generated_at,
                },
            },
            **common,
        )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generation", choices=["1.8", "0.217"], default="1.8")
    parser.add_argument("--threats", type=int, default=200)
    parser.add_argument("--diagrams", type=int, default=5)
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument(
        "--before",
        metavar="GITREF",
        help="also render both reports with the portal's code at GITREF (e.g. main), in the same run: "
        "its figures beside this checkout's, and whether every page reads the same",
    )
    parser.add_argument(
        "--pdfs", metavar="DIR", help="keep the PDFs made (and the report data they were made from) in DIR"
    )
    parser.add_argument("--profile", action="store_true", help="print where the render's time goes (cProfile)")
    json_option(parser)
    args = parser.parse_args(argv)
    from bench.store import _configure_django

    with tempfile.TemporaryDirectory(prefix="portal-bench-export-") as workdir:
        undo = _configure_django(Path(workdir))
        try:
            figures = run(args, Path(workdir))
        finally:
            undo()
    figures_write(figures, args.json)
    sys.stdout.flush()
