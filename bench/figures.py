"""Every benchmark prints its figures for people and, with `--json PATH`, writes them there as one JSON object
for machines (CI, comparisons across runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH, as one JSON object")


def figures_write(figures: dict, path: str | None) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=2, default=str) + "\n")
