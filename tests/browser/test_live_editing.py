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


def person_item(page, name: str):
    return page.locator(".live-person", has=page.locator(".live-person-name", has_text=name))


def test_when_the_host_leaves_the_page_says_so_and_who_is_still_here(alice_and_bob, screenshot):
    alice, bob = alice_and_bob
    person_item(bob, "Alice").locator(".live-badge-host").wait_for()
    alice.close()
    ended = bob.locator("#live-ended")
    ended.wait_for()
    assert "host left" in ended.inner_text()
    people = bob.locator("#live-ended .live-ended-people")
    assert people.inner_text().startswith("Alice")
    assert "(the host) left. Still on this page when the session ended: Bob" in people.inner_text()
    assert people.inner_text().endswith("(you).")
    # The old host is no longer listed, nor anyone as host or presenter.
    assert person_item(bob, "Alice").count() == 0
    assert person_item(bob, "Bob").count() == 1
    assert bob.locator(".live-badge-host, .live-badge-presenter").count() == 0
    assert bob.locator("#live-presenting").is_hidden()
    assert axe_problems(bob) == []
    screenshot(bob, "host-left")


def badges(page, name: str) -> list[str]:
    return person_item(page, name).locator(".live-badge").all_inner_texts()


def test_after_a_hand_over_only_the_current_presenter_is_shown(alice_and_bob, screenshot):
    alice, bob = alice_and_bob
    bob.locator("#live-presenting").wait_for()
    assert bob.locator("#live-presenting").inner_text().startswith("Alice")
    assert bob.locator("#live-presenting").inner_text().endswith("is presenting.")
    alice.get_by_role("button", name="Let Bob").click()
    bob.locator("#live-presenting", has_text="You are presenting").wait_for()
    alice.locator("#live-presenting", has_text="Bob").wait_for()
    for page in (alice, bob):
        # One line about presenting, saying the current state; nothing stale stacked above it.
        assert page.locator(".live-banner-presenting:visible").count() == 1
        assert page.locator(".live-message", has_text="presenting").count() == 0
        # One badge for what each person does: bob presents (not also "can edit"), alice is host and edits.
        assert badges(page, "Bob") == ["presenting"]
        assert badges(page, "Alice") == ["host", "can edit"]
    assert axe_problems(bob) == []
    screenshot(bob, "bob-presents", full_page=False)

    # The host takes it back: again exactly one, current, line on both pages.
    alice.get_by_role("button", name="Ask to present").click()
    bob.locator("#live-presenting", has_text="Alice").wait_for()
    alice.locator("#live-presenting", has_text="You are presenting").wait_for()
    for page in (alice, bob):
        assert page.locator(".live-banner-presenting:visible").count() == 1
        assert badges(page, "Bob") == ["can edit"]
        assert badges(page, "Alice") == ["host", "presenting"]
    assert bob.get_by_text("You are presenting").count() == 0


def test_undo_and_redo_are_enabled_only_when_there_is_something_to_undo_or_redo(person, world):
    alice = person("alice")
    open_live(alice, world)
    alice.locator(".live-person .live-badge-host").wait_for()
    undo, redo = alice.get_by_role("button", name="Undo"), alice.get_by_role("button", name="Redo")
    assert undo.is_disabled() and redo.is_disabled()  # a new session: its history is empty
    before = node_ids(alice)
    alice.get_by_role("button", name="+ Process").click()
    (added,) = set(node_ids(alice)) - set(before)
    assert undo.is_enabled() and redo.is_disabled()
    undo.click()
    wait_seconds(alice, 'id => !document.querySelector(`#live-viewport [data-cell-id="${id}"]`)', added)
    redo.wait_for(state="attached")
    alice.wait_for_function("() => !document.getElementById('live-redo').disabled")
    redo.click()
    wait_seconds(alice, 'id => !!document.querySelector(`#live-viewport [data-cell-id="${id}"]`)', added)
    # A new change ends what can be redone.
    alice.get_by_role("button", name="+ Data store").click()
    alice.wait_for_function("() => document.getElementById('live-redo').disabled")
    assert undo.is_enabled()


