"""SVG text in PDF reports laid out a run at a time, not a letter at a time.

WeasyPrint draws every SVG <text>/<tspan> letter by letter: one Pango layout, one text object and one
position per character, so that per-letter x/y/dx/dy/rotate lists and letterSpacing/textLength work. Our
diagrams' labels use none of them (one x and one y per <tspan>), and a 300-cell diagram has some 3,000
letters: most of a large report's SVG time went there (issue 18). `install()` puts a drawing in front of
WeasyPrint's that lays out such a plain run whole (one layout, one text object; still vector text that a
reader can select and search), and hands every other case to WeasyPrint's own, unchanged.

WeasyPrint's SVG drawing calls `TAGS[tag](svg, node, font_size)`; the replacement keeps that signature and
the side effects the drawing relies on (the cursor position, the text bounding box used by text-anchor).
"""

from __future__ import annotations

import importlib
import re
from math import inf

import weasyprint.svg as weasy_svg
from weasyprint.svg.bounding_box import extend_bounding_box
from weasyprint.svg.utils import normalize, size

weasy_text = importlib.import_module("weasyprint.svg.text")  # the module (the package's `text` is the function)
_ORIGINAL = weasy_text.text
# A one-line label as portal.diagrams draws it: <text attrs><tspan x=".." y="..">line</tspan></text>. Every
# user-written character in that markup is escaped (no < inside the line, no " inside a value).
_ONE_LINE = re.compile(r'(<text\b[^<>]*)><tspan x="([^"<>]*)" y="([^"<>]*)">([^<]*)</tspan></text>')
# A group's opening or closing tag (attribute values are double-quoted, with no " inside), and its attributes' names.
_GROUP_TAG = re.compile(r'<g((?:\s+[^\s=/>]+="[^"]*")*)\s*/?>|</g>')
_ATTRIBUTE_NAME = re.compile(r'([^\s=/>]+)="')
_PER_LETTER = ("dx", "dy", "rotate", "textLength", "letter-spacing", "lengthAdjust")
# A folded label's own text-anchor, kept where WeasyPrint does not look (see svg_for_print).
PRINT_ANCHOR = "data-print-anchor"
_ANCHOR = re.compile(r' text-anchor="(middle|end)"')
_PLAIN_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")  # what WeasyPrint's normalize() gives back unchanged


def _one_value(value: str) -> str:
    """The value when it is one, as WeasyPrint reads it; '' when it is a list (a position per letter)."""
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    parts = normalize(value).strip().split(" ")
    return parts[0] if len(parts) == 1 else ""


def _single(node, name: str) -> str | None:
    """The attribute when it holds one value (none: None); '' when it holds a list (per-letter positions)."""
    value = node.attrib.get(name)
    return None if value is None else _one_value(value)


def plain_run(node) -> bool:
    """A run WeasyPrint would place letter by letter exactly as one whole run: text, at most one x and one y,
    nothing per letter, a direction of left to right."""
    if not node.text or any(name in node.attrib for name in _PER_LETTER):
        return False
    if node.get("direction", "ltr") != "ltr":
        return False
    return _single(node, "x") != "" and _single(node, "y") != ""


