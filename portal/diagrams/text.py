"""Display text: what is left of a user-written string (from TMI, mostly) once it may be shown.

Bidirectional overrides, isolates and marks (U+202A-202E, U+2066-2069, U+200E, U+200F, U+061C) reorder
what a reader sees: `report\u202egnp.exe` reads as "reportexe.png". C0 controls (but tab and newline), DEL
and C1 controls are invisible or break layouts. All of them are removed before a string reaches a page,
a PDF or a diagram: by the `display_text` template filter (portal/display_filters.py), by the SVG
renderer (svg.clean_text), and in the browser by the live page's twin (static/portal/live/render.js,
cleanDisplayText: keep the two character sets the same; tests/diagrams/test_text.py compares them).

Pure Python, no Django: the lowest layer, importable by everything that shows text.
"""

from __future__ import annotations

import re

# Everything removed, as one character class (the JS twin holds the same list).
DISPLAY_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_display_text(value: object) -> str:
    """The string without bidi controls and control characters (tab and newline stay); None -> ""."""
    if value is None:
        return ""
    return DISPLAY_UNSAFE.sub("", str(value))
