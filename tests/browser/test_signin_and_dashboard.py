"""A stakeholder's walk through the portal in real Chromium, against a real sandbox per TMI generation:
sign in through TMI's test IdP, read the portfolio charts, filter the list, open a threat model and
its diagram, sign out; and a member of another organisation cannot reach acme's pages."""

from __future__ import annotations

import re

import pytest

from portal.devtools.browser import sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed

# Seeded by portal/sandbox/seed.py: alice owns it, carol may read it at TMI (but is not in acme).
PAYMENTS = "Customer Payments API"


@pytest.fixture
def demo_world(sandbox, generation, live_portal):
    """The demo's organisations on this test's sandbox: acme (alice owner, bob member), globex (carol)."""
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    return live_portal


def bar_values(chart) -> list[int]:
    return [int(text) for text in chart.locator("text.chart-value").all_text_contents()]


def table_names(page) -> list[str]:
    return page.locator("#threat-model-table tbody th[scope=row]").all_inner_texts()


def test_alice_signs_in_reads_the_portfolio_filters_opens_a_diagram_and_signs_out(demo_world, page, screenshot):
    portal = demo_world
    sign_in_with_test_idp(
        page, portal_url=portal, slug="acme", hint="alice", on_sign_in_page=lambda page: screenshot(page, "sign-in")
    )
    screenshot(page, "portfolio")

    # The two charts are inline SVG drawn from TMI's data.
    status_chart = page.locator("#status-chart svg")
    severity_chart = page.locator("#severity-chart svg")
    assert status_chart.get_attribute("role") == "group"  # of links, one per status with models
    assert status_chart.locator("a.chart-link").count() > 0
    assert status_chart.locator("rect.bar").count() > 0 and sum(bar_values(status_chart)) > 0
    assert severity_chart.locator("rect.bar").count() > 0 and sum(bar_values(severity_chart)) > 0
    assert page.locator("#riskiest li").count() > 0

    page.get_by_role("link", name="See all threat models").click()
    page.wait_for_url(f"{portal}/o/acme/threat-models/")
    everything = table_names(page)
    assert PAYMENTS in everything and len(everything) > 1
    screenshot(page, "threat-models")

    page.get_by_label("Search by name").fill("payments")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*[?&]q=payments"))
    found = table_names(page)
    assert PAYMENTS in found and len(found) < len(everything)
    assert all("payments" in name.lower() for name in found)
    screenshot(page, "search-payments")

    page.get_by_label("Search by name").fill("")
    status_select = page.get_by_label("Status", exact=True)
    chosen = status_select.locator("option").nth(1)  # the first real status after "Any status"
    chosen_label = re.sub(r" \(\d+\)$", "", chosen.inner_text().strip())  # "In progress (3)": 3 models
    status_select.select_option(chosen.get_attribute("value"))
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*[?&]status="))
    statuses = page.locator("#threat-model-table tbody td .status").all_inner_texts()
    assert statuses and all(status.strip() == chosen_label for status in statuses)
    assert len(statuses) < len(everything)
    screenshot(page, "status-filter")

    page.goto(f"{portal}/o/acme/threat-models/")
    page.get_by_role("link", name=PAYMENTS).click()
    page.wait_for_url(re.compile(rf"{re.escape(portal)}/o/acme/threat-models/[0-9a-f-]{{36}}/"))
    assert page.get_by_role("heading", level=1).inner_text().strip().startswith(PAYMENTS)
    diagram = page.locator("#diagrams .diagram-canvas svg").first
    diagram.wait_for()
    assert diagram.locator("g.tmi-node").count() >= 3
    assert diagram.locator("g.tmi-edge").count() >= 1
    screenshot(page, "threat-model")

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    page.goto(f"{portal}/o/acme/")
    assert page.url.startswith(f"{portal}/o/acme/login/")
    screenshot(page, "signed-out")


def test_carol_of_globex_cannot_reach_acmes_pages(demo_world, page, screenshot):
    portal = demo_world
    sign_in_with_test_idp(
        page, portal_url=portal, slug="globex", hint="carol", on_sign_in_page=lambda page: screenshot(page, "sign-in")
    )
    screenshot(page, "globex-portfolio")
    # carol may read the payments model at TMI, through her own organisation.
    page.goto(f"{portal}/o/globex/threat-models/")
    payments_url = page.get_by_role("link", name=PAYMENTS).get_attribute("href")
    assert payments_url.startswith("/o/globex/threat-models/")
    model_id = payments_url.rstrip("/").rsplit("/", 1)[1]

    for path in ("/o/acme/", "/o/acme/threat-models/", f"/o/acme/threat-models/{model_id}/"):
        response = page.goto(f"{portal}{path}")
        assert response.status == 404, path
        assert PAYMENTS not in page.content(), path  # nothing of acme's data leaks into the 404 page
    screenshot(page, "acme-is-404")
