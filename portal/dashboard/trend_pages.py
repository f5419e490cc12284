"""What the trend and "what changed" parts of the pages print: the portfolio's selectors (trends.py, changes.py)
shaped with their charts and words. Used by the overview, the model page, and the changes and trends pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.portfolio.changes import what_changed_for_period
from portal.portfolio.charts import sparkline, stacked_column_chart, trend_line_chart
from portal.portfolio.links import model_list_url, register_url
from portal.portfolio.trends import Headline, closed_per_week_trend, headlines, open_threats_trend, trends_get


def change_words(change: int, *, estimated: bool) -> str:
    """ "1 more than last week", "2 fewer than last week", "the same as last week"."""
    if change > 0:
        words = ngettext("%(n)d more than last week", "%(n)d more than last week", change) % {"n": change}
    elif change < 0:
        words = ngettext("%(n)d fewer than last week", "%(n)d fewer than last week", -change) % {"n": -change}
    else:
        words = _("the same as last week")
    if estimated:
        words += " " + _("(last week's number estimated from TMI's dates)")
    return words


@dataclass(frozen=True)
class HeadlineView:
    key: str
    label: str
    count: int
    change: int
    change_text: str
    estimated: bool  # last week's number is estimated from TMI's dates
    href: str
    sparkline: SafeString


def _headline_view(slug: str, line: Headline, days: int) -> HeadlineView:
    if line.key == "models":
        href = model_list_url(slug)
    elif line.key == "open":
        href = register_url(slug, state="open")
    else:
        href = register_url(slug, severity=line.key, state="open")
    samples = line.series[::-1][::7][::-1]
    description = _("The last %(days)d days, a number a week, oldest first: %(numbers)s.") % {
        "days": days,
        "numbers": ", ".join(str(n) for n in samples),
    }
    return HeadlineView(
        key=line.key,
        label=line.label,
        count=line.count,
        change=line.change,
        change_text=change_words(line.change, estimated=False),  # said once under the numbers (the partial)
        estimated=line.estimated,
        href=href,
        sparkline=sparkline(
            line.series,
            chart_id=f"spark-{line.key}",
            title=_("%(label)s over the last %(days)d days") % {"label": line.label, "days": days},
            description=description,
            class_name=f"sev-{line.key}" if line.key not in ("open", "models") else "",
        ),
    )


def overview_trends_context(organization: Any, user: Any) -> dict:
    """The overview's "since your last visit" and headline numbers with their change since last week. Call after
    the visit is recorded (changes.member_visit_record)."""
    days = settings.PORTAL_TREND_DAYS
    trends = trends_get(organization=organization, user=user)
    return {
        "since_visit": what_changed_for_period(organization=organization, user=user, period="visit"),
        "headlines": [_headline_view(organization.slug, line, days) for line in headlines(trends)],
        "headlines_estimated": any(line.estimated for line in headlines(trends)),
        "history_start": trends.open_threats.history_start,
        "trend_days": days,
    }


def trends_page_context(organization: Any, user: Any) -> dict:
    trends = trends_get(organization=organization, user=user)
    return {
        "trends": trends,
        "trend_days": settings.PORTAL_TREND_DAYS,
        "open_chart": trend_line_chart(
            trends.open_threats, chart_id="trend-open", title=_("Open threats by severity"), class_prefix="sev-"
        ),
        "status_chart": stacked_column_chart(
            trends.models_by_status,
            chart_id="trend-status",
            title=_("Threat models by review status"),
            class_prefix="status-",
        ),
        "closed_chart": stacked_column_chart(
            trends.closed_per_week,
            chart_id="trend-closed",
            title=_("Threats closed per week"),
            class_prefix="trend-",
        ),
    }


def threat_model_trend_context(organization: Any, user: Any, threat_model_id: str) -> dict:
    """The model page's own trend (open threats by severity, closed per week) and its history of changes."""
    from portal.portfolio.changes import threat_model_history_get

    trend = open_threats_trend(organization=organization, user=user, threat_model_id=threat_model_id)
    closed = closed_per_week_trend(organization=organization, user=user, threat_model_id=threat_model_id)
    return {
        "model_trend": trend,
        "model_closed": closed,
        "model_trend_chart": trend_line_chart(
            trend, chart_id="tm-trend-open", title=_("Open threats by severity"), class_prefix="sev-"
        ),
        "model_closed_chart": stacked_column_chart(
            closed, chart_id="tm-trend-closed", title=_("Threats closed per week"), class_prefix="trend-"
        ),
        "model_history": threat_model_history_get(
            organization=organization, user=user, threat_model_id=threat_model_id
        ),
        "trend_days": settings.PORTAL_TREND_DAYS,
    }
