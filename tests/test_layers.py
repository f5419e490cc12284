"""The architecture's arrows hold: import-linter's contracts (pyproject.toml, [tool.importlinter]), and
production settings load neither the sandbox nor the devtools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


PROBE = """
import json, sys
import django
django.setup()
from django.conf import settings
import portal.urls, portal.asgi, portal.celery
print(json.dumps({"apps": settings.INSTALLED_APPS,
                  "loaded": sorted(m for m in sys.modules if m.startswith(("portal.sandbox", "portal.devtools")))}))
"""


def _loaded_with(**env: str) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_DEBUG", "PORTAL_DEVTOOLS", "DJANGO_SECRET_KEY", "PORTAL_FIELD_ENCRYPTION_SALT"}
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_load_neither_the_sandbox_nor_the_devtools():
    probe = _loaded_with(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_SECRET_KEY="a-production-key-" + "x" * 40,
        PORTAL_FIELD_ENCRYPTION_SALT="a-production-salt",
    )
    assert "portal.devtools" not in probe["apps"]
    assert probe["loaded"] == []


def test_a_development_machine_has_the_devtools():
    probe = _loaded_with(DJANGO_SETTINGS_MODULE="portal.settings", DJANGO_DEBUG="true")
    assert "portal.devtools" in probe["apps"]
