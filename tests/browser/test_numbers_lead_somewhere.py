"""Every number a stakeholder sees on the overview and a model page opens the list of exactly what it counts,
and that list says the same number. Clicked in Chromium, against a sandbox per TMI generation, with the counts
worked out again from the sandbox's own state (tests/dashboard/conftest.py), not from the portal's code."""

from __future__ import annotations

import re

import pytest

from portal.devtools.browser import sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed
from tests.dashboard.conftest import find_model, open_severities, readable_models, status_counts

PAYMENTS = "Customer Payments API"  # seeded by portal/sandbox/seed.py: alice owns it


@pytest.fixture
def alice_on_the_overview(sandbox, generation, live_portal, page) -> str:
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    sign_in_with_test_idp(page, portal_url=live_portal, slug="acme", hint="alice")
    page.locator("#status-chart svg").wait_for()
    return live_portal


def links_of(page, selector: str) -> list[tuple[str, int]]:
    """(address, the number the link says it counts) of each link in `selector`."""
    found = []
    for link in page.locator(selector).all():
        number = re.search(r": (\d+),", link.get_attribute("aria-label") or "")
        assert number, link.get_attribute("aria-label")
        found.append((link.get_attribute("href"), int(number.group(1))))
    return found


def count_shown(page, portal: str, href: str) -> int:
    page.goto(portal + href)
    return int(page.locator("#match-count").get_attribute("data-count"))


def test_every_bar_of_the_overview_opens_a_list_with_its_count(alice_on_the_overview, page, sandbox, screenshot):
    portal = alice_on_the_overview
    models = readable_models(sandbox, "alice")
    severities, statuses = open_severities(models), status_counts(models)

    by_status = links_of(page, "#status-chart a.chart-link")
    by_severity = links_of(page, "#severity-chart a.chart-link")
    # One link per status and severity that has something, carrying the count the sandbox's state gives.
    assert sorted(n for _, n in by_status) == sorted(n for n in statuses.values() if n)
    assert sorted(n for _, n in by_severity) == sorted(n for n in severities.values() if n)
    assert {re.search(r"severity=(\w+)", href).group(1) for href, _ in by_severity} == {
        key for key, n in severities.items() if n
    }
    screenshot(page, "overview")

    for href, number in by_status + by_severity:
        assert count_shown(page, portal, href) == number, href

    page.goto(f"{portal}/o/acme/")
    lead = page.locator(".page-head .lead a")
    assert lead.count() == 2
    models_href, threats_href = lead.nth(0).get_attribute("href"), lead.nth(1).get_attribute("href")
    assert count_shown(page, portal, models_href) == len(models)
    assert count_shown(page, portal, threats_href) == sum(severities.values())


def test_the_riskiest_models_and_a_models_chart_open_its_threats(alice_on_the_overview, page, sandbox):
    portal = alice_on_the_overview
    riskiest = [
        (link.get_attribute("href"), int(re.search(r"(\d+) open threat", link.inner_text()).group(1)))
        for link in page.locator("#riskiest a.meta").all()
    ]
    assert riskiest
    for href, number in riskiest:
        assert count_shown(page, portal, href) == number, href

    payments = find_model(sandbox, PAYMENTS)
    page.goto(f"{portal}/o/acme/threat-models/{payments['id']}/")
    expected = open_severities([payments])
    bars = links_of(page, "figure.chart-figure a.chart-link")
    assert sorted(n for _, n in bars) == sorted(n for n in expected.values() if n)
    for href, number in bars:
        assert f"model={payments['id']}" in href
        assert count_shown(page, portal, href) == number, href


def test_the_model_lists_status_choices_say_how_many_and_lead_to_that_many(alice_on_the_overview, page, sandbox):
    portal = alice_on_the_overview
    statuses = status_counts(readable_models(sandbox, "alice"))
    page.goto(f"{portal}/o/acme/threat-models/")
    options = page.locator("#status option").all()
    offered = {o.get_attribute("value"): o.inner_text() for o in options if o.get_attribute("value")}
    assert set(offered) == {key or "(none)" for key, n in statuses.items() if n}
    for key, text in offered.items():
        number = int(re.search(r"\((\d+)\)$", text).group(1))
        assert number == statuses["" if key == "(none)" else key]
        assert count_shown(page, portal, f"/o/acme/threat-models/?status={key}") == number


def test_every_flag_opens_a_list_with_its_count(alice_on_the_overview, page):
    """What to do next: each group's sentence and each model's line open the register or the model list filtered
    to exactly what they count (a model's own line may open its page instead: one model, nothing to count)."""
    portal = alice_on_the_overview
    flags = [
        (link.get_attribute("href"), int(link.get_attribute("data-count")))
        for link in page.locator("#what-next a[data-count]").all()
    ]
    listed = [(href, n) for href, n in flags if not re.search(r"/threat-models/[0-9a-f-]{36}/", href)]
    assert len(listed) >= 4, flags  # the seed gives every kind of flag (portal/sandbox/seed.py)
    for href, number in listed:
        assert count_shown(page, portal, href) == number, href
