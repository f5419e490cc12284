"""The README's screenshots, taken in chromium from a demo started for the purpose."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from portal.devtools.browser import VIEWPORT, chromium_launch, sign_in_with_test_idp
from portal.devtools.processes import Child, free_port, manage_py

# A seeded model alice owns, with threats of several severities and three diagrams.
SHOWCASE_MODEL = "Customer Payments API"


def readme_screenshots_take(page, *, portal_url: str, out_dir: Path) -> list[Path]:
    """Sign in to acme as alice and save portfolio.png, threat-models.png and threat-model.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sign_in_with_test_idp(page, portal_url=portal_url, slug="acme", hint="alice")
    page.locator("#status-chart svg").wait_for()
    shots = [out_dir / "portfolio.png", out_dir / "threat-models.png", out_dir / "threat-model.png"]
    page.screenshot(path=str(shots[0]), full_page=True)

    page.goto(f"{portal_url}/o/acme/threat-models/")
    page.screenshot(path=str(shots[1]), full_page=True)

    page.get_by_role("link", name=SHOWCASE_MODEL).click()
    first_diagram = page.locator("figure.diagram").first
    first_diagram.wait_for()
    # The summary, the threats and the first diagram; the rest of a long page adds nothing to a README.
    box = first_diagram.bounding_box()
    page.screenshot(
        path=str(shots[2]),
        full_page=True,
        clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": box["y"] + box["height"] + 24},
    )
    return shots


def readme_screenshots_refresh(*, out_dir: Path, tmi_version: str = "1.8") -> list[Path]:
    """Start the demo on free ports with a throw-away database, photograph it, stop it."""
    from playwright.sync_api import sync_playwright

    portal_port, sandbox_port = free_port(), free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{scratch}/demo.sqlite3",
            "PORTAL_VAR_DIR": scratch,
            "PYTHONUNBUFFERED": "1",
        }
        demo = Child(
            "demo",
            manage_py(
                "demo",
                "--port",
                str(portal_port),
                "--sandbox-port",
                str(sandbox_port),
                "--tmi-version",
                tmi_version,
                "--no-worker",
            ),
            ready_url=f"{portal_url}/healthz/",
        )
        demo.start(env)
        try:
            demo.wait_ready(timeout=120)
            with sync_playwright() as playwright:
                browser = chromium_launch(playwright)
                page = browser.new_context(viewport=VIEWPORT, locale="en-GB").new_page()
                shots = readme_screenshots_take(page, portal_url=portal_url, out_dir=out_dir)
                browser.close()
        finally:
            demo.stop()
    return shots
