"""WeasyPrint's default (user-agent) stylesheet, its rules for every element's pseudo-elements narrowed.

WeasyPrint 70's stylesheet styles ::marker, ::footnote-call, ::footnote-marker, ::note-call, ::note-marker and
::note-callback of every element, and WeasyPrint then computes a style for each of those six pseudo-elements
of every element, used or not: in a 50-model portfolio 58,000 of its 66,000 computed styles, a fifth of the
memory its layout holds (issue 18). In a report a marker can only be a list item's (ours, or a Markdown
list's), and nothing floats as a footnote or note (our stylesheet places none; the Markdown is cleaned of
style attributes): so the marker rule is kept for list items and the note rules are left out. The rest of
the stylesheet is WeasyPrint's own text, read from the installed package.
"""

from __future__ import annotations

import re

from weasyprint import CSS, HTML
from weasyprint.css.counters import CounterStyle
from weasyprint.html import UA, UA_FORM_STYLESHEET

_EVERY_MARKER = "\n::marker {"
_NOTE_RULES = re.compile(r"^::(?:footnote|note)-[a-z]+ \{[^}]*\}\n", re.MULTILINE)


def report_ua_text(ua: str = UA) -> str:
    if _EVERY_MARKER not in ua or len(_NOTE_RULES.findall(ua)) != 5:
        # The pin (weasyprint>=70,<71) keeps this from happening unnoticed; tests/reports check it too.
        raise RuntimeError("WeasyPrint's default stylesheet is not the one portal/reports/ua_stylesheet.py knows")
    return _NOTE_RULES.sub("", ua.replace(_EVERY_MARKER, "\nli::marker {"))


# Its @counter-style rules are WeasyPrint's, already read into the counter styles every document starts from
# (HTML._ua_counter_style): read again into a dictionary of their own, not into that one (which refuses a second
# "disc" and "decimal", with a warning).
REPORT_UA_STYLESHEET = CSS(string=report_ua_text(), counter_style=CounterStyle())


class ReportHTML(HTML):
    """A report's HTML, laid out with the narrowed default stylesheet."""

    def _ua_stylesheets(self, forms=False):
        return [REPORT_UA_STYLESHEET, UA_FORM_STYLESHEET] if forms else [REPORT_UA_STYLESHEET]
