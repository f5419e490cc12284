"""Charts a person reads in five seconds, drawn on the server as SVG (no JavaScript, nothing fetched).

Each bar carries its number as text next to it, its category in words beside it, and a CSS class for
its colour (`sev-high`, `status-approved`: the stylesheet holds the one palette, shared with badges).
The SVG is an image with a title and a description listing every number; the page also prints the
same numbers in a table for screen readers. Every label is escaped here.

A count that carries a `url` (portfolio/links.py) makes its bar, number and label one link to what it counts;
such a chart is a group of links named by its title rather than an image (an image's inside is not reachable).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from portal.portfolio.records import Count

ROW_HEIGHT = 34
BAR_HEIGHT = 22
LABEL_WIDTH = 150
BAR_SPACE = 300
NUMBER_SPACE = 56


def _description(counts: Sequence[Count]) -> str:
    return "; ".join(f"{c.label}: {c.count}" for c in counts)


def _frame(chart_id: str, title: str, counts: Sequence[Count], width: int, height: int, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="{role}" viewBox="0 0 {w} {h}" '
        'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        role="group" if any(c.url for c in counts) else "img",
        w=width,
        h=height,
        id=chart_id,
        title=title,
        desc=_description(counts) or _("No data"),
        body=body,
    )


def _linked(item: Count, drawn: SafeString) -> SafeString:
    """The drawing of one count, as a link to what it counts when it has somewhere to lead."""
    if not item.url:
        return drawn
    return format_html(
        '<a class="chart-link" href="{url}" aria-label="{name}">{drawn}</a>',
        url=item.url,
        name=_("%(label)s: %(count)s, show them") % {"label": item.label, "count": item.count},
        drawn=drawn,
    )


def horizontal_bar_chart(counts: Sequence[Count], *, chart_id: str, title: str, class_prefix: str) -> SafeString:
    """One row per category: its name on the left, a bar, and the number at the bar's end."""
    largest = max((c.count for c in counts), default=0) or 1
    rows = []
    for index, item in enumerate(counts):
        y = index * ROW_HEIGHT + 6
        length = round(BAR_SPACE * item.count / largest) if item.count else 0
        rows.append(
            _linked(
                item,
                format_html(
                    '<g class="chart-row"><text class="chart-label" x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
                    '<rect class="bar {cls}" x="{bx}" y="{y}" width="{length}" height="{bh}" rx="3"></rect>'
                    '<text class="chart-value" x="{vx}" y="{ty}">{count}</text></g>',
                    lx=LABEL_WIDTH - 10,
                    ty=y + BAR_HEIGHT * 0.72,
                    label=item.label,
                    cls=f"{class_prefix}{item.key}",
                    bx=LABEL_WIDTH,
                    y=y,
                    length=max(length, 2 if item.count else 0),
                    bh=BAR_HEIGHT,
                    vx=LABEL_WIDTH + length + 8,
                    count=item.count,
                ),
            )
        )
    height = max(len(counts), 1) * ROW_HEIGHT + 8
    body = mark_safe("".join(rows)) if rows else _empty(LABEL_WIDTH + BAR_SPACE + NUMBER_SPACE, height)
    return _frame(chart_id, title, counts, LABEL_WIDTH + BAR_SPACE + NUMBER_SPACE, height, body)


COLUMN_WIDTH = 70
COLUMN_GAP = 18
COLUMN_SPACE = 160


def column_chart(counts: Sequence[Count], *, chart_id: str, title: str, class_prefix: str) -> SafeString:
    """One column per category, its number above it and its name below it (severity in words, not colour)."""
    largest = max((c.count for c in counts), default=0) or 1
    top = 24
    columns = []
    for index, item in enumerate(counts):
        x = COLUMN_GAP + index * (COLUMN_WIDTH + COLUMN_GAP)
        length = round(COLUMN_SPACE * item.count / largest) if item.count else 0
        length = max(length, 2 if item.count else 0)
        base = top + COLUMN_SPACE
        columns.append(
            _linked(
                item,
                format_html(
                    '<g class="chart-column"><rect class="bar {cls}" x="{x}" y="{y}" width="{w}" height="{h}" rx="3"></rect>'
                    '<text class="chart-value" x="{cx}" y="{vy}" text-anchor="middle">{count}</text>'
                    '<text class="chart-label" x="{cx}" y="{ly}" text-anchor="middle">{label}</text></g>',
                    cls=f"{class_prefix}{item.key}",
                    x=x,
                    y=base - length,
                    w=COLUMN_WIDTH,
                    h=length,
                    cx=x + COLUMN_WIDTH / 2,
                    vy=base - length - 6,
                    count=item.count,
                    ly=base + 18,
                    label=item.label,
                ),
            )
        )
    width = COLUMN_GAP + max(len(counts), 1) * (COLUMN_WIDTH + COLUMN_GAP)
    height = top + COLUMN_SPACE + 30
    body = mark_safe("".join(columns)) if columns else _empty(width, height)
    return _frame(chart_id, title, counts, width, height, body)


def _empty(width: int, height: int) -> SafeString:
    return format_html(
        '<text class="chart-label" x="{x}" y="{y}" text-anchor="middle">{text}</text>',
        x=width / 2,
        y=height / 2,
        text=_("Nothing to show yet"),
    )
