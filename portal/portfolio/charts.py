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

from django.utils.formats import date_format
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
        '<g><text class="chart-label" x="{x}" y="{y}" text-anchor="middle">{text}</text></g>',
        x=width / 2,
        y=height / 2,
        text=_("Nothing to show yet"),
    )


# -- trends (portfolio/trends.py): lines per day, stacked columns per week, sparklines ----------------------------
# Days estimated from TMI's dates (before the portal's history) are drawn dashed (lines) or paler (columns), and the
# day the history starts is marked; the description says both in words, with the numbers.
TREND_WIDTH = 640
TREND_PLOT_HEIGHT = 160
TREND_LEFT = 44
TREND_TOP = 26  # room above the plot for the column totals and the history note: no line crosses them
TREND_LEGEND_ROW = 22


def _day_text(day) -> str:
    return date_format(day, "j M Y")


def _short_day(day) -> str:
    return date_format(day, "j M")


def trend_description(trend, keys: Sequence[str] | None = None) -> str:
    """The numbers a trend chart draws, in words: one entry per sampled day (or week), oldest first."""
    keys = tuple(keys or trend.shown_keys())
    parts = []
    for point in trend.samples():
        when = _("week of %(day)s") % {"day": _day_text(point.day)} if trend.weekly else _day_text(point.day)
        numbers = ", ".join(f"{trend.labels.get(k, k)} {point.values.get(k, 0)}" for k in keys)
        parts.append(f"{when}: {numbers}" + (f" ({_('estimated')})" if point.estimated else ""))
    text = "; ".join(parts)
    if trend.history_start:
        text += ". " + _("The portal's history starts on %(day)s.") % {"day": _day_text(trend.history_start)}
    else:
        text += ". " + _("The portal has no history of these yet.")
    if trend.estimated:
        text += " " + _("Numbers marked estimated are worked out from the dates TMI keeps on each threat.")
    return text


def _trend_frame(chart_id: str, title: str, description: str, width: int, height: int, body) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-trend" role="img" viewBox="0 0 {w} {h}" '
        'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        w=width,
        h=height,
        id=chart_id,
        title=title,
        desc=description,
        body=body,
    )


