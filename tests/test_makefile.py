"""The two commands on a fresh machine: `make demo` checks what PDF reports need before anything runs (not
chromium, which only the tests need), and the install says what it is doing."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_make_demo_checks_pdf_needs_first_and_not_chromium(tmp_path):
    planned = make("-n", "demo", f"VENV={tmp_path / 'venv'}").stdout
    pango, demo = planned.index("libpango-1"), planned.index("manage.py demo")
    assert pango < planned.index("-m venv") < demo
    assert "chromium" not in planned
    tests = make("-n", "test", f"VENV={tmp_path / 'venv'}").stdout
    assert tests.index("libpango-1") < tests.index("/usr/bin/chromium") < tests.index("-m pytest")


def test_missing_pdf_needs_stop_make_with_what_to_install(tmp_path):
    done = make("pdf-deps", "INSTALL_SYSTEM_PACKAGES=no", f"FONT_DIRS={tmp_path}")  # no font in an empty folder
    assert done.returncode != 0
    assert "PDF reports need Pango and a font" in done.stderr
    assert "sudo apt-get install -y libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core" in done.stderr
    assert make("pdf-deps", "INSTALL_SYSTEM_PACKAGES=no").returncode == 0  # this machine has them


def test_the_install_prints_a_line_per_step_and_pip_its_own_progress(tmp_path):
    venv = tmp_path / "venv"
    planned = make("-n", f"{venv}/.installed", f"VENV={venv}").stdout.splitlines()
    steps = [line for line in planned if line.startswith('echo "==> [')]
    assert [step.split("]")[0] for step in steps] == ['echo "==> [1/3', 'echo "==> [2/3', 'echo "==> [3/3']
    install = next(line for line in planned if "pip install" in line and "-e '.[dev]'" in line)
    assert "--quiet" not in install and " -q" not in install  # pip lists what it fetches and installs
