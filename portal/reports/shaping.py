"""Reports read from the portfolio store -> the plain records the report templates print, in the dashboard's words.

Severity and status words, the "open" rule, the risk score, the summary sentences, threat rows and the
charts all come from portal.dashboard, so a PDF says exactly what the dashboard page says.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.safestring import SafeString

from portal.diagrams import diagram_summary
from portal.portfolio.charts import column_chart, horizontal_bar_chart
from portal.portfolio.flag_rules import (
    FlagGroup,
    ModelFacts,
    ThreatFacts,
    flag_groups,
    model_flags,
)
from portal.portfolio.markdown import markdown_to_safe_html
from portal.portfolio.records import AssetRow, Count, LinkRow, NoteView, ThreatRow
from portal.portfolio.report_data import ThreatModelReport
from portal.portfolio.shaping import (
    asset_row,
    diagram_sentence,
    diagram_view,
    link_row,
    note_view,
    person,
    status_counts,
    threat_model_row,
    threat_model_summary,
    threat_row,
)
from portal.portfolio.ssvc import ssvc_decision_key
from portal.portfolio.vocabulary import (
    SEVERITIES,
    risk_score,
    severity_key,
    severity_label,
    term_key,
    threat_is_open,
    threat_status_label,
    tm_status_label,
)
from portal.reports.svg_text import svg_for_print

Progress = Callable[[int, int, str], None]

# The dashboard's palette (static/portal/portal.css). A PDF has no page stylesheet inside its SVGs, so the
# charts carry their own copy of it.
SEVERITY_COLOURS = {
    "critical": "#8b0000",
    "high": "#d1242f",
    "medium": "#bc4c00",
    "low": "#7d6e00",
    "informational": "#0969da",
    "unknown": "#6e7781",
}
TM_STATUS_COLOURS = {
    "not_started": "#8c959f",
    "in_progress": "#0969da",
    "pending_review": "#9a6700",
    "approved": "#1a7f37",
    "closed": "#57606a",
}
OPEN_COLOUR, CLOSED_COLOUR = "#0969da", "#1a7f37"


@dataclass(frozen=True)
class SeverityLine:
    key: str
    label: str
    open: int
    total: int


@dataclass(frozen=True)
class ReportDiagram:
    name: str
    image: str  # data: URI of the SVG from portal.diagrams.render_svg
    summary: str


@dataclass(frozen=True)
class ModelSection:
    """One threat model, ready to print."""

    anchor: str  # the id its table-of-contents entries point at
    name: str
    description: SafeString
    status_label: str
    owner: str
    framework: str
    modified_at: datetime | None
    issue_uri: str
    server_url: str
    source_url: str
    threat_model_id: str
    summary: list[str]
    severity_lines: list[SeverityLine]
    threat_total: int
    open_total: int
    severity_chart: str  # data: URIs of SVG charts
    status_chart: str
    threat_statuses: list[Count]
    # (record, its user-written description as sanitised Markdown)
    threats: list[tuple[ThreatRow, SafeString]]
    diagrams: list[ReportDiagram]
    assets: list[tuple[AssetRow, SafeString]]
    documents: list[tuple[LinkRow, SafeString]]
    repositories: list[tuple[LinkRow, SafeString]]
    notes: list[NoteView]
    risk_score: int
    scored: bool = False  # some threat carries TMI's own score: the threats table shows the "TMI score" column


@dataclass(frozen=True)
class PortfolioRow:
    anchor: str
    name: str
    status: str
    status_label: str
    owner: str
    threat_total: int
    open_by_severity: dict[str, int]
    open_total: int
    risk_score: int

    @property
    def serious(self) -> int:
        return self.open_by_severity.get("critical", 0) + self.open_by_severity.get("high", 0)


@dataclass(frozen=True)
class PortfolioSummary:
    model_count: int
    threat_total: int
    open_total: int
    severity_lines: list[SeverityLine]
    by_status: list[Count]
    severity_chart: str
    status_chart: str
    rows: list[PortfolioRow]  # riskiest first
    sentences: list[str]


def svg_data_uri(svg: str) -> str:
    """An SVG as a data: URI for an <img>: still vector in the PDF, and WeasyPrint parses it as XML on its
    own instead of through the HTML parser and the page's CSS cascade (a third of the layout time for
    diagrams of hundreds of cells)."""
    return "data:image/svg+xml;base64," + base64.b64encode(str(svg).encode("utf-8")).decode("ascii")


def styled_svg(svg: str, css: str) -> str:
    """The SVG with a <style> of its own, first inside it (the page's CSS does not reach into an SVG
    image), as a data: URI. `svg` is already escaped markup from charts.py."""
    end = svg.index(">") + 1
    return svg_data_uri(f"{svg[:end]}<style>{css}</style>{svg[end:]}")


def _chart_css(colours: dict[str, str], prefix: str, default: str) -> str:
    rules = "".join(f".bar.{prefix}{key}{{fill:{colour}}}" for key, colour in colours.items())
    return (
        f".bar{{fill:{default}}}{rules}.chart-label{{font-size:13px;fill:#1f2328;font-family:sans-serif}}"
        ".chart-value{font-size:13px;font-weight:bold;fill:#1f2328;font-family:sans-serif}"
    )


def severity_chart(counts: list[Count], *, chart_id: str, title: str) -> str:
    return styled_svg(
        column_chart(counts, chart_id=chart_id, title=title, class_prefix="sev-"),
        _chart_css(SEVERITY_COLOURS, "sev-", SEVERITY_COLOURS["unknown"]),
    )


def tm_status_chart(counts: list[Count], *, chart_id: str, title: str) -> str:
    return styled_svg(
        horizontal_bar_chart(counts, chart_id=chart_id, title=title, class_prefix="status-"),
        _chart_css(TM_STATUS_COLOURS, "status-", OPEN_COLOUR),
    )


def threat_status_chart(counts: list[Count], closed: set[str], *, chart_id: str, title: str) -> str:
    colours = {key: CLOSED_COLOUR for key in closed}
    return styled_svg(
        horizontal_bar_chart(counts, chart_id=chart_id, title=title, class_prefix="tstatus-"),
        _chart_css(colours, "tstatus-", OPEN_COLOUR),
    )


def severity_lines(threats: list[ThreatRow]) -> list[SeverityLine]:
    total = Counter(t.severity for t in threats)
    still_open = Counter(t.severity for t in threats if t.is_open)
    return [SeverityLine(key, severity_label(key), still_open.get(key, 0), total.get(key, 0)) for key in SEVERITIES]


def _described(records: Iterable[Any]) -> list[tuple[Any, SafeString]]:
    return [(record, markdown_to_safe_html(record.description)) for record in records]


def _noop(done: int, total: int, label: str) -> None:
    pass


def model_section(
    report: ThreatModelReport,
    *,
    anchor: str,
    progress: Progress | None = None,
    diagram_offset: int = 0,
    diagram_total: int | None = None,
) -> ModelSection:
    """One model's printable records. Draws its diagrams, calling `progress` once per diagram; the numbers
    count across the whole document when `diagram_offset`/`diagram_total` say where this model sits."""
    step = progress or _noop
    tm = report.threat_model
    threats = sorted(
        (threat_row(t) for t in report.threats),
        key=lambda t: (not t.is_open, SEVERITIES.index(t.severity), t.name.lower()),
    )
    status = term_key(tm.status)
    status_label = tm_status_label(status, tm.status)
    statuses = Counter(t.status for t in threats)
    threat_statuses = [Count(key, threat_status_label(key), n) for key, n in sorted(statuses.items())]
    closed = {t.status for t in threats if not t.is_open}
    lines = severity_lines(threats)
    open_counts = {line.key: line.open for line in lines if line.open}
    total_diagrams = diagram_total if diagram_total is not None else len(report.diagrams)
    diagrams = []
    for index, diagram in enumerate(report.diagrams):
        number = diagram_offset + index + 1
        step(number - 1, total_diagrams, f"Drawing diagram {number} of {total_diagrams}")
        stored = report.svgs.get(diagram.id)
        if stored:  # drawn when the store last read its cells (each SVG is an image of its own: no id clashes)
            summary = diagram_sentence(diagram_summary(diagram.cells)["counts"])
            diagrams.append(
                ReportDiagram(name=diagram.name, image=svg_data_uri(svg_for_print(stored)), summary=summary)
            )
            continue
        view = diagram_view(diagram, number)
        diagrams.append(
            ReportDiagram(name=view.name, image=svg_data_uri(svg_for_print(view.svg)), summary=view.summary)
        )
    return ModelSection(
        anchor=anchor,
        name=tm.name,
        description=markdown_to_safe_html(tm.description),
        status_label=status_label,
        owner=person(tm.owner),
        framework=tm.threat_model_framework or "",
        modified_at=tm.modified_at,
        issue_uri=tm.issue_uri or "",
        server_url=report.server_url,
        source_url=report.source_url,
        threat_model_id=tm.id,
        summary=threat_model_summary(
            status_label=status_label,
            threats=threats,
            diagrams=len(report.diagrams),
            documents=len(report.documents),
            assets=len(report.assets),
        ),
        severity_lines=lines,
        threat_total=len(threats),
        open_total=sum(1 for t in threats if t.is_open),
        severity_chart=severity_chart(
            [Count(line.key, line.label, line.open) for line in lines],
            chart_id=f"{anchor}-sev",
            title="Open threats by severity",
        ),
        status_chart=threat_status_chart(
            threat_statuses, closed, chart_id=f"{anchor}-status", title="Threats by status"
        ),
        threat_statuses=threat_statuses,
        threats=_described(threats),
        diagrams=diagrams,
        assets=_described(asset_row(a) for a in report.assets),
        documents=_described(link_row(d) for d in report.documents),
        repositories=_described(link_row(r) for r in report.repositories),
        notes=[note_view(n) for n in report.notes],
        risk_score=risk_score(open_counts),
        scored=any(t.score is not None for t in threats),
    )


# -- the executive summary: models by risk, and what to do next ------------------------------------------------------
def report_risk_score(report: ThreatModelReport) -> int:
    """The risk score of a model as its report counts it (items not for reports left out)."""
    still_open = Counter(
        severity_key(t.severity) for t in report.threats if threat_is_open(status=t.status, mitigated=t.mitigated)
    )
    return risk_score(still_open)


def reports_by_risk(reports: list[ThreatModelReport]) -> list[ThreatModelReport]:
    """Riskiest first, then by name: the order of a portfolio report's models."""
    return sorted(reports, key=lambda r: (-report_risk_score(r), (r.name or "").lower(), r.id))


