"""Issue 18: faster PDF exports that read the same. SVG labels are drawn a run at a time (svg_text.py) rather
than letter by letter (WeasyPrint's own drawing), and the threat table has fixed column widths: the same
report, rendered both ways, holds the same text on the same pages, and its diagrams stay vector text."""

from __future__ import annotations

import re

import weasyprint.svg as weasy_svg

from bench.export import diagram_cells
from portal.diagrams import render_svg
from portal.reports import svg_text
from portal.reports.render import threat_model_report_pdf
from portal.reports.shaping import svg_data_uri
from portal.reports.svg_text import svg_for_print
from tests.dashboard.conftest import find_model
from tests.reports.conftest import page_image, pdf_pages_text, pdf_streams, report_read, save_page
from tests.reports.test_render import GENERATED, PAYMENTS


def _letter_by_letter(monkeypatch) -> None:
    """WeasyPrint's own SVG text drawing, as it was before svg_text.install() (labels keep their anchor)."""
    for tag, drawing in list(weasy_svg.TAGS.items()):
        if drawing is svg_text.run_text:
            monkeypatch.setitem(weasy_svg.TAGS, tag, svg_text._ORIGINAL)
    monkeypatch.setattr(weasy_svg, "text", svg_text._ORIGINAL)
    monkeypatch.setattr(svg_text, "_ANCHOR", re.compile(r"(?!)"))


def _words(pdf: bytes) -> list[list[str]]:
    """Each page's words in reading order. Where a text extractor breaks lines among a diagram's labels
    depends on how the PDF groups them (WeasyPrint's anchor groups put each label on a line of its own;
    labels drawn in the page's own stream come out a row of the diagram per line), not on what they say."""
    return [page.split() for page in pdf_pages_text(pdf)]


def _diagram_pdf() -> bytes:
    from weasyprint import HTML

    image = svg_data_uri(svg_for_print(render_svg(diagram_cells(60, "print-speed"), title="Print speed")))
    return HTML(string=f'<img style="width: 180mm" src="{image}" alt="">').write_pdf()


def test_labels_drawn_as_runs_read_as_letter_by_letter(monkeypatch, artifacts):
    fast = _diagram_pdf()
    with monkeypatch.context() as patch:
        _letter_by_letter(patch)
        slow = _diagram_pdf()
    (artifacts / "runs.pdf").write_bytes(fast)
    (artifacts / "letters.pdf").write_bytes(slow)
    save_page(fast, 0, artifacts, "runs")
    save_page(slow, 0, artifacts, "letters")
    assert _words(fast) == _words(slow)
    assert "Component 40" in pdf_pages_text(fast)[0] and "flow 20" in pdf_pages_text(fast)[0]
    # Still text (vector, selectable), placed once per label rather than once per letter.
    assert 0 < _text_placements(fast) * 5 < _text_placements(slow)


def _text_placements(pdf: bytes) -> int:
    """How many times the PDF's content streams (pages and form XObjects) place text (the Tm operator)."""
    return sum(len(re.findall(rb"\bTm\b", stream)) for stream in pdf_streams(pdf))


def test_only_plain_runs_take_the_fast_path():
    from xml.etree import ElementTree

    def node(markup: str):
        element = ElementTree.fromstring(markup)
        return type("Node", (), {"attrib": element.attrib, "text": element.text, "get": element.get})()

    assert svg_text.plain_run(node('<tspan x="4" y="9">flow 1</tspan>'))
    assert not svg_text.plain_run(node('<tspan x="4 8 12" y="9">abc</tspan>'))  # a position per letter
    assert not svg_text.plain_run(node('<tspan x="4,8" y="9">abc</tspan>'))
    assert not svg_text.plain_run(node('<tspan x="1.5.5" y="9">abc</tspan>'))  # WeasyPrint reads 1.5 and .5
    assert svg_text.plain_run(node('<tspan x="-4.25" y=".5">abc</tspan>'))
    assert svg_text.plain_run(node('<tspan x="4px" y="1e1">abc</tspan>'))
    assert not svg_text.plain_run(node('<tspan x="4" y="9" dx="1">abc</tspan>'))
    assert not svg_text.plain_run(node('<tspan x="4" y="9" rotate="20">abc</tspan>'))
    assert not svg_text.plain_run(node('<text x="4" y="9" textLength="40">abc</text>'))
    assert not svg_text.plain_run(node('<text x="4" y="9" direction="rtl">abc</text>'))
    assert not svg_text.plain_run(node('<text x="4" y="9"></text>'))


def test_a_report_reads_the_same_as_with_letter_by_letter_labels(sandbox, organization, alice, monkeypatch, artifacts):
    report = report_read(organization, alice, find_model(sandbox, PAYMENTS)["id"])
    fast = threat_model_report_pdf(report, organization=organization, generated_at=GENERATED)
    with monkeypatch.context() as patch:
        _letter_by_letter(patch)
        slow = threat_model_report_pdf(report, organization=organization, generated_at=GENERATED)
    (artifacts / "report.pdf").write_bytes(fast)
    assert _words(fast) == _words(slow)
    for index in range(len(pdf_pages_text(fast))):
        save_page(fast, index, artifacts, f"page-{index + 1}")


def test_groups_that_only_name_a_cell_are_unwrapped_for_print():
    svg = (
        '<svg><g class="tmi-cells"><g class="tmi-edge" data-cell-id="e1"><path d="M0 0L1 1"/>'
        '<g class="tmi-edge-label"><rect width="2"/><text x="1" y="2">flow</text></g></g>'
        '<g transform="translate(4 4)" class="moved"><g class="named"/><rect width="3"/></g>'
        '<g fill="red"><circle r="1"/></g></g></svg>'
    )
    assert svg_text._plain_groups_unwrapped(svg) == (
        '<svg><path d="M0 0L1 1"/><rect width="2"/><text x="1" y="2">flow</text>'
        '<g transform="translate(4 4)" class="moved"><rect width="3"/></g><g fill="red"><circle r="1"/></g></svg>'
    )


def test_a_diagram_without_its_naming_groups_looks_the_same(monkeypatch, artifacts):
    from PIL import ImageChops

    unwrapped = _diagram_pdf()
    monkeypatch.setattr(svg_text, "_plain_groups_unwrapped", lambda svg: svg)
    grouped = _diagram_pdf()
    assert pdf_pages_text(unwrapped) == pdf_pages_text(grouped)
    same = ImageChops.difference(page_image(unwrapped, 0, scale=3), page_image(grouped, 0, scale=3))
    assert same.getbbox() is None
    save_page(unwrapped, 0, artifacts, "unwrapped")
