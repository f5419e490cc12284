"""The "what changed" page (since your last visit, this week, this month) and the trends page. Thin, as the other
stakeholder pages: the tenant checked by organization_view, freshness by portfolio.pages, reads from the store."""

from __future__ import annotations

from channels.db import database_sync_to_async

from portal.accounts.tmi_pages import arender, tmi_page
from portal.dashboard.reading import reading_page
from portal.dashboard.trend_pages import trends_page_context
from portal.organizations.gate import organization_view
from portal.portfolio.changes import PERIODS, what_changed_for_period
from portal.portfolio.pages import page_freshness


@organization_view()
@tmi_page
async def changes(request, slug: str):
    user = await request.auser()
    freshness = await page_freshness(request.organization, user)
    if freshness.first_read:
        return await reading_page(request, freshness, "portfolio")
    period = request.GET.get("period", "visit")
    period = period if period in PERIODS else "visit"
    changed = await database_sync_to_async(what_changed_for_period)(
        organization=request.organization, user=user, period=period
    )
    return await arender(
        request,
        "dashboard/changes.html",
        {
            "organization": request.organization,
            "freshness": freshness,
            "nav": "portfolio",
            "changed": changed,
            "asked": period,
        },
    )


@organization_view()
@tmi_page
async def trends(request, slug: str):
    user = await request.auser()
    freshness = await page_freshness(request.organization, user)
    if freshness.first_read:
        return await reading_page(request, freshness, "portfolio")
    context = await database_sync_to_async(trends_page_context)(request.organization, user)
    return await arender(
        request,
        "dashboard/trends.html",
        {"organization": request.organization, "freshness": freshness, "nav": "portfolio", **context},
    )
