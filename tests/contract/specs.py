"""Where the official TMI contracts live: the vendored copies, and the shared originals they mirror."""

from __future__ import annotations

from pathlib import Path

import portal.sandbox

VENDORED_DIR = Path(portal.sandbox.__file__).parent / "specs"
# The project's shared folder sits beside the repository (here and in CI).
SHARED_DIR = Path(__file__).resolve().parents[3] / "shared" / "tmi"

# Vendored file name -> the shared original it must equal byte for byte.
SHARED_ORIGINALS: dict[str, Path] = {
    "tmi-1.8-openapi.json": SHARED_DIR / "tmi-openapi.json",
    "tmi-1.8-asyncapi.yml": SHARED_DIR / "tmi-asyncapi.yml",
    "tmi-0.217-openapi.json": SHARED_DIR / "guide-era" / "tmi-openapi.json",
    "tmi-0.217-asyncapi.yml": SHARED_DIR / "guide-era" / "tmi-asyncapi.yml",
}


def openapi_path(generation: str) -> Path:
    return VENDORED_DIR / f"tmi-{generation}-openapi.json"


def asyncapi_path(generation: str) -> Path:
    return VENDORED_DIR / f"tmi-{generation}-asyncapi.yml"
