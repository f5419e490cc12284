"""Issue 18: a contents line's leader is held as light repetitions (leaders.py): the pages look the same, pixel
for pixel, and read the same as with WeasyPrint's own copies, also where the lines are moved after their
layout (a table cell's vertical alignment)."""

from __future__ import annotations

import gc

import weasyprint.layout.inline as weasy_inline
from PIL import ImageChops
from weasyprint.formatting_structure.boxes import TextBox

from portal.reports import leaders
from portal.reports.ua_stylesheet import ReportHTML
from tests.reports.conftest import page_image, pdf_pages_text

ENTRIES = "".join(f'<li><a href="#s{n}">Section {n}</a></li>' for n in range(60))
SECTIONS = "".join(f'<h2 id="s{n}">Section {n}</h2><p>Text.</p>' for n in range(60))
CONTENTS = f"""<style>
a::after {{ content: leader(". ") target-counter(attr(href), page); }}
ol {{ list-style: none; padding: 0 }} td {{ vertical-align: middle; width: 50% }}
</style>
<ol>{ENTRIES}</ol>
<table><tr><td><ol>{ENTRIES[:400]}</ol></td><td style="height: 120mm">tall</td></tr></table>
{SECTIONS}"""


def _pdf_and_repetitions() -> tuple[bytes, int]:
    leaders.install()  # as portal.reports.render does (idempotent)
    document = ReportHTML(string=CONTENTS).render()
    gc.collect()
    repetitions = sum(isinstance(o, leaders.Repetition) for o in gc.get_objects())
    return document.write_pdf(), repetitions


def test_leaders_look_and_read_the_same_as_weasyprints_copies(monkeypatch):
    light, repetitions = _pdf_and_repetitions()
    monkeypatch.setattr(leaders, "install", lambda: None)
    monkeypatch.setattr(weasy_inline, "handle_leader", leaders._ORIGINAL)
    copies, none = _pdf_and_repetitions()
    assert repetitions > 60 * 20 and none == 0  # every line's dots (the lines are 20 dots long and more)
    assert pdf_pages_text(light) == pdf_pages_text(copies)
    assert "Section 59 . . ." in " ".join(pdf_pages_text(light))
    for index in range(len(pdf_pages_text(light))):
        difference = ImageChops.difference(page_image(light, index, scale=2), page_image(copies, index, scale=2))
        assert difference.getbbox() is None, index


def test_a_repetition_moves_on_its_own():
    model = TextBox.__new__(TextBox)
    model.__dict__.update(position_x=0, position_y=0, text=". ", children=[])
    one, other = leaders.repetitions(model, [(10, 20), (30, 20)])
    assert isinstance(one, leaders.Repetition) and vars(one) == {"position_x": 10, "position_y": 20}
    one.translate(dx=5, dy=7)
    assert (one.position_x, one.position_y, other.position_x, other.position_y) == (15, 27, 30, 20)
    assert (model.position_x, model.position_y) == (0, 0) and one.text == other.text == ". "
    copied = one.copy()
    copied.translate(dy=1)
    assert (copied.position_y, one.position_y) == (28, 27)


def test_a_box_holding_a_callable_is_copied_plainly():
    model = TextBox.__new__(TextBox)
    model.__dict__.update(position_x=0, position_y=0, text=". ", children=[], hook=print, other=len)
    model.__dict__["function"] = lambda: None
    one, other = leaders.repetitions(model, [(10, 20), (30, 20)])
    assert not isinstance(one, leaders.Repetition) and one.function is model.function
    assert (one.position_x, other.position_x, one.text) == (10, 30, ". ")
