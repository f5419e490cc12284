"""Where the official TMI contracts live: the OpenAPI and AsyncAPI documents of each generation, vendored
unchanged (tests/contract/test_specs.py compares them with the project's shared originals). The sandbox
validates requests against the same files."""

from __future__ import annotations

from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"


def openapi_path(generation: str) -> Path:
    return SPEC_DIR / f"tmi-{generation}-openapi.json"


def asyncapi_path(generation: str) -> Path:
    return SPEC_DIR / f"tmi-{generation}-asyncapi.yml"
