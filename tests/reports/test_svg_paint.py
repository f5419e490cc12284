"""Issue 18: SVG shapes drawn with less of WeasyPrint's per-element work (svg_paint.py) write exactly the PDF
operators WeasyPrint's own drawing writes, for our diagrams and for SVG that uses what our diagrams do not;
a label's anchor handed to its run (svg_text.py) puts it where WeasyPrint's group put it, without the group."""

from __future__ import annotations

import re

import pytest
import weasyprint.svg as weasy_svg
from PIL import ImageChops

from bench.export import diagram_cells
from portal.diagrams import render_svg
from portal.reports import render as _render  # noqa: F401  importing it installs the shortcuts, as in a worker
from portal.reports import svg_paint, svg_text
from portal.reports.shaping import svg_data_uri
from portal.reports.svg_text import svg_for_print
from tests.reports.conftest import page_image, pdf_pages_text, pdf_streams, save_page

# What our diagrams never write, each of which must still draw exactly as WeasyPrint draws it.
UNUSUAL = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" font-size="10">
<defs>
  <linearGradient id="shade"><stop offset="0" stop-color="red"/><stop offset="1" stop-color="blue"/></linearGradient>
  <marker id="dot" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="4" markerHeight="4">
    <circle cx="5" cy="5" r="4" fill="context-stroke"/></marker>
  <marker id="tip" viewBox="0 0 10 10" refX="10" refY="5" orient="auto"><path d="M0 0L10 5L0 10Z"/></marker>
</defs>
<path d="M10 10L60 10L60 40Z" fill="#123456" stroke="green" stroke-width="2"/>
<path d="M10 50 L60 50" stroke="black"/>
<path d="M10,60L60,60" stroke="black"/>
<path d="m10 70l50 0l0 10z" fill="orange"/>
<path d="M-5.5 90L.5 95L60.25 -1" stroke="purple" fill="none" stroke-width="0.5em"/>
<path d="M10 100L60 100L60 120" stroke="#000" fill="none" marker-start="url(#dot)" marker-mid="url(#dot)"
  marker-end="url(#tip)"/>
<path d="M130 200L160 200L160 230Z" stroke="black" fill="none" marker-start="url(#dot)" marker-mid="url(#dot)"
  marker-end="url(#tip)"/>
<path d="M10 130A20 10 0 0 1 50 130L50 150A20 10 0 0 1 10 150Z" fill="url(#shade)" stroke="red"/>
<path d="M80 10L120 10" stroke="blue" stroke-dasharray="4 2" stroke-dashoffset="-3" stroke-linecap="round"/>
<path d="M80 20L120 20" stroke="blue" stroke-dasharray="0 0" stroke-linejoin="bevel" stroke-miterlimit="-1"/>
<path d="M80 30L120 30" stroke="blue" stroke-dasharray="none" stroke-linecap="square" stroke-miterlimit="9"/>
<path d="M80 40L120 40L100 60Z" fill="red" fill-opacity="0.4" stroke="blue" stroke-opacity="50%"/>
<path d="M80 70L120 70L100 90Z" fill="red" fill-rule="evenodd" stroke="none"/>
<path d="M80 100L120 100" stroke="rgb(10 200 30 / 0.5)" stroke-width="0"/>
<path d="M80 110L120 110" stroke="black" opacity="0.5"/>
<path d="M80 120L120 120" stroke="black" transform="rotate(10)"/>
<path d="M80 130L120 130" stroke="black" visibility="hidden"/>
<path d="M80 140L120 140" stroke="black" display="none"/>
<path d="M80 150L120 150" stroke="black"><title>with a child</title></path>
<path d="M80 160L120 160" style="stroke: teal; stroke-width: 3"/>
<g fill="currentColor" color="maroon" stroke="navy" stroke-width="2%"><rect x="140" y="10" width="40" height="20"/>
  <rect x="140" y="40" width="40" height="20" rx="4" fill="inherit"/><circle cx="160" cy="80" r="10"/>
  <ellipse cx="160" cy="110" rx="20" ry="8" stroke="url(#shade) red"/><line x1="140" y1="130" x2="180" y2="140"/>
  <polyline points="140,150 160,160 180,150" fill="none"/><polygon points="140,170 160,180 180,170"/></g>
<rect x="200" y="10" width="0" height="20" fill="black"/>
<rect x="200" y="40" width="1em" height="5%" fill="hsl(120 50% 50%)"/>
<text x="200" y="80" fill="black">plain</text>
<text x="300" y="80" text-anchor="middle" fill="black">anchored</text>
<text x="200" y="100"><tspan x="200" dy="2">in a span</tspan></text>
<text x="200 210 220" y="120">abc</text>
</svg>"""


def _pdf(svg: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=f'<img style="width: 180mm" src="{svg_data_uri(svg)}" alt="">').write_pdf()


def _uninstalled(monkeypatch) -> None:
    """WeasyPrint's own drawing of shapes, as before svg_paint.install()."""
    monkeypatch.setattr(weasy_svg.SVG, "draw_node", svg_paint._ORIGINAL_DRAW_NODE)
    monkeypatch.setattr(weasy_svg.SVG, "set_graphical_state", svg_paint._ORIGINAL_STATE)
    monkeypatch.setitem(weasy_svg.TAGS, "path", svg_paint._ORIGINAL_PATH)


