"""Server-drawn charts: numbers on the bars, words beside them, escaped labels, one palette by class."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from portal.portfolio.charts import column_chart, horizontal_bar_chart, trend_line_chart
from portal.portfolio.records import Count
from portal.portfolio.shaping import severity_counts
from portal.portfolio.trends import Trend, TrendPoint
from portal.portfolio.vocabulary import SEVERITIES, risk_score, severity_key, threat_is_open

NS = "{http://www.w3.org/2000/svg}"


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))


def test_horizontal_bars_are_proportional_and_labelled():
    counts = [Count("in_progress", "In progress", 6), Count("approved", "Approved", 3), Count("closed", "Closed", 0)]
    root = parse(horizontal_bar_chart(counts, chart_id="c", title="By status", class_prefix="status-"))
    bars = root.findall(f".//{NS}rect")
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert [b.get("class") for b in bars] == ["bar status-in_progress", "bar status-approved", "bar status-closed"]
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert texts == ["In progress", "6", "Approved", "3", "Closed", "0"]


def test_a_chart_is_an_image_with_a_title_and_every_number_in_words():
    counts = severity_counts({"high": 2, "low": 1})
    root = parse(column_chart(counts, chart_id="sev", title="Open threats", class_prefix="sev-"))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "sev-title sev-desc"
    assert root.find(f"{NS}title").text == "Open threats"
    assert root.find(f"{NS}desc").text == ("Critical: 0; High: 2; Medium: 0; Low: 1; Informational: 0; Not rated: 0")
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "chart-label"]
    assert labels == ["Critical", "High", "Medium", "Low", "Informational", "Not rated"]


def test_labels_and_titles_are_escaped():
    counts = [Count("x", '<script>alert(1)</script>"', 1)]
    svg = str(horizontal_bar_chart(counts, chart_id="c", title="<b>t</b>", class_prefix="status-"))
    assert "<script" not in svg and "<b>" not in svg
    root = parse(svg)
    assert root.find(f"{NS}title").text == "<b>t</b>"
    assert [t.text for t in root.iter(f"{NS}text")][0] == '<script>alert(1)</script>"'


def test_an_empty_chart_says_so():
    root = parse(column_chart([], chart_id="e", title="Nothing", class_prefix="sev-"))
    assert [t.text for t in root.iter(f"{NS}text")] == ["Nothing to show yet"]
    assert root.find(f"{NS}desc").text == "No data"


def test_both_generations_spellings_share_one_severity():
    assert [
        severity_key(v)
        for v in ("Critical", "high", " MEDIUM ", "Low", "None", "informational", "Unknown", None, "", "bogus")
    ] == [
        "critical",
        "high",
        "medium",
        "low",
        "informational",
        "informational",
        "unknown",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert [c.key for c in severity_counts({})] == list(SEVERITIES)


def test_open_threats_and_the_risk_score():
    assert threat_is_open(status="In Progress", mitigated=False)
    assert threat_is_open(status="identified", mitigated=None)
    assert not threat_is_open(status="Identified", mitigated=True)
    assert not threat_is_open(status="Accepted", mitigated=False)
    assert not threat_is_open(status="false positive", mitigated=None)
    assert risk_score({"critical": 1, "high": 2, "medium": 1, "low": 1, "informational": 4, "unknown": 1}) == 24


def test_each_trend_line_ends_with_its_last_value_and_name_beside_it():
    labels = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
    points = [TrendPoint(day, {"critical": 5, "high": 2 + i % 2, "medium": 3, "low": 3}) for i, day in enumerate(days)]
    trend = Trend(keys=tuple(labels), labels=labels, points=points, history_start=days[0])

    svg = parse(trend_line_chart(trend, chart_id="t", title="Open threats", class_prefix="sev-"))

    ends = svg.findall(f".//{NS}g[@class='chart-end']")
    texts = [end.find(f"{NS}text") for end in ends]
    # The last day's numbers, largest first; two lines ending on the same value each keep their own label.
    assert [t.text for t in texts] == ["5 Critical", "3 High", "3 Medium", "3 Low"]
    assert [end.find(f"{NS}rect").get("class") for end in ends] == [
        f"bar sev-{k}" for k in ("critical", "high", "medium", "low")
    ]
    ys = [float(t.get("y")) for t in texts]
    assert all(b - a >= 13 for a, b in zip(ys, ys[1:], strict=False))  # spread apart, never overlapping
    line_ends = [float(line.get("points").split()[-1].split(",")[0]) for line in svg.findall(f".//{NS}polyline")]
    assert min(float(t.get("x")) for t in texts) > max(line_ends)  # right of the plot, where no line runs
    width = float(svg.get("viewBox").split()[2])
    assert max(float(t.get("x")) + 7.5 * len(t.text) for t in texts) <= width  # and inside the picture


def test_trend_end_labels_of_lines_ending_at_the_bottom_stay_above_the_axis():
    labels = {k: k.title() for k in ("critical", "high", "medium", "low", "info", "none")}
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
    points = [TrendPoint(day, {"critical": 9 if i == 0 else 0}) for i, day in enumerate(days)]
    trend = Trend(keys=tuple(labels), labels=labels, points=points, history_start=days[0])

    svg = parse(trend_line_chart(trend, chart_id="t", title="Open threats", class_prefix="sev-", keys=tuple(labels)))

    texts = [end.find(f"{NS}text") for end in svg.findall(f".//{NS}g[@class='chart-end']")]
    assert [t.text for t in texts] == [f"0 {k.title()}" for k in labels]
    axis_y = max(float(line.get("y1")) for line in svg.findall(f".//{NS}line[@class='axis']"))
    ys = [float(t.get("y")) for t in texts]
    assert ys[-1] <= axis_y + 4
    assert all(b - a >= 13 for a, b in zip(ys, ys[1:], strict=False))
