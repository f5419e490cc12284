"""The page a member meets before their models were ever read from TMI: the first read's progress, looking again
by itself. Every stakeholder page shows it in place of what it would show."""

from __future__ import annotations

from portal.accounts.tmi_pages import arender


async def reading_page(request, freshness, nav: str):
    return await arender(
        request,
        "dashboard/reading.html",
        {"organization": request.organization, "freshness": freshness, "nav": nav},
    )
