"""Plain records the pages and PDFs read: no TMI models, no lazy calls, only what a page prints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.safestring import SafeString

from portal.portfolio.vocabulary import risk_score


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int
    url: str = ""  # what it counts, listed (portfolio/links.py); set by the page, not the cached selector


@dataclass(frozen=True)
class ThreatModelRow:
    id: str
    name: str
    description: str
    status: str  # vocabulary key, e.g. "in_progress"
    status_label: str
    owner: str
    created_at: datetime | None
    modified_at: datetime | None
    threat_count: int | None
    # Open threats by severity key; None when TMI refused this member the model's threats.
    open_by_severity: dict[str, int] | None = None

    @property
    def open_total(self) -> int:
        return sum((self.open_by_severity or {}).values())

    @property
    def risk_score(self) -> int:
        return risk_score(self.open_by_severity or {})


@dataclass(frozen=True)
class Portfolio:
    total: int
    by_status: list[Count]
    open_by_severity: list[Count]
    open_total: int
    riskiest: list[ThreatModelRow]
    recent: list[ThreatModelRow]
    # Models listed but whose threats a sync has not read yet (a first pass under way): the open threats and the
    # risk count only the others, and the page says so.
    threats_pending: int = 0

    @property
    def threats_read(self) -> int:
        return self.total - self.threats_pending


@dataclass(frozen=True)
class ThreatModelListPage:
    rows: list[ThreatModelRow]
    total: int
    page: int
    pages: int
    search: str
    status: str
    sort: str
    generation: str
    unchanged_for: int = 0  # days: only models unchanged for that long (the "What to do next" flag's list)
    no_reviewer: bool = False  # only TMI 1.8 models with no security reviewer

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True)
class ThreatRow:
    id: str
    name: str
    description: str
    severity: str
    severity_label: str
    status: str
    status_label: str
    is_open: bool
    mitigation: str
    score: float | None
    ssvc: str = ""  # TMI 1.8's SSVC decision key (portfolio/ssvc.py), "" when none


@dataclass(frozen=True)
class DiagramView:
    id: str
    name: str
    svg: SafeString  # from portal.diagrams.render_svg, which escapes everything it draws
    summary: str


@dataclass(frozen=True)
class LinkRow:
    name: str
    uri: str
    href: str | None  # the URI when it is http(s), else None: shown as text, never as a link
    description: str
    kind: str = ""


@dataclass(frozen=True)
class AssetRow:
    name: str
    description: str
    type: str
    criticality: str
    classification: str
    sensitivity: str


@dataclass(frozen=True)
class NoteView:
    name: str
    html: SafeString  # Markdown rendered and sanitised by portal.portfolio.markdown


@dataclass(frozen=True)
class ThreatModelDetail:
    id: str
    name: str
    description: str
    status: str
    status_label: str
    owner: str
    framework: str
    modified_at: datetime | None
    summary: list[str]
    threats: list[ThreatRow]
    shown_threats: list[ThreatRow]
    severity_filter: str
    status_filter: str
    open_by_severity: list[Count]
    threat_statuses: list[Count]
    diagrams: list[DiagramView]
    documents: list[LinkRow]
    repositories: list[LinkRow]
    assets: list[AssetRow]
    notes: list[NoteView]