@pytest.mark.parametrize(
    "svg",
    [
        pytest.param(UNUSUAL, id="what-diagrams-never-write"),
        pytest.param(svg_for_print(render_svg(diagram_cells(90, "svg-paint"), title="Paint")), id="a-diagram"),
        pytest.param(render_svg(diagram_cells(30, "svg-paint-raw"), title="As the page draws it"), id="unfolded"),
    ],
)
def test_the_shortcuts_write_the_operators_weasyprint_writes(svg, monkeypatch):
    assert weasy_svg.SVG.draw_node is svg_paint.draw_leaf and weasy_svg.TAGS["path"] is svg_paint.line_path
    fast = pdf_streams(_pdf(svg))
    with monkeypatch.context() as patch:
        _uninstalled(patch)
        own = pdf_streams(_pdf(svg))
    assert len(fast) == len(own) and fast == own
    assert sum(len(re.findall(rb"\b(?:re|c|l)\n", stream)) for stream in fast) > 20  # shapes were drawn


def test_each_shortcut_is_taken_where_it_applies(monkeypatch):
    taken = {"leaf": 0, "state": 0, "lines": 0}

    def counting(name, function):
        def counted(*args, **kwargs):
            taken[name] += 1
            return function(*args, **kwargs)

        return counted

    monkeypatch.setattr(weasy_svg.SVG, "draw_node", counting("leaf", svg_paint.draw_leaf))
    monkeypatch.setattr(svg_paint, "_ORIGINAL_STATE", counting("state", svg_paint._ORIGINAL_STATE))
    monkeypatch.setattr(svg_paint, "_ORIGINAL_PATH", counting("lines", svg_paint._ORIGINAL_PATH))
    _pdf(svg_for_print(render_svg(diagram_cells(60, "shortcuts"), title="Shortcuts")))
    # Every element came through draw_leaf; no fill or stroke needed WeasyPrint's own state; only the
    # paths with arcs (stores, their rims, actors' glyphs) needed WeasyPrint's own path reading.
    assert taken["leaf"] > 150 and taken["state"] == 0
    assert 0 < taken["lines"] < taken["leaf"] / 3


@pytest.mark.parametrize(
    ("d", "fast"),
    [
        ("M1 2L3 4", True),
        ("M1 2L3 4L-5.5 .25Z", True),
        ("M1 2", False),
        ("M1,2L3,4", False),
        ("m1 2l3 4", False),
        ("M1 2L3 4 ", False),
        ("M1e2 2L3 4", False),
        ("M1 2A1 1 0 0 1 3 4", False),
    ],
)
def test_only_absolute_moves_and_lines_are_read_by_the_shortcut(d, fast):
    assert (svg_paint._LINES.fullmatch(d) is not None) is fast


def _anchored_pdf(monkeypatch, *, handed_over: bool) -> bytes:
    with monkeypatch.context() as patch:
        if not handed_over:
            patch.setattr(svg_text, "_ANCHOR", re.compile(r"(?!)"))
        return _pdf(svg_for_print(render_svg(diagram_cells(60, "print-anchor"), title="Anchors")))


def test_a_labels_anchor_handed_to_its_run_puts_it_where_weasyprints_group_did(monkeypatch, artifacts):
    handed = _anchored_pdf(monkeypatch, handed_over=True)
    grouped = _anchored_pdf(monkeypatch, handed_over=False)
    assert pdf_pages_text(handed)[0].split() == pdf_pages_text(grouped)[0].split()
    assert "Component 40" in pdf_pages_text(handed)[0]
    # The same places: only anti-aliasing differs, because the viewer draws a form's text (WeasyPrint's
    # group) a little differently from a page's. A label out of place by any fraction of its width would
    # differ by the full contrast of its letters over hundreds of pixels.
    difference = ImageChops.difference(page_image(handed, 0, scale=3), page_image(grouped, 0, scale=3))
    histogram = difference.convert("L").histogram()
    assert sum(histogram[1:]) < difference.width * difference.height / 1000 and not any(histogram[128:])
    save_page(handed, 0, artifacts, "handed")
    # WeasyPrint measures each anchored text in a form of its own: one form per label before. None now, and
    # none for the actors' glyphs either (their fill-opacity draws as the `opacity` of before, without a group).
    forms = lambda pdf: pdf.count(b"/Subtype /Form")  # noqa: E731
    assert forms(handed) == 0 and forms(grouped) >= 60
    assert len(handed) * 2 < len(grouped)


def test_only_a_plain_one_line_label_hands_its_anchor_over():
    def printed(text: str) -> str:
        return svg_for_print(f"<svg>{text}</svg>")[5:-6]

    one_line = '<text text-anchor="middle" font-size="11"><tspan x="4" y="9">flow 1</tspan></text>'
    assert printed(one_line) == '<text data-print-anchor="middle" font-size="11" x="4" y="9">flow 1</text>'
    assert 'data-print-anchor="end"' in printed(one_line.replace("middle", "end"))
    assert 'text-anchor="start"' in printed(one_line.replace("middle", "start"))
    for kept in (
        '<text text-anchor="middle"><tspan x="4 8" y="9">ab</tspan></text>',  # a position per letter
        '<text text-anchor="middle"><tspan x="4-8" y="9">ab</tspan></text>',  # two, as WeasyPrint reads it
        '<text text-anchor="middle" rotate="3"><tspan x="4" y="9">ab</tspan></text>',
        '<text text-anchor="middle" direction="rtl"><tspan x="4" y="9">ab</tspan></text>',
        '<text text-anchor="middle"><tspan x="4" y="9"></tspan></text>',
    ):
        assert 'text-anchor="middle"' in printed(kept) and "data-print-anchor" not in printed(kept)