EMPTY_SPOT = """() => {
    const area = document.getElementById('live-viewport').getBoundingClientRect();
    const svg = document.querySelector('#live-viewport svg');
    for (let y = area.top + 10; y < area.bottom - 10; y += 10)
        for (let x = area.left + 10; x < area.right - 10; x += 10)
            if (document.elementFromPoint(x, y) === svg) return [x, y];
    return null; }"""


def test_the_diagram_opens_fitted_and_zooms_pans_and_fits_again(person, world, screenshot):
    page = person("alice")
    open_live(page, world)
    viewport = page.locator("#live-viewport")

    def zoom() -> float:
        return float(viewport.get_attribute("data-zoom"))

    def fits() -> bool:
        return page.evaluate(
            """() => { const v = document.getElementById('live-viewport');
            const s = v.querySelector('svg').getBoundingClientRect();
            return s.width <= v.clientWidth + 1 && s.height <= v.clientHeight + 1; }"""
        )

    assert fits()
    opened = zoom()
    page.get_by_role("button", name="Zoom in").click()
    assert zoom() > opened and not fits()
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Zoom out").click()
    assert zoom() < opened
    page.get_by_role("button", name="Fit").click()
    assert zoom() == opened and fits()

    # Keyboard on the canvas: + zooms, the arrows pan, 0 fits.
    viewport.focus()
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert zoom() > opened
    page.keyboard.press("+")
    scroll = viewport.evaluate("v => { v.scrollLeft = 0; v.scrollTop = 0; return [0, 0]; }")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    moved = viewport.evaluate("v => [v.scrollLeft, v.scrollTop]")
    assert moved[0] > scroll[0] and moved[1] > scroll[1]

    # Dragging empty canvas pans.
    viewport.evaluate("v => { v.scrollLeft = 200; v.scrollTop = 100; }")
    x, y = page.evaluate(EMPTY_SPOT)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y - 30, steps=4)
    page.mouse.up()
    assert viewport.evaluate("v => [v.scrollLeft, v.scrollTop]") == [260, 130]
    screenshot(page, "zoomed-and-panned", full_page=False)
    viewport.focus()
    page.keyboard.press("0")
    assert zoom() == opened and fits()


FREE = """id => {
    const svg = document.querySelector('#live-viewport svg');
    const mine = svg.querySelector(`g.tmi-cells > [data-cell-id="${id}"] .tmi-shape`).getBBox();
    const inside = (p) => p.x > mine.x && p.x < mine.x + mine.width && p.y > mine.y && p.y < mine.y + mine.height;
    const hits = [];
    for (const g of svg.querySelectorAll('g.tmi-cells > g.tmi-node:not(.tmi-boundary)')) {
        if (g.dataset.cellId === id) continue;
        const b = (g.querySelector('.tmi-shape') || g).getBBox();
        if (b.x < mine.x + mine.width && mine.x < b.x + b.width && b.y < mine.y + mine.height && mine.y < b.y + b.height)
            hits.push(g.dataset.cellId);
    }
    for (const path of svg.querySelectorAll('g.tmi-cells > g.tmi-edge path.tmi-line')) {
        const length = path.getTotalLength();
        for (let at = 0; at <= length; at += 2) if (inside(path.getPointAtLength(at))) { hits.push('flow'); break; }
    }
    return hits; }"""


def test_a_new_shape_lands_in_free_space(person, world, screenshot):
    page = person("alice")
    open_live(page, world)
    assert page.locator("#live-viewport path.tmi-line").count() > 3
    for kind in ("+ Process", "+ Data store", "+ External actor", "+ Process"):
        before = node_ids(page)
        page.get_by_role("button", name=kind).click()
        (added,) = set(node_ids(page)) - set(before)
        assert page.evaluate(FREE, added) == [], kind
    screenshot(page, "new-shapes-in-free-space", full_page=False)


