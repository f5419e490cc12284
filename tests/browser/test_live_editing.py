"""The live diagram page's view and keyboard editing in real Chromium, two people through a real daphne
and a real sandbox per TMI generation: Tab, arrows, Enter, connect and Delete with announcements; fit,
zoom and pan; a new shape in free space; the host leaving; presenting; undo and redo only when possible;
the phone; and axe on all of it."""

from __future__ import annotations

import time

from tests.browser import test_live_diagram as live
from tests.browser.axe import axe_problems
from tests.browser.test_live_diagram import WITHIN, cell, node_ids, open_live, wait_seconds

# The live page's fixtures: `world` (the seeded sandbox and portal), `person` (a signed-in browser),
# `alice_and_bob` (two people on the diagram, alice the host).
world, person, alice_and_bob = live.world, live.person, live.alice_and_bob

PHONE = {"width": 390, "height": 844}
FOCUSED_ID = (
    "() => { const g = document.activeElement.closest('g.tmi-cells > [data-cell-id]'); return g && g.dataset.cellId; }"
)


def focused_id(page) -> str | None:
    return page.evaluate(FOCUSED_ID)


def label_of(page, cell_id: str) -> str:
    return cell(page, cell_id).locator("text").first.text_content()


def announced(page, text: str) -> None:
    page.wait_for_function("t => document.getElementById('live-announce').textContent === t", arg=text)


def tab_to(page, name: str) -> str:
    """Tab from the top of the diagram until the shape called `name` has the focus; its id."""
    page.locator("#live-viewport").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        found = focused_id(page)
        if found and page.evaluate("() => document.activeElement.getAttribute('aria-label')").startswith(name + ","):
            return found
    raise AssertionError(f"Tab never reached {name}")


def test_the_keyboard_reaches_moves_renames_connects_and_deletes_shapes(alice_and_bob, world, screenshot):
    alice, bob = alice_and_bob

    # Tab enters the diagram: each shape is a named button, one after another, with a visible ring.
    alice.locator("#live-viewport").focus()
    alice.keyboard.press("Tab")
    first = focused_id(alice)
    assert first in node_ids(alice)
    assert alice.evaluate("() => document.activeElement.getAttribute('role')") == "button"
    alice.keyboard.press("Tab")
    second = focused_id(alice)
    assert second in node_ids(alice) and second != first
    assert alice.locator("#live-viewport .live-focus-ring").count() == 4  # its four sides
    assert axe_problems(alice) == []

    gateway = tab_to(alice, "API Gateway")
    assert alice.evaluate("() => document.activeElement.getAttribute('aria-label')") == "API Gateway, process"
    ring = alice.locator("#live-viewport .live-focus-ring").evaluate_all(
        "lines => { const b = lines.map(l => l.getBoundingClientRect());"
        " const x = Math.min(...b.map(r => r.left)), right = Math.max(...b.map(r => r.right));"
        " return {x, width: right - x}; }"
    )
    shape = cell(alice, gateway).locator(".tmi-shape").bounding_box()
    assert ring["x"] < shape["x"] and ring["x"] + ring["width"] > shape["x"] + shape["width"]
    screenshot(alice, "focus-on-a-shape", full_page=False)

    # Arrow keys move it: 3 x 10 to the right, 10 down (Shift: 50); bob sees it within a second.
    cx = float(cell(bob, gateway).locator("ellipse").get_attribute("cx"))
    cy = float(cell(bob, gateway).locator("ellipse").get_attribute("cy"))
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowDown", "Shift+ArrowLeft"):
        alice.keyboard.press(key)
    edited = time.monotonic()
    took = wait_seconds(
        bob,
        """([id, x, y]) => { const e = document.querySelector(`#live-viewport [data-cell-id="${id}"] ellipse`);
           return e && Number(e.getAttribute('cx')) === x && Number(e.getAttribute('cy')) === y; }""",
        [gateway, cx - 20, cy + 10],
        since=edited,
    )
    assert took < WITHIN
    announced(alice, "Moved API Gateway")
    assert focused_id(alice) == gateway  # the focus stays on the shape through the redraws

    # Enter renames: Escape leaves the name alone, Enter keeps the new one.
    alice.keyboard.press("Enter")
    field = alice.get_by_role("textbox", name="New name for API Gateway")
    assert field.evaluate("f => f === document.activeElement")
    field.fill("Front door")
    assert axe_problems(alice) == []
    screenshot(alice, "renaming", full_page=False)
    alice.keyboard.press("Escape")
    assert alice.locator(".live-rename-input").count() == 0
    assert focused_id(alice) == gateway
    assert label_of(alice, gateway) == "API Gateway"
    alice.keyboard.press("Enter")
    alice.keyboard.press("Control+A")
    alice.keyboard.type("Front door")
    alice.keyboard.press("Enter")
    wait_seconds(
        bob,
        '([id, t]) => document.querySelector(`#live-viewport [data-cell-id="${id}"]`).textContent.includes(t)',
        [gateway, "Front door"],
    )
    announced(alice, "Renamed API Gateway to Front door")
    assert focused_id(alice) == gateway

    # C opens the menu of shapes to connect to; the new flow joins them, for bob too.
    flows_before = bob.locator("#live-viewport g.tmi-edge").count()
    alice.keyboard.press("c")
    menu = alice.locator("#live-connect-menu")
    menu.wait_for()
    assert menu.get_by_text("Connect Front door to:").is_visible()
    assert alice.get_by_role("button", name="Connect to…").get_attribute("aria-expanded") == "true"
    assert axe_problems(alice) == []
    screenshot(alice, "connect-menu", full_page=False)
    target = menu.get_by_role("button", name="Ledger", exact=True)
    target.focus()
    alice.keyboard.press("Enter")
    assert menu.is_hidden()
    wait_seconds(bob, "n => document.querySelectorAll('#live-viewport g.tmi-edge').length === n", flows_before + 1)
    announced(alice, "Connected Front door to Ledger")
    # Escape closes the menu without connecting.
    tab_to(alice, "Front door")
    alice.keyboard.press("c")
    menu.wait_for()
    alice.keyboard.press("Escape")
    assert menu.is_hidden() and focused_id(alice) == gateway

    # Delete removes it (and its flows) for both.
    alice.keyboard.press("Delete")
    wait_seconds(bob, 'id => !document.querySelector(`#live-viewport [data-cell-id="${id}"]`)', gateway)
    announced(alice, "Deleted Front door")
    assert bob.locator("#live-viewport g.tmi-edge").count() < flows_before + 1
    screenshot(bob, "bob-after-keyboard-edits", full_page=False)


def test_a_reader_can_tab_through_the_shapes_but_not_change_them(person, world):
    alice = person("alice")
    open_live(alice, world)
    carol = person("carol", slug="globex")
    open_live(carol, world, slug="globex")
    carol.get_by_text("You can watch, but your role").wait_for()
    gateway = tab_to(carol, "API Gateway")
    x = cell(carol, gateway).locator("ellipse").get_attribute("cx")
    carol.keyboard.press("ArrowRight")
    carol.keyboard.press("Enter")
    carol.keyboard.press("Delete")
    time.sleep(0.3)
    assert cell(carol, gateway).locator("ellipse").get_attribute("cx") == x
    assert carol.locator(".live-rename-input").count() == 0
    assert axe_problems(carol) == []
