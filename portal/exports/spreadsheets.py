"""A scheduled run's register spreadsheet: the same writers as the register page's downloads
(portfolio/spreadsheets.py), of the open threats of the models the run's PDF reports, read from the store through
the visible set of whoever the run is made with (a member, or the service account: `reader` None)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from portal.exports.models import ExportJob
from portal.portfolio import spreadsheets
from portal.portfolio.register import RegisterAll, RegisterQuery, register_filters_words, threat_register_all
from portal.portfolio.selectors import freshness_get, threat_model_rows
from portal.portfolio.shaping import severity_counts


def _links(slug: str) -> spreadsheets.Links:
    base = settings.PORTAL_BASE_URL.rstrip("/")

    def model(model_id: str) -> str:
        return base + reverse("dashboard:threat_model", args=[slug, model_id])

    return spreadsheets.Links(threat=lambda row: f"{model(row.model_id)}#threat-{row.id}", model=model)


def export_register_spreadsheet(job: ExportJob, *, reader, model_ids: list[str]) -> tuple[bytes, str]:
    """(the file, its name). `model_ids`: the models the PDF reports; none, an empty register."""
    organization = job.organization
    query = RegisterQuery(models=tuple(model_ids))
    models = threat_model_rows(organization=organization, user=reader)
    if model_ids:
        register = threat_register_all(organization=organization, user=reader, query=query)
    else:  # a filter that matched no model: no model filter would mean every model
        register = RegisterAll(rows=[], query=query, by_severity=severity_counts({}), filters=[])
    names = {m.id: m.name for m in models}
    register = RegisterAll(
        rows=register.rows,
        query=register.query,
        by_severity=register.by_severity,
        filters=register_filters_words(query, names),
    )
    links = _links(organization.slug)
    now = timezone.now()
    name = f"{organization.slug}-threats-{timezone.localdate(now):%Y-%m-%d}.{job.spreadsheet}"
    if job.spreadsheet == "csv":
        return spreadsheets.register_csv(register, links=links), name
    provenance = spreadsheets.Provenance(
        organization=organization.name,
        read_at=freshness_get(organization=organization, user=reader).updated_at,
        generated_at=now,
    )
    return spreadsheets.register_xlsx(register, models, links=links, provenance=provenance), name
