"""Each page a stakeholder reads, on a laptop and on a phone, in Chromium: axe-core finds nothing, nothing is
wider than the screen, and a screenshot of each is kept (test-artifacts/browser/<test>/)."""

from __future__ import annotations

import pytest

from portal.devtools.browser import sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed
from tests.browser.axe import axe_violations
from tests.dashboard.conftest import find_model

VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def stakeholder_pages(payments_id: str) -> dict[str, str]:
    return {
        "overview": "/o/acme/",
        "threat-models": "/o/acme/threat-models/",
        "threat-model": f"/o/acme/threat-models/{payments_id}/",
        "register": "/o/acme/threats/",
        "register-critical-high": "/o/acme/threats/?severity=critical&severity=high",
        "register-all-states": "/o/acme/threats/?state=all&sort=changed",
        "changes-week": "/o/acme/changes/?period=week",
        "changes-visit": "/o/acme/changes/?period=visit",
        "trends": "/o/acme/trends/",
    }


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_stakeholder_page_passes_axe_and_fits_the_screen(
    viewport, sandbox, generation, live_portal, page, screenshot
):
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    page.set_viewport_size(VIEWPORTS[viewport])
    sign_in_with_test_idp(page, portal_url=live_portal, slug="acme", hint="alice")
    payments = find_model(sandbox, "Customer Payments API")
    found, too_wide = {}, {}
    for name, path in stakeholder_pages(payments["id"]).items():
        response = page.goto(live_portal + path)
        assert response.status == 200, (name, response.status)
        found[name] = axe_violations(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            too_wide[name] = overflow
        screenshot(page, f"{viewport}-{name}")
    assert not {name: v for name, v in found.items() if v}, found
    assert not too_wide, f"wider than a {viewport} screen by (px): {too_wide}"
