"""Stakeholder pages. Thin: parse the query, call one portfolio selector (the store, no TMI call), render. The
tenant is checked in organizations.gate.organization_view; the member's visible set and freshness in
portfolio.pages (a first visit shows the progress of the first read instead of waiting for it)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.accounts.tmi_pages import arender, tmi_page
from portal.dashboard.reading import reading_page
from portal.dashboard.trend_pages import overview_trends_context, threat_model_trend_context
from portal.organizations.gate import organization_view
from portal.portfolio import flags, selectors
from portal.portfolio.changes import member_visit_record
from portal.portfolio.charts import column_chart, horizontal_bar_chart
from portal.portfolio.links import counts_linked, model_list_url, register_url
from portal.portfolio.pages import page_freshness, refresh_ask
from portal.portfolio.selectors import NO_STATUS
from portal.portfolio.vocabulary import SEVERITIES, risk_score, severity_label

SORT_LABELS = (
    ("created", gettext_lazy("Newest first")),
    ("name", gettext_lazy("Name")),
    ("changed", gettext_lazy("Last changed")),
    ("risk", gettext_lazy("Open risk")),
)


def home(request):
    """Anyone: what the portal is; signed in: the organisations they belong to."""
    return render(request, "dashboard/home.html", {"memberships": _memberships(request.user)})


def _memberships(user) -> list:
    if not user.is_authenticated:
        return []
    return list(user.memberships.select_related("organization").order_by("organization__name"))


@organization_view()
@tmi_page
async def portfolio(request, slug: str):
    user = await request.auser()
    freshness = await page_freshness(request.organization, user)
    if freshness.first_read:
        return await reading_page(request, freshness, "portfolio")
    data = await database_sync_to_async(selectors.portfolio_overview_cached)(
        organization=request.organization, user=user
    )
    slug = request.organization.slug
    by_status = counts_linked(data.by_status, lambda c: model_list_url(slug, status=c.key or NO_STATUS))
    by_severity = counts_linked(data.open_by_severity, lambda c: register_url(slug, severity=c.key))
    await database_sync_to_async(member_visit_record)(organization=request.organization, user=user)
    trends = await database_sync_to_async(overview_trends_context)(request.organization, user)
    flag_groups = await database_sync_to_async(flags.portfolio_flag_groups_get)(
        organization=request.organization, user=user
    )
    return await arender(
        request,
        "dashboard/portfolio.html",
        {
            "organization": request.organization,
            "portfolio": data,
            "by_status": by_status,
            "by_severity": by_severity,
            "models_url": model_list_url(slug),
            "open_threats_url": register_url(slug),
            "flag_groups": flag_groups,
            "freshness": freshness,
            "nav": "portfolio",
            "status_chart": horizontal_bar_chart(
                by_status, chart_id="chart-status", title=_("Threat models by status"), class_prefix="status-"
            ),
            "severity_chart": column_chart(
                by_severity,
                chart_id="chart-severity",
                title=_("Open threats by severity"),
                class_prefix="sev-",
            ),
            **trends,
        },
    )


@organization_view()
@tmi_page
async def threat_models(request, slug: str):
    user = await request.auser()
    freshness = await page_freshness(request.organization, user)
    if freshness.first_read:
        return await reading_page(request, freshness, "threat_models")
    query = request.GET
    listing = await database_sync_to_async(selectors.threat_model_list_get)(
        organization=request.organization,
        user=user,
        search=query.get("q", ""),
        status=query.get("status", ""),
        sort=query.get("sort", ""),
        page=query.get("page", 1),
        unchanged_for=query.get("unchanged_for", 0),
        no_reviewer=query.get("no_reviewer", ""),
    )
    # The statuses the member's models have, with how many: a choice never leads to an empty list.
    status_options = [
        (c.key, f"{c.label} ({c.count})")
        for c in await database_sync_to_async(selectors.threat_model_status_counts)(
            organization=request.organization, user=user
        )
        if c.count or c.key == listing.status
    ]
    return await arender(
        request,
        "dashboard/threat_models.html",
        {
            "organization": request.organization,
            "listing": listing,
            "freshness": freshness,
            "nav": "threat_models",
            "sort_options": SORT_LABELS,
            "status_options": status_options,
        },
    )


@organization_view()
@tmi_page
async def threat_model(request, slug: str, threat_model_id):
    user = await request.auser()
    freshness = await page_freshness(request.organization, user, threat_model_id=str(threat_model_id))
    if freshness.first_read:
        return await reading_page(request, freshness, "threat_models")
    detail = await database_sync_to_async(selectors.threat_model_detail_get)(
        organization=request.organization,
        user=user,
        threat_model_id=str(threat_model_id),
        severity=request.GET.get("severity", ""),
        threat_status=request.GET.get("threat_status", ""),
    )
    if detail is None:
        if freshness.model_pending:
            return await reading_page(request, freshness, "threat_models")
        # Rendered here rather than raised: Django's 404 handler would drop these words and the organisation's bar.
        return await arender(
            request,
            "404.html",
            {
                "organization": request.organization,
                "nav": "threat_models",
                "reason": _("This threat model does not exist, or TMI does not let you see it."),
            },
            status=404,
        )
    history = await database_sync_to_async(threat_model_trend_context)(request.organization, user, detail.id)
    tm_flags = await database_sync_to_async(flags.threat_model_flags_get)(
        organization=request.organization, user=user, threat_model_id=str(threat_model_id)
    )
    return await arender(
        request,
        "dashboard/threat_model.html",
        {
            "organization": request.organization,
            "tm": detail,
            "tm_flags": tm_flags,
            "ssvc_shown": any(t.ssvc for t in detail.threats),
            "tm_risk_score": risk_score({count.key: count.count for count in detail.open_by_severity}),
            "freshness": freshness,
            "nav": "threat_models",
            "severity_options": [(key, severity_label(key)) for key in SEVERITIES],
            "severity_chart": column_chart(
                counts_linked(
                    detail.open_by_severity,
                    lambda c: register_url(request.organization.slug, model=detail.id, severity=c.key),
                ),
                chart_id="chart-tm-severity",
                title=_("Open threats by severity"),
                class_prefix="sev-",
            ),
            **history,
        },
    )


@require_POST
@organization_view()
def refresh(request, slug: str):
    """ "Refresh now": the member's visible set, and the threat model of the page they were on, read from TMI at
    once (in the background); back to that page, which says it is being refreshed."""
    threat_model_id = request.POST.get("threat_model_id", "")
    refresh_ask(request.organization, request.user, threat_model_id=threat_model_id)
    messages.info(
        request, _("Asked TMI for the latest. This page shows it as soon as it arrives, usually within seconds.")
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = f"/o/{request.organization.slug}/"
    return redirect(back)
