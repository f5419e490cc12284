"""The live diagram page. The first paint is the dashboard's own SVG rendering, so the page shows the
diagram before (and without) its socket; static/portal/live/ then keeps it live over the socket of
portal/live/consumers.py (protocol: docs/live-protocol.md).

TMI trouble becomes a page in accounts.tmi_pages.tmi_page, the tenant comes from organization_view.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from portal.accounts.tmi_pages import arender, tmi_page
from portal.diagrams import render_svg
from portal.live.closes import closes_for_page
from portal.live.selectors import DiagramMissing, live_diagram_get
from portal.live.words import live_words
from portal.organizations.gate import organization_view
from portal.tmi.collab.frames import MAX_FRAME_BYTES

# Ids inside the SVG (arrowhead markers) are namespaced by this prefix; the page's script draws new
# cells with the same prefix so a live update refers to the same markers as the first paint.
ID_PREFIX = "live"


def socket_path(slug: str, threat_model_id: Any, diagram_id: Any) -> str:
    """The consumer's route (portal/live/routing.py); the script adds ws:// or wss:// and the host."""
    return f"/ws/o/{slug}/threat-models/{threat_model_id}/diagrams/{diagram_id}/live/"


@organization_view()
@tmi_page
async def diagram(request, slug: str, threat_model_id, diagram_id):
    try:
        live = await live_diagram_get(
            organization=request.organization,
            user=await request.auser(),
            threat_model_id=str(threat_model_id),
            diagram_id=str(diagram_id),
        )
    except DiagramMissing:
        return await arender(
            request,
            "404.html",
            {
                "organization": request.organization,
                "reason": _(
                    "This threat model has no diagram at this address, or it has been deleted. Open the threat model "
                    "to see its current diagrams."
                ),
            },
            status=404,
        )
    name = live.diagram.name or _("Diagram")
    return await arender(
        request,
        "live/diagram.html",
        {
            "organization": request.organization,
            "nav": "threat_models",
            "tm": live.threat_model,
            "diagram": live.diagram,
            "diagram_name": name,
            "svg": render_svg(live.cells, title=name, id_prefix=ID_PREFIX),
            "live_config": {
                "socketPath": socket_path(slug, threat_model_id, diagram_id),
                "generation": live.generation,
                "idPrefix": ID_PREFIX,
                "diagramId": str(diagram_id),
                "threatModelId": str(threat_model_id),
                "cells": live.cells,
                # What the socket's close codes mean (portal/live/closes.py), and the largest frame the
                # portal accepts: the script refuses a bigger change itself, in these words.
                "closes": closes_for_page(),
                "maxFrameBytes": MAX_FRAME_BYTES,
                "tooLarge": _("That change was too large to send, so it was not saved."),
                "words": live_words(),
            },
        },
    )
