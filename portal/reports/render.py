"""Reports read from the portfolio store -> PDF bytes: Django templates (autoescaped) laid out by WeasyPrint.

Diagrams and charts are inline SVG, so they stay vector in the PDF. WeasyPrint gets a fetcher that loads
data: URIs only (fetching.py): nothing in a report, however a user wrote it in TMI, reaches the network or
the file system. Pure rendering: no TMI calls, no database writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from django.template.loader import render_to_string

from portal.diagrams.text import clean_display_text
from portal.portfolio.report_data import ThreatModelReport
from portal.portfolio.vocabulary import risk_score_legend
from portal.reports.fetching import DataOnlyURLFetcher, logo_data_uri
from portal.reports.history import history_context
from portal.reports.leaders import install as leaders_install
from portal.reports.shaping import model_section, portfolio_summary, report_flag_groups, reports_by_risk
from portal.reports.svg_paint import install as svg_paint_install
from portal.reports.svg_text import install as svg_text_install
from portal.reports.ua_stylesheet import ReportHTML

Progress = Callable[[int, int, str], None]
DEFAULT_BRAND = "#1f6feb"
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# WeasyPrint logs every layout step at INFO; a worker's log needs only its warnings.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
svg_text_install()  # SVG labels laid out a run at a time (svg_text.py)
svg_paint_install()  # SVG shapes drawn with less per-element work (svg_paint.py)
leaders_install()  # a contents line's leader held as light repetitions (leaders.py)


def _noop(done: int, total: int, label: str) -> None:
    pass


def _brand(organization) -> str:
    """The colour goes into the report's stylesheet, so only a strict #rrggbb passes (the model validates it
    too; this holds even if a row was written around the model's validation)."""
    colour = str(getattr(organization, "brand_colour", "") or "")
    return colour if _HEX_COLOUR.match(colour) else DEFAULT_BRAND


def _when(generated_at: datetime) -> str:
    zone = generated_at.tzname() or ""
    return f"{generated_at.day} {generated_at:%B %Y, %H:%M} {zone}".strip()


def _common(organization, generated_at: datetime, provenance: str = "", read_at: datetime | None = None) -> dict:
    # provenance: whose TMI access made the report and who receives it (exports' words), for the cover.
    # read_at: when what it shows was read from TMI (the store's copy), on the cover and every page's footer.
    return {
        "data_read": _when(read_at) if read_at else "",
        "organization_name": organization.name,
        "brand": _brand(organization),
        "logo": logo_data_uri(organization),
        "generated": _when(generated_at),
        "generated_date": f"{generated_at.day} {generated_at:%B %Y}",
        "provenance": provenance,
        "risk_legend": risk_score_legend(),
    }


def _oldest_read(reports: list[ThreatModelReport]) -> datetime | None:
    times = [r.read_at for r in reports if r.read_at]
    return min(times) if times else None


def html_to_pdf(html: str, *, title: str, progress: Progress, done: int, total: int) -> bytes:
    fetcher = DataOnlyURLFetcher()
    progress(done, total, "Laying out pages")
    document = ReportHTML(string=html, url_fetcher=fetcher).render()
    document.metadata.title = clean_display_text(title)  # a viewer's title bar reads it too
    progress(done + 1, total, "Writing the PDF")
    pdf = document.write_pdf()
    progress(total, total, "Done")
    return pdf


def threat_model_report_html(
    report: ThreatModelReport,
    *,
    organization,
    generated_at: datetime,
    progress: Progress | None = None,
    provenance: str = "",
    changes=None,
) -> str:
    """`changes`: a scheduled report's "since the last report" (portfolio.changes.WhatChanged), or None."""
    step = progress or _noop
    section = model_section(report, anchor="tm-1", progress=step)
    flags = [flag for group in report_flag_groups([report], now=generated_at) for flag in group.flags]
    return render_to_string(
        "reports/threat_model.html",
        {
            **_common(organization, generated_at, provenance, report.read_at),
            "title": report.name,
            "section": section,
            "changes": changes,
            "change_anchors": {str(report.id): f"{section.anchor}-threats"},  # the model's own threats
            "flags": flags,
        },
    )


def threat_model_report_pdf(
    report: ThreatModelReport,
    *,
    organization,
    generated_at: datetime,
    progress: Progress | None = None,
    provenance: str = "",
    changes=None,
) -> bytes:
    step = progress or _noop
    total = len(report.diagrams) + 2
    html = threat_model_report_html(
        report,
        organization=organization,
        generated_at=generated_at,
        progress=lambda done, _total, label: step(done, total, label),
        provenance=provenance,
        changes=changes,
    )
    return html_to_pdf(
        html, title=f"{report.name}: threat model report", progress=step, done=len(report.diagrams), total=total
    )


def portfolio_report_html(
    reports: list[ThreatModelReport],
    *,
    organization,
    title: str,
    filters_description: str,
    generated_at: datetime,
    progress: Progress | None = None,
    provenance: str = "",
    read_at: datetime | None = None,
    history=None,
) -> str:
    """`history`: what changed and the trends (exports.since_report.ReportHistory), or None."""
    step = progress or _noop
    reports = reports_by_risk(reports)  # the riskiest model first, as the summary's table ranks them
    diagram_total = sum(len(r.diagrams) for r in reports)
    sections, offset = [], 0
    for index, report in enumerate(reports, start=1):
        sections.append(
            model_section(
                report, anchor=f"tm-{index}", progress=step, diagram_offset=offset, diagram_total=diagram_total
            )
        )
        offset += len(report.diagrams)
    servers = sorted({r.server_url for r in reports if r.server_url})
    return render_to_string(
        "reports/portfolio.html",
        {
            **_common(organization, generated_at, provenance, read_at or _oldest_read(reports)),
            "title": title,
            "filters_description": filters_description,
            "summary": portfolio_summary(sections, reports),
            "flag_groups": report_flag_groups(reports, now=generated_at),
            "sections": sections,
            "server_url": ", ".join(servers) or getattr(organization, "tmi_base_url", ""),
            **history_context(history, {s.threat_model_id: s.anchor for s in sections}),
        },
    )


def portfolio_report_pdf(
    reports: list[ThreatModelReport],
    *,
    organization,
    title: str,
    filters_description: str,
    generated_at: datetime,
    progress: Progress | None = None,
    provenance: str = "",
    read_at: datetime | None = None,
    history=None,
) -> bytes:
    """`read_at`: when the oldest part of it was read from TMI (default: the oldest of its models)."""
    step = progress or _noop
    diagrams = sum(len(r.diagrams) for r in reports)
    total = diagrams + 2
    html = portfolio_report_html(
        reports,
        organization=organization,
        title=title,
        filters_description=filters_description,
        generated_at=generated_at,
        progress=lambda done, _total, label: step(done, total, label),
        provenance=provenance,
        read_at=read_at,
        history=history,
    )
    return html_to_pdf(html, title=title, progress=step, done=diagrams, total=total)
