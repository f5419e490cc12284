"""The live page's renderer (static/portal/live/render.js) against the server's (portal/diagrams/), in one
Chromium page and no portal: render.js is served to the page from disk by Playwright's router.

Every diagram of the demo seed (both TMI generations) and a set of odd cells (every shape, labels with
markup and odd characters, missing and junk geometry, vertices, ports, routers, connectors, markers,
colours) are drawn by both; each cell's markup, its boxes (which size the drawing), and the arrowhead
<defs> must be equal, so the two renderers cannot drift apart unnoticed.

How the markup is compared (deliberately strict): the server's fragments are parsed by the browser's XML
parser and serialised again with XMLSerializer, exactly as the script's elements are. That round trip only
evens out how characters are escaped (`&#39;` and `'` are the same text); attribute order, element order and
every number's formatting are compared as written, because the page's first paint and its live redraw must
be byte-for-byte the same drawing. Boxes are compared to 1e-6."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from portal.diagrams import cell_fragments
from portal.diagrams.svg import fmt
from portal.sandbox import seed
from portal.sandbox.config import GENERATIONS, SandboxConfig
from portal.sandbox.state import SandboxState
from tests.browser.live_server import ROOT
from tests.browser.test_live_diagram import HOSTILE, ODD_CELLS

ORIGIN = "http://render-parity.invalid"
STATIC = ROOT / "static" / "portal" / "live"

LABEL = "Markup <b>&amp;\"' &lt;/text&gt; é 漢字 👩‍💻 \u202eevil\u202c tab\there\x07bell"
SHAPES = ["actor", "process", "store", "security-boundary", "text-box", "cloud", "", "constructor"]


def odd_cells() -> list:
    cells: list = list(ODD_CELLS)
    # Every shape, with markup in its label, at fractional and string coordinates, rotated some of the time.
    for i, shape in enumerate(SHAPES):
        cells.append(
            {
                "id": f"shape-{i}",
                "shape": shape,
                "position": {"x": 1000 + 170 * i + 0.125, "y": str(40 + i * 0.375)},
                "size": {"width": 140 + i, "height": 60 + 2.5 * i},
                "angle": [0, 45, -90, 370, "12", None, 0, 0][i],
                "attrs": {"text": {"text": f"{LABEL} {shape}", "fontSize": 8 + i * 9}, "body": {"fill": "#abcd"}},
                "ports": {
                    "items": [
                        {"id": f"p{i}-{side}", "group": side} for side in ("top", "right", "bottom", "left", "nowhere")
                    ]
                },
            }
        )
    # Every shape again, large and small, so size-dependent parts (a store's cap, an actor's glyph) take
    # each of their branches.
    for i, shape in enumerate(SHAPES):
        for j, (width, height) in enumerate([(420, 300), (10, 6), (60, 200)]):
            cells.append(
                {
                    "id": f"size-{i}-{j}",
                    "shape": shape,
                    "x": 3000 + 450 * i,
                    "y": 400 * j,
                    "width": width,
                    "height": height,
                    "label": f"{shape} {width}x{height}",
                }
            )
    cells += [
        # Missing or junk geometry: skipped, or drawn with default sizes, as the server decides.
        {"id": "no-geometry", "shape": "process", "attrs": {"text": {"text": "no geometry"}}},
        {"id": "half-geometry", "shape": "actor", "position": {"x": 5}},
        {"id": "nan", "shape": "store", "position": {"x": "nan", "y": 3}},
        {"id": "inf", "shape": "store", "position": {"x": "-inf", "y": 3}, "size": {"width": "inf"}},
        {"id": "huge", "shape": "process", "position": {"x": 1e12, "y": -1e12}, "size": {"width": 1e9, "height": -5}},
        {"id": "no-size", "shape": "security-boundary", "position": {"x": 1200, "y": 400}},
        {"id": "bool", "shape": "actor", "x": True, "y": 4, "width": False},
        {"id": "flat", "shape": "actor", "x": 1500, "y": 600, "width": "90", "height": "45.5", "label": ""},
        # Labels: empty, whitespace, very long words, many lines, numbers.
        {"id": "long", "shape": "process", "x": 1700, "y": 600, "attrs": {"text": {"text": "W" * 400}}},
        {
            "id": "lines",
            "shape": "text-box",
            "x": 1900,
            "y": 600,
            "attrs": {"text": {"text": "a\nb\r\nc\n\n\nd " * 20}},
        },
        {"id": "number-label", "shape": "actor", "x": 2100, "y": 600, "attrs": {"label": {"text": 0.1 + 0.2}}},
        # Colours and dashes, valid and not.
        {
            "id": "colours",
            "shape": "store",
            "x": 2300,
            "y": 600,
            "attrs": {
                "body": {
                    "fill": "rgba(1, 2, 3, .5)",
                    "stroke": "url(#x)",
                    "strokeWidth": 99,
                    "strokeDasharray": "1,2 3",
                },
                "text": {"text": "colours", "fill": "TEAL", "fontSize": 200},
            },
        },
        # Flows: vertices, ports on both ends, every connector and router, markers, label positions.
        *(
            {
                "id": f"flow-{n}-{connector}",
                "shape": "flow",
                "source": {"cell": "shape-0", "port": "p0-right"},
                "target": {"cell": f"shape-{n}", "port": f"p{n}-{side}"},
                "vertices": [{"x": 1100 + 40 * n, "y": 300 + 7.125 * n}, {"x": "1200", "y": 330}][: n % 3],
                "connector": connector,
                "router": router,
                "labels": [
                    {"attrs": {"text": {"text": f"{LABEL} {n}"}}, "position": position},
                    f"second {n}",
                ],
                "attrs": {"line": {"stroke": colour, "sourceMarker": marker, "targetMarker": {"name": marker}}},
            }
            for n, (connector, router, side, position, colour, marker) in enumerate(
                [
                    ("normal", None, "left", 0.25, "#123", "block"),
                    ("rounded", {"name": "orth"}, "top", {"distance": 0.75}, "red", "classic"),
                    ("smooth", {"name": "manhattan"}, "bottom", {"distance": -20, "offset": 12}, "bad", "diamond"),
                    ({"name": "rounded"}, "metro", "right", 3, "rgb(10,20,30)", "circle"),
                    ("jumpover", {"name": "er"}, "nowhere", "0.5", None, "circlePlus"),
                    (None, {"name": "oneSide"}, "left", None, "#FFFFFFFF", "ellipse"),
                    ("normal", None, "top", {"distance": 2.5}, "#abc", None),
                ],
                start=1,
            )
        ),
        {
            "id": "self-port",
            "shape": "flow",
            "source": {"cell": "shape-1", "port": "p1-top"},
            "target": {"cell": "shape-1"},
        },
        {"id": "free-ends", "shape": "edge", "source": {"x": 0.005, "y": 0.015}, "target": {"x": 2.675, "y": -0.125}},
        {"id": "to-nothing", "shape": "flow", "source": {"cell": "shape-2"}, "target": {}},
        {
            "id": "vertex-junk",
            "shape": "flow",
            "source": "shape-3",
            "target": "shape-4",
            "vertices": [None, {"x": 1}, 5],
        },
        # Nesting.
        {"id": "inside", "shape": "process", "x": 1220, "y": 420, "parent": "no-size", "zIndex": "7"},
    ]
    return cells


def seeded_diagrams() -> list[tuple[str, list]]:
    found = []
    for generation in GENERATIONS:
        state = SandboxState(SandboxConfig(generation=generation))
        seed.load(state, "demo")
        for tm in state.threat_models.values():
            for diagram in tm.get("diagrams", []):
                found.append((f"{generation}/{tm['name']}/{diagram.get('name')}", diagram.get("cells") or []))
    return found


@pytest.fixture(scope="module")
def renderer(chromium):
    """One Chromium page with render.js loaded as a module, served from disk (no portal, no sandbox)."""
    context = chromium.new_context()
    page = context.new_page()

    def serve(route):
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            route.fulfill(body="<!doctype html><title>parity</title>", content_type="text/html")
        elif path.endswith(".js") and (STATIC / Path(path).name).is_file():
            route.fulfill(path=str(STATIC / Path(path).name), content_type="text/javascript")
        else:
            route.fulfill(status=404)

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/")
    page.evaluate("async () => { window.render = await import('/render.js'); }")
    yield page
    context.close()


DRAW = """([cells, highlight, served]) => {
    const render = window.render;
    const xml = new XMLSerializer();
    const markers = new render.Markers('parity');
    const drawn = render.drawCells(cells, markers, new Set(highlight)).fragments;
    const parse = (markup) => new DOMParser().parseFromString(
        `<g xmlns="http://www.w3.org/2000/svg">${markup}</g>`, 'image/svg+xml').documentElement;
    const wrap = (children) => { const g = document.createElementNS(render.SVG_NS, 'g');
                                 children.forEach((c) => g.appendChild(c)); return xml.serializeToString(g); };
    const box = (b) => [b.x, b.y, b.width, b.height];
    return {
        script: drawn.map((f) => ({id: f.cellId, svg: wrap([f.element]), boxes: f.boxes.map(box)})),
        server: served.fragments.map((f) => ({id: f.id, svg: xml.serializeToString(parse(f.svg)), boxes: f.boxes})),
        defs: [wrap(markers.elements()), xml.serializeToString(parse(served.defs))],
        parseErrors: served.fragments.filter((f) => parse(f.svg).querySelector('parsererror')).map((f) => f.id),
    };
}"""


def both(page, cells: list, highlight: tuple[str, ...] = ()) -> dict:
    fragments, defs = cell_fragments(cells, id_prefix="parity", highlight=highlight)
    served = {
        "fragments": [
            {"id": f.cell_id, "svg": f.svg, "boxes": [[b.x, b.y, b.width, b.height] for b in f.boxes]}
            for f in fragments
        ],
        "defs": defs,
    }
    return page.evaluate(DRAW, [cells, list(highlight), served])


def assert_same(result: dict, what: str) -> None:
    assert result["parseErrors"] == [], f"{what}: the server's markup is not well-formed XML"
    script, server = result["script"], result["server"]
    assert [f["id"] for f in script] == [f["id"] for f in server], f"{what}: cells drawn or their order differ"
    for ours, theirs in zip(script, server, strict=True):
        assert ours["svg"] == theirs["svg"], f"{what}, cell {ours['id']}:\nscript {ours['svg']}\nserver {theirs['svg']}"
        assert len(ours["boxes"]) == len(theirs["boxes"]), f"{what}, cell {ours['id']}: boxes"
        for a, b in zip(ours["boxes"], theirs["boxes"], strict=True):
            assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True)), (what, ours["id"], a, b)
    assert result["defs"][0] == result["defs"][1], f"{what}: arrowhead <defs> differ"


def test_every_seeded_diagram_is_drawn_the_same_by_both_renderers(renderer):
    diagrams = seeded_diagrams()
    assert len(diagrams) >= 10  # both generations' demo: every threat model's diagrams
    drawn = 0
    for name, cells in diagrams:
        result = both(renderer, cells)
        assert_same(result, name)
        drawn += len(result["server"])
    assert drawn > 100


def test_odd_cells_are_drawn_the_same_by_both_renderers(renderer):
    cells = odd_cells()
    result = both(renderer, cells)
    assert_same(result, "odd cells")
    ids = {f["id"] for f in result["server"]}
    # Every shape and every flow variant was drawn (not silently skipped by both).
    assert {f"shape-{i}" for i in range(len(SHAPES))} <= ids
    assert sum(1 for i in ids if i.startswith("flow-")) == 7
    assert {"no-geometry", "half-geometry", "nan"}.isdisjoint(ids)  # no position: not drawn, by either


def test_highlighted_cells_are_drawn_the_same(renderer):
    cells = odd_cells()
    highlight = ("shape-1", "flow-2-rounded", "b", "g", "missing")
    assert_same(both(renderer, cells, highlight), "highlighted")


@pytest.mark.parametrize("hostile", [HOSTILE, "</g><script>alert(1)</script>", "]]><!--", "\ud800 lone surrogate"])
def test_hostile_labels_are_the_same_text(renderer, hostile):
    cells = [{"id": "x", "shape": "process", "x": 0, "y": 0, "attrs": {"text": {"text": hostile}}}]
    assert_same(both(renderer, cells), repr(hostile))


def test_numbers_are_formatted_the_same(renderer):
    values = [
        0,
        -0.0,
        0.005,
        0.015,
        0.125,
        0.375,
        -0.125,
        2.675,
        1.005,
        1e-7,
        -1e-7,
        99999.995,
        12.5,
        1 / 3,
        1e5,
        0.1 + 0.2,
    ]
    values += [n / 8 for n in range(-40, 41)]
    script = renderer.evaluate("values => values.map((v) => window.render.fmt(v))", values)
    assert script == [fmt(v) for v in values]