def test_on_a_phone_the_diagram_goes_full_screen_and_zooms(person, world, screenshot):
    page = person("alice", viewport=PHONE, has_touch=True)
    open_live(page, world)
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
    assert axe_problems(page) == []
    screenshot(page, "phone")
    page.get_by_role("button", name="Full screen").click()
    board = page.locator("#live-board")
    page.wait_for_function("() => document.getElementById('live-board').classList.contains('live-full')")
    box = board.bounding_box()
    assert box["width"] >= PHONE["width"] - 1 and box["height"] >= PHONE["height"] - 1
    zoom = float(page.locator("#live-viewport").get_attribute("data-zoom"))
    page.get_by_role("button", name="Zoom in").click()
    assert float(page.locator("#live-viewport").get_attribute("data-zoom")) > zoom
    assert axe_problems(page) == []
    screenshot(page, "phone-full-screen", full_page=False)
    # Two fingers spread apart on the canvas zoom in.
    zoom = float(page.locator("#live-viewport").get_attribute("data-zoom"))
    x, y = page.evaluate(
        """() => { const svg = document.querySelector('#live-viewport svg');
        const b = svg.getBoundingClientRect(), y = b.top + 10;
        for (let x = b.left + 61; x < b.right - 61; x += 5)
            if ([x - 60, x - 20, x + 20, x + 60].every((at) => document.elementFromPoint(at, y) === svg)) return [x, y];
        return null; }"""
    )
    cdp = page.context.new_cdp_session(page)
    fingers = lambda spread: [{"x": x - spread, "y": y, "id": 0}, {"x": x + spread, "y": y, "id": 1}]  # noqa: E731
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": fingers(20)})
    for spread in (30, 45, 60):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": fingers(spread)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    pinched = float(page.locator("#live-viewport").get_attribute("data-zoom"))
    assert pinched > zoom * 2
    page.get_by_role("button", name="Leave full screen").click()
    page.wait_for_function("() => !document.getElementById('live-board').classList.contains('live-full')")


def test_the_live_page_passes_axe_on_a_laptop_with_two_people(alice_and_bob, screenshot):
    alice, bob = alice_and_bob
    for page in (alice, bob):
        assert axe_problems(page) == []
    alice.get_by_role("button", name="+ Data flow").click()
    assert axe_problems(alice) == []
    screenshot(alice, "laptop-flow-mode", full_page=False)


def test_the_keyboard_renames_and_deletes_a_flow(alice_and_bob):
    alice, bob = alice_and_bob
    alice.locator("#live-viewport").focus()
    for _ in range(40):
        alice.keyboard.press("Tab")
        label = alice.evaluate("() => document.activeElement.getAttribute('aria-label') || ''")
        if " data flow from " in label:
            break
    else:
        raise AssertionError("Tab never reached a flow")
    flow = focused_id(alice)
    assert alice.evaluate("() => document.activeElement.classList.contains('tmi-edge')")
    assert alice.locator("#live-viewport .live-focus-ring").count() == 4
    alice.keyboard.press("Enter")
    alice.keyboard.press("Control+A")
    alice.keyboard.type("Card details")
    alice.keyboard.press("Enter")
    wait_seconds(
        bob,
        '([id, t]) => document.querySelector(`#live-viewport [data-cell-id="${id}"]`).textContent.includes(t)',
        [flow, "Card details"],
    )
    assert alice.evaluate("() => document.activeElement.getAttribute('aria-label')").startswith(
        "Card details, data flow from "
    )
    assert axe_problems(alice) == []
    alice.keyboard.press("Delete")
    wait_seconds(bob, 'id => !document.querySelector(`#live-viewport [data-cell-id="${id}"]`)', flow)
    announced(alice, "Deleted Card details")
