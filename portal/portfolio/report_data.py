"""What a PDF report is made of, and the portfolio report's filters: read from the store by the report selectors
(portfolio/selectors.py, "reports"), printed by portal.reports.

`include_in_report` (TMI 1.8 puts it on threats, diagrams, assets, documents, notes and repositories; 0.217 has
no such field): the store keeps every item as TMI answered it, and an item whose flag is false is dropped when a
report is read from it, so it cannot appear anywhere in a report, counts and charts included. A missing flag
means "include".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal.portfolio.vocabulary import term_key
from portal.tmi import Asset, Diagram, Document, Note, Repository, Threat, ThreatModel, User

Progress = Callable[[int, int, str], None]

# The dashboard's list filters (name, status) plus the others TMI 1.8 filters threat models by.
# `search` is the dashboard's word for `name`.
FILTER_KEYS = ("name", "search", "description", "owner", "status", "issue_uri")


class ReportFilterError(ValueError):
    """A filter the portfolio report does not understand: the caller shows it, nothing is read."""


@dataclass
class ThreatModelReport:
    """One threat model and its children as the store holds them (TMI's answers), minus items not for reports."""

    threat_model: ThreatModel
    threats: list[Threat] = field(default_factory=list)
    diagrams: list[Diagram] = field(default_factory=list)  # with their cells
    assets: list[Asset] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)  # with their content
    repositories: list[Repository] = field(default_factory=list)
    server_url: str = ""
    source_url: str = ""  # the threat model at TMI's API: server URL + /threat_models/<id>
    read_at: datetime | None = None  # when the store's copy was read from TMI (the older of model and threats)
    svgs: dict[str, str] = field(default_factory=dict)  # diagram id -> the SVG drawn when it was stored
    # When anything in it last changed (flag_rules.last_changed), set only when that is long enough ago to flag.
    last_changed_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.threat_model.id

    @property
    def name(self) -> str:
        return self.threat_model.name


def in_report(item: Any) -> bool:
    """TMI's `include_in_report`; absent (0.217, older 1.8 items) counts as true."""
    return getattr(item, "include_in_report", True) is not False


def report_items(items: list[Any]) -> list[Any]:
    return [item for item in items if in_report(item)]


def portfolio_filters_clean(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Known keys with non-empty values; `search` becomes `name`; `status` a list of vocabulary keys.
    Raises ReportFilterError naming any unknown key."""
    unknown = sorted(set(filters or {}) - set(FILTER_KEYS))
    if unknown:
        raise ReportFilterError(f"Unknown report filter: {', '.join(unknown)}. Use: {', '.join(FILTER_KEYS)}.")
    clean: dict[str, Any] = {}
    for key, value in (filters or {}).items():
        if value in (None, "", [], ()):
            continue
        key = "name" if key == "search" else key
        if key == "status":
            values = [value] if isinstance(value, str) else list(value)
            statuses = [term_key(v) for part in values for v in str(part).split(",") if term_key(v)]
            if statuses:
                clean["status"] = statuses
        else:
            clean[key] = str(value).strip()[:256]
    return clean


def _contains(text: str | None, part: str) -> bool:
    return part.lower() in (text or "").lower()


def _person_matches(user: User | None, part: str) -> bool:
    return user is not None and any(_contains(v, part) for v in (user.email, user.display_name, user.provider_id))


def threat_model_matches(item: Any, filters: Mapping[str, Any]) -> bool:
    """The filters as TMI 1.8 applies them (PROTOCOL.md 5.2), on a threat model or its list item: any case,
    a part of the text; `owner` any of the owner's email, name and provider id; `status` one of the keys."""
    for key, value in filters.items():
        if key == "status":
            if term_key(item.status) not in value:
                return False
        elif key == "owner":
            if not _person_matches(item.owner, value):
                return False
        elif not _contains(getattr(item, key, None), value):
            return False
    return True
