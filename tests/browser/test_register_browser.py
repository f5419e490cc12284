"""The threat register in real Chromium: alice filters it with the form, removes a filter by its chip, and the page
passes axe-core with nothing found (no violation, nothing left for review), on a desktop and on a 390 px phone (where
each threat becomes a card, every value labelled with its column's name)."""

from __future__ import annotations

import re

import pytest

from portal.devtools.browser import sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed
from tests.browser.axe import axe_problems


@pytest.fixture
def demo_world(sandbox, generation, live_portal):
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    return live_portal


def no_axe_problems(page) -> None:
    assert axe_problems(page) == []


def count_of(page) -> int:
    return int(re.match(r"(\d+) ", page.locator("#match-count").inner_text()).group(1))


def test_alice_filters_the_register_on_a_desktop_and_reads_it_as_cards_on_a_phone(demo_world, page, screenshot):
    portal = demo_world
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    page.get_by_role("link", name="Threats", exact=True).click()
    page.wait_for_url(f"{portal}/o/acme/threats/")
    everything = count_of(page)
    assert everything > 0 and page.locator("#register-table tbody tr").count() == min(everything, 25)
    no_axe_problems(page)
    screenshot(page, "register")

    page.get_by_label("Critical").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*[?&]severity=critical"))
    critical = count_of(page)
    assert critical < everything
    assert page.locator("#register-table tbody .badge").all_inner_texts() == ["Critical"] * min(critical, 25)
    no_axe_problems(page)

    page.get_by_role("link", name=re.compile("Severity: Critical")).click()
    page.wait_for_url(f"{portal}/o/acme/threats/?")
    assert count_of(page) == everything

    page.set_viewport_size({"width": 390, "height": 844})
    first = page.locator("#register-table tbody tr").first
    assert first.evaluate("row => getComputedStyle(row).display") == "block"  # a card, not a table row
    assert page.locator("#register-table thead").evaluate("head => head.getBoundingClientRect().width") <= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    headers = page.locator("#register-table thead th").evaluate_all("ths => ths.map(th => th.textContent.trim())")
    assert [cell.get_attribute("data-label") for cell in first.locator("th, td").all()] == headers  # each value named
    no_axe_problems(page)
    screenshot(page, "register-phone")
