"""The vendored contracts (portal/conformance/specs) and the shared originals they mirror."""

from __future__ import annotations

from pathlib import Path

from portal.conformance.contract.specs import SPEC_DIR as VENDORED_DIR  # noqa: F401 (test_specs reads it here)

# The project's shared folder sits beside the repository (here and in CI).
SHARED_DIR = Path(__file__).resolve().parents[3] / "shared" / "tmi"

# Vendored file name -> the shared original it must equal byte for byte.
SHARED_ORIGINALS: dict[str, Path] = {
    "tmi-1.8-openapi.json": SHARED_DIR / "tmi-openapi.json",
    "tmi-1.8-asyncapi.yml": SHARED_DIR / "tmi-asyncapi.yml",
    "tmi-0.217-openapi.json": SHARED_DIR / "guide-era" / "tmi-openapi.json",
    "tmi-0.217-asyncapi.yml": SHARED_DIR / "guide-era" / "tmi-asyncapi.yml",
}