def _scale_top(largest: int) -> int:
    """A round number at or above the largest value, for the y axis."""
    if largest <= 5:
        return max(largest, 1)
    step = 10 ** (len(str(largest)) - 1)
    return -(-largest // step) * step if largest > step else largest


def _axes(top_value: int, left: int, plot_width: int) -> SafeString:
    base = TREND_TOP + TREND_PLOT_HEIGHT
    return format_html(
        # Each text in a <g> of its own (see the stylesheet), none in one that spans the plot: axe-core takes such a
        # group for something drawn over the numbers inside it.
        '<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"></line>'
        '<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"></line>'
        '<g><text class="chart-label" x="{lx}" y="{ty}" text-anchor="end">{top}</text></g>'
        '<g><text class="chart-label" x="{lx}" y="{by}" text-anchor="end">0</text></g>',
        l=left,
        t=TREND_TOP,
        b=base,
        r=left + plot_width,
        lx=left - 6,
        ty=TREND_TOP + 10,
        by=base,
        top=top_value,
    )


def _legend(keys: Sequence[str], labels: dict, class_prefix: str, y: int, width: int) -> tuple[SafeString, int]:
    """Swatches with their names, wrapped in rows; returns the markup and the rows' height."""
    items, x, row = [], TREND_LEFT, 0
    for key in keys:
        label = str(labels.get(key, key))
        span = 28 + 9 * len(label)  # 13px text: about 7.5 units a character, with room
        if x + span > width and x > TREND_LEFT:
            x, row = TREND_LEFT, row + 1
        items.append(
            format_html(
                '<g class="chart-legend"><rect class="bar {cls}" x="{x}" y="{y}" width="14" height="10" rx="2"></rect>'
                '<text class="chart-label" x="{tx}" y="{ty}">{label}</text></g>',
                cls=f"{class_prefix}{key}",
                x=x,
                y=y + row * TREND_LEGEND_ROW,
                tx=x + 20,
                ty=y + row * TREND_LEGEND_ROW + 10,
                label=label,
            )
        )
        x += span
    return mark_safe("".join(items)), (row + 1) * TREND_LEGEND_ROW


def _history_mark(trend, x_of, base: int) -> SafeString:
    start = trend.history_start
    days = [p.day for p in trend.points]
    if not days:
        return mark_safe("")
    if start is None or start > days[0]:
        at = days.index(start) if start in days else (len(days) - 1 if start else 0)
        text = _("history from %(day)s") % {"day": _short_day(start)} if start else _("no history yet: estimated")
        return format_html(
            '<g class="chart-mark"><line class="mark" x1="{x}" y1="{t}" x2="{x}" y2="{b}"></line>'
            '<text class="chart-label chart-note" x="{tx}" y="{ty}" text-anchor="{anchor}">{text}</text></g>',
            x=x_of(at),
            t=TREND_TOP,
            b=base,
            tx=x_of(at) + (-4 if at > len(days) / 2 else 4),
            ty=TREND_TOP - 8,
            anchor="end" if at > len(days) / 2 else "start",
            text=text,
        )
    return mark_safe("")


TREND_END_LABEL_GAP = 13  # between the baselines of two end labels: 13px text never overlaps


def _end_label_texts(trend, keys: Sequence[str]) -> list[tuple[int, str, str]]:
    """(value, key, "value name") of each line on the last day, the largest first (as the lines end, top down)."""
    last = trend.points[-1].values if trend.points else {}
    texts = [(last.get(key, 0), key, f"{last.get(key, 0)} {trend.labels.get(key, key)}") for key in keys]
    return sorted(texts, key=lambda text: -text[0])


def _end_labels(texts: list[tuple[int, str, str]], x: float, y_of, base: int, class_prefix: str) -> SafeString:
    """Each line's last value and name beside its end, with its colour, right of the plot where no line runs.
    Labels of lines that end close together are spread apart, kept within the plot's height."""
    ys = [y_of(value) + 4 for value, _, _ in texts]
    for i in range(1, len(ys)):
        ys[i] = max(ys[i], ys[i - 1] + TREND_END_LABEL_GAP)
    overflow = ys[-1] - (base + 4) if ys else 0
    if overflow > 0:  # pushed below the axis: move the column up, no higher than the plot's top
        ys = [max(y - overflow, TREND_TOP + 4 + i * TREND_END_LABEL_GAP) for i, y in enumerate(ys)]
    return mark_safe(
        "".join(
            format_html(
                '<g class="chart-end"><rect class="bar {cls}" x="{x}" y="{ry}" width="8" height="8" rx="2"></rect>'
                '<text class="chart-label" x="{tx}" y="{y}">{text}</text></g>',
                cls=f"{class_prefix}{key}",
                x=x,
                ry=y - 8,
                tx=x + 12,
                y=y,
                text=text,
            )
            for (_, key, text), y in zip(texts, ys, strict=True)
        )
    )


def trend_line_chart(
    trend, *, chart_id: str, title: str, class_prefix: str, keys: Sequence[str] | None = None
) -> SafeString:
    """One line per key over the days; estimated days dashed; the history's first day marked; first and last day
    named under the axis; each line's last value and name beside its end; a legend of the keys."""
    keys = tuple(keys or trend.shown_keys())
    points = trend.points
    end_texts = _end_label_texts(trend, keys)
    gutter = 24 + 7.5 * max((len(text) for _, _, text in end_texts), default=0)  # 13px text: ~7.5 units a character
    plot_width = TREND_WIDTH - TREND_LEFT - max(16, round(gutter))
    largest = max((p.values.get(k, 0) for p in points for k in keys), default=0)
    top_value = _scale_top(largest)
    base = TREND_TOP + TREND_PLOT_HEIGHT
    step = plot_width / max(len(points) - 1, 1)

    def x_of(i: int) -> float:
        return round(TREND_LEFT + i * step, 1)

    def y_of(value: int) -> float:
        return round(base - TREND_PLOT_HEIGHT * value / top_value, 1)

    lines = []
    for key in keys:
        values = [p.values.get(key, 0) for p in points]
        run_start = 0
        for i in range(1, len(points) + 1):
            if i == len(points) or points[i].estimated != points[run_start].estimated:
                end = min(i, len(points) - 1)  # a run reaches the next run's first day: the line has no gap
                coords = " ".join(f"{x_of(j)},{y_of(values[j])}" for j in range(run_start, end + 1))
                dashed = " line-estimated" if points[run_start].estimated else ""
                lines.append(
                    format_html(
                        '<polyline class="line {cls}{dashed}" points="{coords}"></polyline>',
                        cls=f"{class_prefix}{key}",
                        dashed=dashed,
                        coords=coords,
                    )
                )
                run_start = i
    labels = format_html(
        '<g><text class="chart-label" x="{x1}" y="{y}">{first}</text></g>'
        '<g><text class="chart-label" x="{x2}" y="{y}" text-anchor="end">{last}</text></g>',
        x1=TREND_LEFT,
        x2=TREND_LEFT + plot_width,
        y=base + 18,
        first=_short_day(points[0].day) if points else "",
        last=_short_day(points[-1].day) if points else "",
    )
    legend, legend_height = _legend(keys, trend.labels, class_prefix, base + 30, TREND_WIDTH)
    ends = _end_labels(end_texts, TREND_LEFT + plot_width + 6, y_of, base, class_prefix) if points else mark_safe("")
    body = mark_safe(
        _axes(top_value, TREND_LEFT, plot_width)
        + _history_mark(trend, x_of, base)
        + "".join(lines)
        + ends
        + labels
        + legend
    )
    return _trend_frame(chart_id, title, trend_description(trend, keys), TREND_WIDTH, base + 30 + legend_height, body)


def stacked_column_chart(
    trend, *, chart_id: str, title: str, class_prefix: str, keys: Sequence[str] | None = None
) -> SafeString:
    """One column per sampled day (weekly trends: per week), its keys stacked, its total above it and its day
    under it; estimated columns paler."""
    keys = tuple(keys or trend.shown_keys())
    points = trend.samples()
    column, gap = 34, 20
    plot_width = max(len(points), 1) * (column + gap)
    width = max(TREND_LEFT + plot_width + 16, 320)
    largest = max((sum(p.values.get(k, 0) for k in keys) for p in points), default=0)
    top_value = _scale_top(largest)
    base = TREND_TOP + TREND_PLOT_HEIGHT
    columns = []
    for index, point in enumerate(points):
        x = TREND_LEFT + gap / 2 + index * (column + gap)
        y = base
        parts = []
        for key in keys:
            value = point.values.get(key, 0)
            if not value:
                continue
            height = TREND_PLOT_HEIGHT * value / top_value
            y -= height
            parts.append(
                format_html(
                    '<rect class="bar {cls}{est}" x="{x}" y="{y}" width="{w}" height="{h}"></rect>',
                    cls=f"{class_prefix}{key}",
                    est=" bar-estimated" if point.estimated else "",
                    x=round(x, 1),
                    y=round(y, 1),
                    w=column,
                    h=round(height, 1),
                )
            )
        total = sum(point.values.get(k, 0) for k in keys)
        columns.append(
            format_html(
                '<g class="chart-column">{parts}<text class="chart-value" x="{cx}" y="{vy}" text-anchor="middle">'
                "{total}</text>"
                '<text class="chart-label chart-small" x="{cx}" y="{ly}" text-anchor="middle">{day}</text></g>',
                parts=mark_safe("".join(parts)),
                cx=round(x + column / 2, 1),
                vy=round(y - 6, 1),  # clear of the bar and the axis, which must not overlap the number
                total=total,
                ly=base + 16,
                day=_short_day(point.day),
            )
        )
    legend, legend_height = _legend(keys, trend.labels, class_prefix, base + 30, width)
    body = mark_safe(_axes(top_value, TREND_LEFT, plot_width) + "".join(columns) + legend)
    return _trend_frame(chart_id, title, trend_description(trend, keys), width, base + 30 + legend_height, body)


def sparkline(
    values: Sequence[int], *, chart_id: str, title: str, description: str, class_name: str = ""
) -> SafeString:
    """A small line of the values (oldest first), for a headline number; the numbers are in the description."""
    width, height, pad = 120, 32, 3
    largest = max(values, default=0) or 1
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    coords = " ".join(
        f"{round(pad + i * step, 1)},{round(height - pad - (height - 2 * pad) * v / largest, 1)}"
        for i, v in enumerate(values)
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" role="img" viewBox="0 0 {w} {h}" width="{w}" '
        'height="{h}" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{title}</title>'
        '<desc id="{id}-desc">{desc}</desc><polyline class="line {cls}" points="{coords}"></polyline></svg>',
        w=width,
        h=height,
        id=chart_id,
        title=title,
        desc=description,
        cls=class_name,
        coords=coords,
    )
