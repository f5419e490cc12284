"""Stakeholder pages. Thin: parse the query, call one selector, render. TMI trouble is handled in
errors.tmi_page, the tenant in organizations.gate.organization_view."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.tmi_pages import arender, tmi_page
from portal.dashboard import selectors
from portal.organizations.gate import organization_view
from portal.portfolio.charts import column_chart, horizontal_bar_chart
from portal.portfolio.vocabulary import SEVERITIES, TM_STATUSES, severity_label, tm_status_label

SORT_LABELS = (
    ("created", gettext_lazy("Newest first")),
    ("name", gettext_lazy("Name")),
    ("changed", gettext_lazy("Last changed")),
    ("risk", gettext_lazy("Open risk")),
)


def home(request):
    """Anyone: what the portal is; signed in: the organisations they belong to."""
    return render(request, "dashboard/home.html", {"memberships": selectors.organizations_for_home(user=request.user)})


@organization_view()
@tmi_page
async def portfolio(request, slug: str):
    data = await selectors.portfolio_for_dashboard(organization=request.organization, user=await request.auser())
    return await arender(
        request,
        "dashboard/portfolio.html",
        {
            "organization": request.organization,
            "portfolio": data,
            "nav": "portfolio",
            "status_chart": horizontal_bar_chart(
                data.by_status, chart_id="chart-status", title=_("Threat models by status"), class_prefix="status-"
            ),
            "severity_chart": column_chart(
                data.open_by_severity,
                chart_id="chart-severity",
                title=_("Open threats by severity"),
                class_prefix="sev-",
            ),
        },
    )


@organization_view()
@tmi_page
async def threat_models(request, slug: str):
    query = request.GET
    listing = await selectors.threat_model_list_for_dashboard(
        organization=request.organization,
        user=await request.auser(),
        search=query.get("q", ""),
        status=query.get("status", ""),
        sort=query.get("sort", ""),
        page=query.get("page", 1),
    )
    return await arender(
        request,
        "dashboard/threat_models.html",
        {
            "organization": request.organization,
            "listing": listing,
            "nav": "threat_models",
            "sort_options": SORT_LABELS,
            "status_options": [(key, tm_status_label(key)) for key in TM_STATUSES],
        },
    )


@organization_view()
@tmi_page
async def threat_model(request, slug: str, threat_model_id):
    detail = await selectors.threat_model_for_dashboard(
        organization=request.organization,
        user=await request.auser(),
        threat_model_id=str(threat_model_id),
        severity=request.GET.get("severity", ""),
        threat_status=request.GET.get("threat_status", ""),
    )
    return await arender(
        request,
        "dashboard/threat_model.html",
        {
            "organization": request.organization,
            "tm": detail,
            "nav": "threat_models",
            "severity_options": [(key, severity_label(key)) for key in SEVERITIES],
            "severity_chart": column_chart(
                detail.open_by_severity,
                chart_id="chart-tm-severity",
                title=_("Open threats by severity"),
                class_prefix="sev-",
            ),
        },
    )