def report_facts(report: ThreatModelReport) -> ModelFacts:
    """What the flags look at, from the report's own items: a flag counts what the report prints."""
    tm = report.threat_model
    status = term_key(tm.status)
    return ModelFacts(
        id=tm.id,
        name=tm.name,
        owner=person(tm.owner),
        status=status,
        status_label=tm_status_label(status, tm.status),
        # TMI 1.8 numbers its models (`alias`) and has security reviewers; 0.217 has neither (flag_rules).
        has_reviewer=(tm.security_reviewer is not None) if tm.alias is not None else None,
        last_changed_at=report.last_changed_at,
        threats=[
            ThreatFacts(
                severity=severity_key(t.severity),
                is_open=threat_is_open(status=t.status, mitigated=t.mitigated),
                created_at=t.created_at,
                ssvc=ssvc_decision_key(t),
            )
            for t in report.threats
        ],
    )


def report_flag_groups(reports: list[ThreatModelReport], *, now: datetime) -> list[FlagGroup]:
    return flag_groups(flag for report in reports for flag in model_flags(report_facts(report), now=now))


def portfolio_summary(sections: list[ModelSection], reports: list[ThreatModelReport]) -> PortfolioSummary:
    rows = []
    for section, report in zip(sections, reports):
        open_counts = {line.key: line.open for line in section.severity_lines if line.open}
        rows.append(
            PortfolioRow(
                anchor=section.anchor,
                name=section.name,
                status=term_key(report.threat_model.status),
                status_label=section.status_label,
                owner=section.owner,
                threat_total=section.threat_total,
                open_by_severity=open_counts,
                open_total=section.open_total,
                risk_score=section.risk_score,
            )
        )
    lines = [
        SeverityLine(
            key,
            severity_label(key),
            sum(s.severity_lines[i].open for s in sections),
            sum(s.severity_lines[i].total for s in sections),
        )
        for i, key in enumerate(SEVERITIES)
    ]
    by_status = status_counts([threat_model_row(r.threat_model) for r in reports])
    threat_total, open_total = sum(s.threat_total for s in sections), sum(s.open_total for s in sections)
    serious = sum(line.open for line in lines if line.key in ("critical", "high"))
    sentences = [
        f"This report covers {len(sections)} threat model{'s' if len(sections) != 1 else ''} "
        f"with {threat_total} recorded threat{'s' if threat_total != 1 else ''}, "
        f"of which {open_total} {'is' if open_total == 1 else 'are'} still open."
    ]
    if serious:
        sentences.append(
            f"{serious} open threat{'s are' if serious != 1 else ' is'} critical or high "
            "and need{} attention first.".format("" if serious != 1 else "s")
        )
    elif open_total:
        sentences.append("None of the open threats is critical or high.")
    ranked = sorted(rows, key=lambda r: (-r.risk_score, r.name.lower()))
    if ranked and ranked[0].risk_score:
        sentences.append(f"The model with the highest risk score is {ranked[0].name}.")
    return PortfolioSummary(
        model_count=len(sections),
        threat_total=threat_total,
        open_total=open_total,
        severity_lines=lines,
        by_status=by_status,
        severity_chart=severity_chart(
            [Count(line.key, line.label, line.open) for line in lines],
            chart_id="portfolio-sev",
            title="Open threats by severity, all models",
        ),
        status_chart=tm_status_chart(by_status, chart_id="portfolio-status", title="Threat models by review status"),
        rows=ranked,
        sentences=sentences,
    )