def run_text(svg, node, font_size):
    if not plain_run(node):
        return _ORIGINAL(svg, node, font_size)
    from weasyprint.css.properties import INITIAL_VALUES
    from weasyprint.draw.text import draw_emojis, draw_first_line
    from weasyprint.matrix import Matrix
    from weasyprint.text.line_break import split_first_line

    style = weasy_text.Style()
    style.update(INITIAL_VALUES)
    style.font_config = svg.font_config
    style["font_family"] = [font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")]
    style["font_style"] = node.get("font-style", "normal")
    weight = node.get("font-weight", 400)
    style["font_weight"] = {"normal": 400, "bold": 700}.get(weight, weight)
    try:
        style["font_weight"] = int(style["font_weight"])
    except ValueError:
        style["font_weight"] = 400
    style["font_size"] = font_size

    layout, _, _, width, height, baseline = split_first_line(node.text, style, svg.context, inf, 0)
    x_value, y_value = _single(node, "x"), _single(node, "y")
    x = svg.cursor_position[0] if x_value is None else size(x_value, font_size, svg.inner_width)
    y = svg.cursor_position[1] if y_value is None else size(y_value, font_size, svg.inner_height)
    if x_value is not None:
        svg.cursor_d_position[0] = 0
    if y_value is not None:
        svg.cursor_d_position[1] = 0

    # Vertical alignment as WeasyPrint's own (svg/text.py).
    ascent, descent = font_size * 0.8, font_size * 0.2
    y_align = 0
    display_anchor = node.get("display-anchor")
    alignment_baseline = node.get("dominant-baseline", node.get("alignment-baseline"))
    if display_anchor == "middle":
        y_align = -height / 2
    elif display_anchor == "bottom":
        y_align = -height
    elif display_anchor == "top":
        pass
    elif alignment_baseline in ("central", "middle"):
        y_align = (ascent + descent) / 2 - descent
    elif alignment_baseline in ("text-before-edge", "before_edge", "top", "hanging", "text-top"):
        y_align = ascent
    elif alignment_baseline in ("text-after-edge", "after_edge", "bottom", "text-bottom"):
        y_align = -descent

    x_position = x + svg.cursor_d_position[0]
    if node.get("text-anchor", "start") == "start":  # else WeasyPrint's group moves it
        x_position -= {"middle": width / 2, "end": width}.get(node.get(PRINT_ANCHOR), 0)
    y_position = y + svg.cursor_d_position[1] + y_align
    svg.cursor_position = x + width, y
    node.text_bounding_box = extend_bounding_box(
        node.text_bounding_box,
        ((x_position, y_position - baseline), (x_position + width, y_position - baseline + height)),
    )

    svg.stream.push_state()
    fill, stroke = svg.set_graphical_state(node, font_size)
    svg.stream.begin_text()
    layout.reactivate(style)
    svg.fill_stroke(fill, stroke, text=True)
    text_box = weasy_text.TextBox(layout, style)
    text_box.baseline = baseline
    emojis = draw_first_line(svg.stream, text_box, "none", "none", Matrix(d=-1, e=x_position, f=y_position))
    svg.stream.end_text()
    svg.stream.pop_state()
    draw_emojis(svg.stream, style, x_position - svg.cursor_d_position[0], y, emojis)


def _plain_groups_unwrapped(svg: str) -> str:
    """Each <g> that carries only names (class, data-*) replaced by its children: nothing in it is inherited,
    so they are drawn the same, without the graphics state WeasyPrint saves, sets up and restores per group."""
    out, kept, start = [], [], 0
    for tag in _GROUP_TAG.finditer(svg):
        out.append(svg[start : tag.start()])
        start = tag.end()
        if tag.group(0) == "</g>":
            if kept.pop():
                out.append(tag.group(0))
            continue
        plain = all(name == "class" or name.startswith("data-") for name in _ATTRIBUTE_NAME.findall(tag.group(1)))
        if not plain:
            out.append(tag.group(0))
        if not tag.group(0).endswith("/>"):
            kept.append(not plain)
    out.append(svg[start:])
    return "".join(out)


def _folded(line) -> str:
    """One one-line label as a plain run; its text-anchor handed to run_text when the run is plain (one x,
    one y, nothing per letter, left to right), which shifts it by its width as WeasyPrint's group would."""
    opening, x, y, text = line.groups()
    plain = (
        text
        and _one_value(x)
        and _one_value(y)
        and not any(f'{name}="' in opening for name in (*_PER_LETTER, "direction"))
    )
    if plain:
        opening = _ANCHOR.sub(lambda anchor: f' {PRINT_ANCHOR}="{anchor[1]}"', opening)
    return f'{opening} x="{x}" y="{y}">{text}</text>'


def svg_for_print(svg: str) -> str:
    """A diagram's SVG as the PDF draws it fastest, drawn the same: a one-line label's <tspan> folded into
    its <text> (x and y move to the <text>, its anchor to run_text), and the groups that only name a cell
    or a label unwrapped. WeasyPrint handles each text chunk of a text-anchored <text> as a group of its
    own (a form in the PDF, to measure it before moving it), and saves and restores the graphics state
    around every group: a 300-cell diagram draws in about two thirds of the time without the chunks, and
    in about a quarter less again without the groups (issue 18)."""
    return _plain_groups_unwrapped(_ONE_LINE.sub(_folded, str(svg)))


def install() -> None:
    """Idempotent: the runs of text, tspan (and a, textPath, whose plain runs are the same) go through
    `run_text`."""
    for tag, drawing in list(weasy_svg.TAGS.items()):
        if drawing is _ORIGINAL:
            weasy_svg.TAGS[tag] = run_text
    # The drawing recognises text by comparing with this name (text-anchor, text bounding boxes).
    weasy_svg.text = run_text
