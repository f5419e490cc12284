"""Everything in a diagram is user-written: nothing may turn into markup, script, or an external reference."""

import math
import random
import re
import xml.etree.ElementTree as ET

import pytest

from portal.diagrams import diagram_summary, render_svg
from portal.diagrams.shapes import DEFAULT_LOOKS
from portal.diagrams.svg import colour, dasharray, escape
from tests.diagrams.conftest import NS, cell_groups, flow, node, web_app_cells

HOSTILE_TEXT = [
    "</text><script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "'><img src=x onerror=alert(1)>",
    "<foreignObject><body onload=alert(1)/></foreignObject>",
    "]]><!-- <![CDATA[ x",
    "&lt;script&gt; &amp; &#x3c;",
    "javascript:alert(1)",
    "nul\x00 bell\x07 esc\x1b lone\ud800 surrogate \ufffe",
]
HOSTILE_COLOURS = [
    'red" onload="alert(1)',
    "url(javascript:alert(1))",
    "url(#x)",
    "expression(alert(1))",
    "#fff;background:url(http://evil/x)",
    "rgb(1,2,3) url(#x)",
    "rgb(1,2,javascript:3)",
    "javascript:alert(1)",
    "#12345g",
    "var(--x)",
]
# Attributes no renderer interprets: the only places (besides text nodes) where escaped user text may appear.
FREE_TEXT_ATTRS = {"aria-label", "data-cell-id", "data-shape"}
FORBIDDEN_TAGS = {
    "script",
    "foreignObject",
    "image",
    "use",
    "a",
    "iframe",
    "style",
    "object",
    "embed",
    "animate",
    "set",
}


def assert_safe(svg_text: str) -> ET.Element:
    root = ET.fromstring(svg_text)  # raises if not well-formed
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for element in root.iter():
        tag = element.tag.replace(NS, "")
        assert element.tag.startswith(NS) and tag not in FORBIDDEN_TAGS, tag
        for name, value in element.attrib.items():
            local = name.split("}")[-1].lower()
            assert not local.startswith("on"), name
            assert local not in {"href", "src", "style"}, name
            if local in FREE_TEXT_ATTRS:
                continue
            for reference in re.findall(r"url\(([^)]*)\)", value):
                assert reference.startswith("#") and reference[1:] in ids, value
            assert "javascript" not in value.lower() and "expression(" not in value, (name, value)
    assert "<script" not in svg_text.lower() and "<foreignobject" not in svg_text.lower()
    return root


def hostile_diagram(text: str, paint: str) -> list[dict]:
    boundary = node("security-boundary", text, 0, 0, 600, 400, text)
    actor = node("actor", "a", 20, 40, 120, 60, text, parent=text)
    actor["attrs"]["body"].update(fill=paint, stroke=paint, strokeDasharray=paint)
    actor["attrs"]["text"].update(fill=paint, fontSize=paint)
    process = {
        "id": "p",
        "shape": text,
        "x": 300,
        "y": 40,
        "width": 120,
        "height": 60,
        "label": text,
        "ports": {"items": [{"id": text, "group": text}]},
    }
    line = {
        **flow(text + "-flow", "a", "p", text),
        "source": {"cell": "a", "port": text},
        "attrs": {
            "line": {"stroke": paint, "strokeDasharray": paint, "targetMarker": {"name": text}, "sourceMarker": paint}
        },
    }
    return [
        boundary,
        actor,
        process,
        line,
        {"id": "bare-label", "shape": "flow", "source": "a", "target": "p", "labels": [text]},
    ]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
@pytest.mark.parametrize("paint", HOSTILE_COLOURS[:4])
def test_hostile_labels_ids_shapes_and_colours_cannot_inject(text, paint):
    svg_text = render_svg(hostile_diagram(text, paint), title=text, id_prefix=text)
    root = assert_safe(svg_text)
    assert len(cell_groups(root)) == 5


def test_hostile_text_is_shown_literally_not_dropped():
    text = '</text><script>alert(1)</script> "quoted" & <b>'
    root = assert_safe(render_svg([node("actor", "x", 0, 0, 600, 80, text)], title=text))
    assert root.find(f"{NS}title").text == text and root.get("aria-label") == text
    assert "".join(root.find(f".//{NS}text[@class='tmi-label']").itertext()) == text


def test_invalid_xml_code_points_are_dropped():
    root = assert_safe(render_svg([node("actor", "x", 0, 0, 400, 80, "a\x00b\x1bc\ud800d\ufffee")]))
    assert "".join(root.find(f".//{NS}text[@class='tmi-label']").itertext()) == "abcde"


