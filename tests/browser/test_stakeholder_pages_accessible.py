"""Each page a stakeholder reads, on a laptop and on a phone, in Chromium: axe-core finds nothing (no violation, and
nothing it leaves for a person to review), nothing is wider than the screen, no request is answered 404 and the
portal's icons are served; a screenshot of each is kept (test-artifacts/browser/<test>/). On a phone the tables
become cards with every value labelled, and a diagram opens over the whole screen and zooms (issue 17)."""

from __future__ import annotations

import re

import pytest

from portal.devtools.browser import sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed
from portal.tenant_admin.heartbeat import heartbeat_record
from portal.tenant_admin.models import Heartbeat
from tests.browser.axe import axe_problems
from tests.dashboard.conftest import find_model

VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PHONE = VIEWPORTS["phone"]


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
        "exports": "/o/acme/exports/",
    }


@pytest.fixture
def demo_world(sandbox, generation, live_portal):
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    heartbeat_record(name=Heartbeat.WORKER)  # an export's progress page reads "waiting to start", not "no worker"
    return live_portal


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_stakeholder_page_passes_axe_and_fits_the_screen(viewport, sandbox, demo_world, page, screenshot):
    portal = demo_world
    page.set_viewport_size(VIEWPORTS[viewport])
    missing: list[str] = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    found, too_wide, icons, grown = {}, {}, {"/favicon.ico"}, {}

    def audit(name: str) -> None:
        found[name] = axe_problems(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            too_wide[name] = overflow
        # A trend chart is drawn 640 wide: drawn wider, its text would grow past the page's own.
        widths = page.eval_on_selector_all("svg.chart-trend", "s => s.map(e => e.getBoundingClientRect().width)")
        if any(width > 641 for width in widths):
            grown[name] = widths
        icons.update(
            page.eval_on_selector_all(
                "link[rel~=icon], link[rel=apple-touch-icon]", "links => links.map(l => l.getAttribute('href'))"
            )
        )
        screenshot(page, f"{viewport}-{name}")

    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice", on_sign_in_page=lambda _: audit("login"))
    pages = stakeholder_pages(find_model(sandbox, "Customer Payments API")["id"])
    for name, path in pages.items():
        response = page.goto(portal + path)
        assert response.status == 200, (name, response.status)
        audit(name)
    page.goto(portal + "/o/acme/")
    page.goto(portal + page.locator("#what-next .flag-summary a").first.get_attribute("href"))
    audit("flag")  # a "what to do next" link: the register, filtered to what the flag counts
    page.goto(portal + pages["threat-model"])
    page.get_by_role("button", name="Export PDF").click()
    page.wait_for_url(f"{portal}/o/acme/exports/*/")
    audit("export-progress")
    page.wait_for_load_state("networkidle")

    assert not {name: v for name, v in found.items() if v}, found
    assert not too_wide, f"wider than a {viewport} screen by (px): {too_wide}"
    assert not grown, f"trend charts drawn wider than 640 px: {grown}"
    assert missing == [], f"answered 404: {missing}"
    # Headless Chromium fetches no icons by itself: ask for each one the pages name, and for /favicon.ico.
    assert {"/static/portal/favicon.svg", "/static/portal/favicon.ico", "/static/portal/apple-touch-icon.png"} <= icons
    for icon in sorted(icons):
        response = page.request.get(portal + icon)
        assert response.status == 200 and response.headers["content-type"].startswith("image/"), (icon, response)


CARDS = """tables => tables.map(table => {
  const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  return {id: table.id, headers, rows: [...table.querySelectorAll('tbody tr')].map(row => [...row.children].map(cell => {
    const box = cell.getBoundingClientRect(), before = getComputedStyle(cell, '::before');
    return {label: cell.dataset.label, display: getComputedStyle(cell).display, before: before.content,
            beforeShown: before.display !== 'none', left: box.left, right: box.right, clipped: cell.scrollWidth > cell.clientWidth,
            value: cell.innerText.trim()};
  }))};
})"""


def test_tables_become_cards_with_every_value_labelled_on_a_phone(sandbox, demo_world, page, screenshot):
    portal = demo_world
    page.set_viewport_size(PHONE)
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    model = find_model(sandbox, "Customer Payments API")["id"]
    seen = set()
    for name, path in {
        "threat-models": "/o/acme/threat-models/",
        "threat-model": f"/o/acme/threat-models/{model}/",
        "register": "/o/acme/threats/",
    }.items():
        page.goto(portal + path)
        tables = page.eval_on_selector_all("table.card-table", CARDS)
        assert tables, name
        for table in tables:
            assert table["rows"], (name, table["id"])
            for row in table["rows"]:
                assert [cell["label"] for cell in row] == table["headers"], (name, table["id"])
                for cell in row:
                    assert cell["display"] == "block" and cell["beforeShown"], (name, table["id"], cell)
                    assert "attr(data-label)" in cell["before"] or cell["label"] in cell["before"], cell
                    assert 0 <= cell["left"] and cell["right"] <= PHONE["width"], (name, table["id"], cell)
                    assert not cell["clipped"], (name, table["id"], cell)
            seen.add(table["id"])
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
        assert axe_problems(page) == [], name
        screenshot(page, f"phone-{name}")
    assert {"threat-model-table", "threat-table", "register-table"} <= seen


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_diagram_opens_over_the_whole_screen_and_zooms(viewport, sandbox, demo_world, page, screenshot):
    portal = demo_world
    size = VIEWPORTS[viewport]
    page.set_viewport_size(size)
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    page.goto(f"{portal}/o/acme/threat-models/{find_model(sandbox, 'Customer Payments API')['id']}/")
    figure = page.locator("figure.diagram").first
    name = figure.get_attribute("data-diagram-name")
    opener = figure.get_by_role("button", name=re.compile(rf"^Full screen\W+{re.escape(name)}$"))
    opener.click()

    dialog = page.get_by_role("dialog", name=name)
    assert dialog.is_visible()
    box = dialog.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, size["width"], size["height"])
    body = dialog.locator(".diagram-dialog-body")
    assert body.locator("svg.tmi-diagram").count() == 1 and figure.locator("svg").count() == 0  # moved, not copied
    assert dialog.locator("output").inner_text() == "100%"
    assert body.evaluate("b => b.scrollWidth <= b.clientWidth")  # fitted: nothing to scroll
    assert axe_problems(page) == []
    screenshot(page, f"{viewport}-diagram-full-screen", full_page=False)

    dialog.get_by_role("button", name="Zoom in").click()
    dialog.get_by_role("button", name="Zoom in").click()
    assert dialog.locator("output").inner_text() == "200%"
    fitted = body.evaluate("b => b.clientWidth")
    assert body.locator("svg").evaluate("svg => svg.getBoundingClientRect().width") > 1.8 * (fitted - 16)
    assert body.evaluate("b => b.scrollWidth > b.clientWidth")  # bigger than the screen: scroll to move around it
    body.evaluate("b => b.scrollTo(b.scrollWidth, 0)")
    assert body.evaluate("b => b.scrollLeft") > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]  # the page itself does not widen
    assert axe_problems(page) == []
    screenshot(page, f"{viewport}-diagram-zoomed", full_page=False)
    dialog.get_by_role("button", name="Zoom out").click()
    assert dialog.locator("output").inner_text() == "150%"
    dialog.get_by_role("button", name="Fit to screen").click()
    assert dialog.locator("output").inner_text() == "100%"

    page.keyboard.press("Escape")
    figure.locator("svg.tmi-diagram").wait_for()  # back in its place (the dialog's close event comes a moment later)
    assert not dialog.is_visible() and figure.locator("svg.tmi-diagram").count() == 1
    assert figure.locator("svg").evaluate("svg => svg.style.width") == ""
    assert opener.evaluate("button => document.activeElement === button")
