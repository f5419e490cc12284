"""Issue 18: reports are laid out with WeasyPrint's default stylesheet narrowed (ua_stylesheet.py), so that no
style is computed for pseudo-elements no report has. Only those rules differ, and a report looks the same,
pixel for pixel, as with WeasyPrint's own stylesheet."""

from __future__ import annotations

import difflib

import pytest
from PIL import ImageChops
from weasyprint import HTML
from weasyprint.html import UA

from portal.reports.render import threat_model_report_pdf
from portal.reports.ua_stylesheet import ReportHTML, report_ua_text
from tests.dashboard.conftest import find_model
from tests.reports.conftest import page_image, pdf_pages_text, report_read
from tests.reports.test_render import GENERATED, PAYMENTS

LISTS = """<style>ul.flags { padding-left: 5mm } ol.toc { list-style: none }</style>
<ul class="flags"><li>one</li><li>two<ul><li>nested</li><li>nested <ol start="7"><li>seven</li><li>eight</li></ol></li></ul></li></ul>
<ol><li>first</li><li>second</li></ol><ol class="toc"><li>no marker</li></ol><p>A paragraph.</p>"""


def _same_pages(one: bytes, other: bytes) -> bool:
    pages = len(pdf_pages_text(one))
    return pages == len(pdf_pages_text(other)) and not any(
        ImageChops.difference(page_image(one, i, scale=1), page_image(other, i, scale=1)).getbbox()
        for i in range(pages)
    )


def test_only_the_rules_for_every_elements_pseudo_elements_change():
    diff = [
        line
        for line in difflib.unified_diff(UA.splitlines(), report_ua_text().splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("---", "+++")
    ]
    assert sorted(line.split(" {")[0] for line in diff) == sorted(
        ["+li::marker", "-::marker", "-::footnote-call", "-::footnote-marker"]
        + ["-::note-call", "-::note-marker", "-::note-callback"]
    )


def test_a_stylesheet_it_does_not_know_is_refused():
    with pytest.raises(RuntimeError, match="not the one"):
        report_ua_text("p { margin: 0 }\n")


def test_list_markers_look_the_same():
    assert _same_pages(ReportHTML(string=LISTS).write_pdf(), HTML(string=LISTS).write_pdf())


def test_a_report_looks_the_same_as_with_weasyprints_own_stylesheet(sandbox, organization, alice, monkeypatch):
    report = report_read(organization, alice, find_model(sandbox, PAYMENTS)["id"])
    narrowed = threat_model_report_pdf(report, organization=organization, generated_at=GENERATED)
    monkeypatch.setattr(ReportHTML, "_ua_stylesheets", HTML._ua_stylesheets)
    own = threat_model_report_pdf(report, organization=organization, generated_at=GENERATED)
    assert _same_pages(narrowed, own)