@pytest.mark.parametrize("paint", HOSTILE_COLOURS)
def test_hostile_colours_fall_back_to_the_defaults(paint):
    cells = hostile_diagram("label", paint)
    root = assert_safe(render_svg(cells, id_prefix="c"))
    outline = cell_groups(root)["a"].find(f"{NS}rect")
    default = DEFAULT_LOOKS["actor"]
    assert (outline.get("fill"), outline.get("stroke")) == (default.fill, default.stroke)
    assert outline.get("stroke-dasharray") is None


def test_colour_validation():
    for good in ("#abc", "#A1B2C3", "#a1b2c3d4", "rgb(1, 2, 3)", "rgba(10%, 20%, 30%, 0.5)", "Navy", "transparent"):
        assert colour(good, "DEFAULT") != "DEFAULT", good
    for bad in HOSTILE_COLOURS + ["", None, 5, "#abcde", "rgb(1,2)", "hsl(1,2%,3%)", "currentColor"]:
        assert colour(bad, "DEFAULT") == "DEFAULT", bad
    assert dasharray("4 2") == "4 2" and dasharray("4,2,1") == "4,2,1"
    assert dasharray('4" onload="x') is None and dasharray("url(#x)") is None


def test_escape_covers_quotes_and_markup():
    assert escape('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"


def random_value(rng: random.Random, depth: int = 0):
    choices = [
        lambda: rng.choice([None, True, False, 0, -1, 1e308, -1e308, float("nan"), float("inf"), 10**400]),
        lambda: rng.uniform(-1e6, 1e6),
        lambda: rng.choice(
            [
                "",
                "NaN",
                "inf",
                "-inf",
                "1e999",
                "12",
                "abc",
                "actor",
                "flow",
                "edge",
                "process",
                "orth",
                "manhattan",
                "rounded",
                "smooth",
                "diamond",
                "circle",
                "top",
                "left",
            ]
        ),
        lambda: rng.choice(HOSTILE_TEXT + HOSTILE_COLOURS),
        lambda: "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(0, 30))),
    ]
    if depth < 3:
        choices += [
            lambda: [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))],
            lambda: {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))},
        ]
    return rng.choice(choices)()


KEYS = [
    "id",
    "shape",
    "x",
    "y",
    "width",
    "height",
    "position",
    "size",
    "label",
    "attrs",
    "body",
    "text",
    "line",
    "fill",
    "stroke",
    "strokeWidth",
    "fontSize",
    "source",
    "target",
    "cell",
    "port",
    "vertices",
    "labels",
    "zIndex",
    "visible",
    "angle",
    "parent",
    "children",
    "ports",
    "items",
    "group",
    "distance",
    "offset",
    "targetMarker",
    "sourceMarker",
    "name",
    "strokeDasharray",
    "router",
    "connector",
    "defaultLabel",
]


def mutate(rng: random.Random, cell):
    """A valid cell with a few of its values (at any depth) swapped for garbage."""
    if isinstance(cell, dict) and cell:
        key = rng.choice(list(cell))
        cell[key] = mutate(rng, cell[key]) if rng.random() < 0.5 else random_value(rng)
    elif isinstance(cell, list) and cell:
        cell[rng.randrange(len(cell))] = random_value(rng)
    return cell


def test_random_garbage_never_raises_and_stays_safe():
    rng = random.Random(20261126)
    for round_ in range(300):
        cells = web_app_cells()
        for _ in range(rng.randrange(1, 12)):
            mutate(rng, rng.choice(cells))
        cells += [random_value(rng) for _ in range(rng.randrange(0, 6))]
        if round_ % 10 == 0:
            cells = random_value(rng)  # not even a list
        svg_text = render_svg(
            cells,
            title=str(random_value(rng)),
            id_prefix=rng.choice([None, "ok", "<bad>"]),
            highlight=rng.choice([None, {"api"}, set()]),
        )
        root = assert_safe(svg_text)
        x, y, w, h = (float(v) for v in root.get("viewBox").split())
        assert all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0
        summary = diagram_summary(cells)
        assert set(summary["counts"]) >= {"actors", "processes", "stores", "boundaries", "flows"}


def test_huge_diagrams_are_capped():
    cells = [node("actor", f"n{i}", i, i, 50, 40) for i in range(6000)]
    assert len(cell_groups(assert_safe(render_svg(cells)))) == 5000
