"""The live page draws cells and names from TMI's socket messages in the browser: it removes bidi and
control characters as the server's renderer does (static/portal/live/render.js, cleanDisplayText), in
real Chromium through a real daphne, both TMI generations."""

from __future__ import annotations

from tests.browser.test_live_diagram import open_live, person, world  # noqa: F401 - fixtures used by name
from tests.dashboard.conftest import find_model

PAYMENTS = "Customer Payments API"
LABEL, SEEN = "Mail \u202egnp.exe", "Mail gnp.exe"
UNSAFE = "\u202e\u2066\u2069\u200f\u0085"


def test_the_live_page_draws_tmi_labels_and_names_without_bidi_characters(sandbox, world, person):  # noqa: F811
    diagram = find_model(sandbox, PAYMENTS)["diagrams"][0]
    node = next(cell for cell in diagram["cells"] if cell.get("shape") == "process")
    node.setdefault("attrs", {}).setdefault("text", {})["text"] = LABEL
    node.pop("label", None)
    alice = next(u for u in sandbox.state.users.values() if u.provider_id == "alice")
    alice.display_name = "Alice \u202eecilA"

    page = person("alice")
    served = open_live(page, world).text()
    assert "\u202e" not in served  # the server's first paint
    # The script redrew every cell from TMI's `state` message and named the people from TMI's roster.
    drawn = page.locator(f'#live-viewport g.tmi-cells [data-cell-id="{node["id"]}"]')
    drawn.wait_for()
    text = drawn.evaluate("g => g.textContent")
    assert SEEN in text.replace("\u2026", "")
    roster = page.locator(".live-person").first
    roster.wait_for()
    names = page.locator("#live-people, .live-person").evaluate_all("els => els.map(e => e.textContent).join(' ')")
    assert "Alice ecilA" in names
    everything = page.evaluate("() => document.body.innerHTML + document.title")
    assert not [char for char in UNSAFE if char in everything]
