"""The register of threats across all models, and the spreadsheets of the register and of the model list. Thin:
parse the query, call one portfolio selector (the store, no TMI call), render or write.

The spreadsheet views are async like the pages, for the same reason: `page_freshness` first (the member's visible
set touched and read again when stale, sign-in trouble answered by `tmi_page`), so a download holds exactly what
the page it came from shows. A member whose models were never read gets the reading page, not an empty file."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.tmi_pages import arender, tmi_page
from portal.dashboard.reading import reading_page
from portal.organizations.gate import organization_view
from portal.portfolio import spreadsheets
from portal.portfolio.pages import page_freshness
from portal.portfolio.register import (
    SORT_LABELS,
    SSVC_LABELS,
    STATE_LABELS,
    threat_model_list_all,
    threat_register_all,
    threat_register_get,
)
from portal.portfolio.selectors import threat_model_rows
from portal.portfolio.vocabulary import SEVERITIES, TM_STATUSES, severity_label, term_key, tm_status_label


@organization_view()
@tmi_page
async def threats(request, slug: str):
    user = await request.auser()
    freshness = await page_freshness(request.organization, user)
    if freshness.first_read:
        return await reading_page(request, freshness, "threats")
    register = await database_sync_to_async(threat_register_get)(
        organization=request.organization, user=user, query=request.GET
    )
    return await arender(
        request,
        "dashboard/threats.html",
        {
            "organization": request.organization,
            "register": register,
            "query": register.query,
            "freshness": freshness,
            "nav": "threats",
            "severity_options": [(key, severity_label(key)) for key in SEVERITIES],
            "state_options": list(STATE_LABELS.items()),
            "ssvc_options": list(SSVC_LABELS.items()),
            "sort_options": SORT_LABELS,
            "download_query": _download_query(register.query.filter_params),
        },
    )


def _download_query(params: list[tuple[str, str]]) -> str:
    return "?" + urlencode(params) if params else ""


def _links(request) -> spreadsheets.Links:
    slug = request.organization.slug

    def model(model_id: str) -> str:
        return request.build_absolute_uri(reverse("dashboard:threat_model", args=[slug, model_id]))

    return spreadsheets.Links(threat=lambda row: f"{model(row.model_id)}#threat-{row.id}", model=model)


def _file(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"  # what a member may read, not for shared caches
    return response


def _file_name(request, what: str, extension: str) -> str:
    return f"{request.organization.slug}-{what}-{timezone.localdate():%Y-%m-%d}.{extension}"


def _download(what: str, build: Callable, extension: str, content_type: str):
    """A spreadsheet view: the page's freshness step, then `build(request, user, freshness)` in a thread."""

    @organization_view()
    @tmi_page
    async def view(request, slug: str):
        user = await request.auser()
        freshness = await page_freshness(request.organization, user)
        if freshness.first_read:
            return await reading_page(request, freshness, "threats" if what == "threats" else "threat_models")
        content = await database_sync_to_async(build)(request, user, freshness)
        return _file(content, content_type, _file_name(request, what, extension))

    view.__name__ = f"{what}_{extension}"
    return view


def _register(request, user):
    return threat_register_all(organization=request.organization, user=user, query=request.GET)


def _model_list(request, user):
    query = request.GET
    return threat_model_list_all(
        organization=request.organization,
        user=user,
        search=query.get("q", ""),
        status=query.get("status", ""),
        sort=query.get("sort", ""),
    ).rows


def _model_list_filters(request) -> list[str]:
    words = []
    if (request.GET.get("q") or "").strip():
        words.append(_("Names containing “%(q)s”") % {"q": request.GET["q"].strip()[:200]})
    status = term_key(request.GET.get("status", ""))
    if status in TM_STATUSES:
        words.append(_("Status: %(status)s") % {"status": tm_status_label(status)})
    return words


def _provenance(request, freshness) -> spreadsheets.Provenance:
    return spreadsheets.Provenance(
        organization=request.organization.name, read_at=freshness.updated_at, generated_at=timezone.now()
    )


def _threats_csv(request, user, freshness) -> bytes:
    return spreadsheets.register_csv(_register(request, user), links=_links(request))


def _threats_xlsx(request, user, freshness) -> bytes:
    models = threat_model_rows(organization=request.organization, user=user)
    return spreadsheets.register_xlsx(
        _register(request, user), models, links=_links(request), provenance=_provenance(request, freshness)
    )


def _models_csv(request, user, freshness) -> bytes:
    return spreadsheets.threat_models_csv(_model_list(request, user), links=_links(request))


def _models_xlsx(request, user, freshness) -> bytes:
    return spreadsheets.threat_models_xlsx(
        _model_list(request, user),
        links=_links(request),
        provenance=_provenance(request, freshness),
        filters=_model_list_filters(request),
    )


threats_csv = _download("threats", _threats_csv, "csv", spreadsheets.CSV_CONTENT_TYPE)
threats_xlsx = _download("threats", _threats_xlsx, "xlsx", spreadsheets.XLSX_CONTENT_TYPE)
threat_models_csv = _download("threat-models", _models_csv, "csv", spreadsheets.CSV_CONTENT_TYPE)
threat_models_xlsx = _download("threat-models", _models_xlsx, "xlsx", spreadsheets.XLSX_CONTENT_TYPE)
