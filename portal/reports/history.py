"""The portfolio report's "what changed" and trend charts (the records of portfolio/changes.py and trends.py, read
by the export worker): the pages' charts, with their colours inside each SVG (a PDF's SVG images do not see the
page's stylesheet)."""

from __future__ import annotations

from typing import Any

from portal.portfolio.charts import stacked_column_chart, trend_line_chart
from portal.reports.shaping import OPEN_COLOUR, SEVERITY_COLOURS, TM_STATUS_COLOURS, styled_svg

_TEXT = (
    ".chart-label{font-size:13px;fill:#1f2328;font-family:sans-serif}.chart-small{font-size:11px}"
    ".chart-value{font-size:13px;font-weight:bold;fill:#1f2328;font-family:sans-serif}"
    ".axis,.mark{stroke:#8c959f;stroke-width:1}.mark{stroke-dasharray:2 3}"
    ".line{fill:none;stroke-width:2}.line-estimated{stroke-dasharray:5 4}.bar-estimated{fill-opacity:.5}"
)


def _css(colours: dict[str, str], prefix: str, default: str) -> str:
    bars = "".join(f".bar.{prefix}{key}{{fill:{colour}}}" for key, colour in colours.items())
    lines = "".join(f".line.{prefix}{key}{{stroke:{colour}}}" for key, colour in colours.items())
    return f".bar{{fill:{default}}}.line{{stroke:{default}}}{bars}{lines}{_TEXT}"


def history_context(history: Any, anchors: dict[str, str]) -> dict:
    """`history`: exports.since_report.ReportHistory (None: nothing to add). `anchors`: each model's section."""
    if history is None:
        return {}
    trends = history.trends
    statuses = {**TM_STATUS_COLOURS, "unrecorded": "#d0d7de"}
    return {
        "changes": history.changes,
        "change_anchors": anchors,
        "trends": trends,
        "trend_open_chart": styled_svg(
            trend_line_chart(
                trends.open_threats, chart_id="report-trend-open", title="Open threats by severity", class_prefix="sev-"
            ),
            _css(SEVERITY_COLOURS, "sev-", SEVERITY_COLOURS["unknown"]),
        ),
        "trend_status_chart": styled_svg(
            stacked_column_chart(
                trends.models_by_status,
                chart_id="report-trend-status",
                title="Threat models by review status",
                class_prefix="status-",
            ),
            _css(statuses, "status-", OPEN_COLOUR),
        ),
        "trend_closed_chart": styled_svg(
            stacked_column_chart(
                trends.closed_per_week,
                chart_id="report-trend-closed",
                title="Threats closed per week",
                class_prefix="trend-",
            ),
            _css({}, "trend-", OPEN_COLOUR),
        ),
    }
