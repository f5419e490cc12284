"""Driving the portal in Debian's chromium with Playwright: for the browser tests and the README's
screenshots. Playwright is a development dependency; its own browsers are never downloaded."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
MISSING_CHROMIUM = (
    f"Debian's chromium is needed at {CHROMIUM}: install it with `apt-get install -y chromium` "
    "(`make test` does it when run as root)."
)
VIEWPORT = {"width": 1280, "height": 900}


def chromium_launch(playwright):
    """Headless chromium from the system, or RuntimeError saying what to install."""
    if not CHROMIUM.exists():
        raise RuntimeError(MISSING_CHROMIUM)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS))


def sign_in_with_test_idp(
    page, *, portal_url: str, slug: str, hint: str, on_sign_in_page: Callable[[Any], object] | None = None
) -> None:
    """Sign in as a person would: open the organisation's overview, get sent to its sign-in page,
    type the login hint into the test IdP's form and follow TMI's redirect back to the overview.
    `on_sign_in_page(page)` runs once the hint is typed (the tests take a screenshot there)."""
    overview = f"{portal_url}/o/{slug}/"
    page.goto(overview)
    if not page.url.startswith(f"{portal_url}/o/{slug}/login/"):
        raise AssertionError(f"{overview} did not send an anonymous visitor to sign in (at {page.url})")
    test_idp = page.locator("form.provider-form").filter(has=page.locator("input[name=login_hint]"))
    test_idp.get_by_label(re.compile("login hint", re.IGNORECASE)).fill(hint)  # labelled, as it must be
    if on_sign_in_page is not None:
        on_sign_in_page(page)
    with page.expect_response(lambda response: response.url == overview) as landing:
        test_idp.get_by_role("button").click()
    if landing.value.status != 200:
        raise AssertionError(f"signed in as {hint}, but {overview} answered {landing.value.status}")
    page.wait_for_load_state()
