"""TMI models -> the plain records pages and PDFs read, and the plain-language summary of a threat model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.diagrams import diagram_summary, render_svg
from portal.portfolio.markdown import markdown_to_safe_html
from portal.portfolio.records import AssetRow, Count, DiagramView, LinkRow, NoteView, ThreatModelRow, ThreatRow
from portal.portfolio.ssvc import ssvc_decision_key
from portal.portfolio.vocabulary import (
    SEVERITIES,
    TM_STATUSES,
    severity_key,
    severity_label,
    term_key,
    threat_is_open,
    threat_status_label,
    tm_status_label,
)
from portal.tmi import Asset, Diagram, Document, Note, Repository, Threat, TMListItem, User


def person(user: User | None) -> str:
    if user is None:
        return ""
    return user.display_name or user.email or user.provider_id


def threat_model_row(item: TMListItem, open_counts: dict[str, int] | None = None) -> ThreatModelRow:
    status = term_key(item.status)
    return ThreatModelRow(
        id=item.id,
        name=item.name,
        description=item.description or "",
        status=status,
        status_label=tm_status_label(status, item.status),
        owner=person(item.owner),
        created_at=item.created_at,
        modified_at=item.modified_at,
        threat_count=item.threat_count,
        open_by_severity=open_counts,
    )


def status_counts(rows: Iterable[ThreatModelRow]) -> list[Count]:
    """Every known status (zero included, so the chart keeps its shape), then any others TMI used."""
    counts = Counter(row.status for row in rows)
    labels = {row.status: row.status_label for row in rows}
    keys = list(TM_STATUSES) + sorted(k for k in counts if k not in TM_STATUSES)
    return [Count(key, labels.get(key) or tm_status_label(key), counts.get(key, 0)) for key in keys]


def severity_counts(counts: dict[str, int]) -> list[Count]:
    return [Count(key, severity_label(key), counts.get(key, 0)) for key in SEVERITIES]


def threat_row(threat: Threat) -> ThreatRow:
    severity, status = severity_key(threat.severity), term_key(threat.status)
    return ThreatRow(
        id=threat.id,
        name=threat.name,
        description=threat.description or "",
        severity=severity,
        severity_label=severity_label(severity),
        status=status,
        status_label=threat_status_label(status, threat.status),
        is_open=threat_is_open(status=threat.status, mitigated=threat.mitigated),
        mitigation=threat.mitigation or "",
        score=threat.score,
        ssvc=ssvc_decision_key(threat),
    )


def http_href(uri: str) -> str | None:
    """The URI if a browser may follow it safely (http or https), else None."""
    try:
        parts = urlsplit(uri.strip())
    except ValueError:
        return None
    return uri.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def link_row(item: Document | Repository) -> LinkRow:
    return LinkRow(
        name=item.name or item.uri,
        uri=item.uri,
        href=http_href(item.uri),
        description=item.description or "",
        kind=getattr(item, "type", None) or "",
    )


def asset_row(asset: Asset) -> AssetRow:
    return AssetRow(
        name=asset.name,
        description=asset.description or "",
        type=asset.type or "",
        criticality=asset.criticality or "",
        classification=", ".join(asset.classification or []),
        sensitivity=asset.sensitivity or "",
    )


def note_view(note: Note) -> NoteView:
    return NoteView(name=note.name, html=markdown_to_safe_html(note.content))


def diagram_sentence(counts: dict[str, int]) -> str:
    parts = [
        ngettext("%(n)d actor", "%(n)d actors", counts.get("actors", 0)),
        ngettext("%(n)d process", "%(n)d processes", counts.get("processes", 0)),
        ngettext("%(n)d data store", "%(n)d data stores", counts.get("stores", 0)),
        ngettext("%(n)d trust boundary", "%(n)d trust boundaries", counts.get("boundaries", 0)),
        ngettext("%(n)d data flow", "%(n)d data flows", counts.get("flows", 0)),
    ]
    keys = ("actors", "processes", "stores", "boundaries", "flows")
    listed = [part % {"n": counts[key]} for part, key in zip(parts, keys) if counts.get(key)]
    if not listed:
        return _("This diagram is empty.")
    text = (
        listed[0]
        if len(listed) == 1
        else _("%(items)s and %(last)s") % {"items": ", ".join(listed[:-1]), "last": listed[-1]}
    )
    return _("A data flow diagram with %(contents)s.") % {"contents": text}


def diagram_view(diagram: Diagram, index: int) -> DiagramView:
    summary = diagram_summary(diagram.cells)
    return DiagramView(
        id=diagram.id,
        name=diagram.name,
        svg=render_svg(diagram.cells, title=diagram.name, id_prefix=f"dfd{index}"),
        summary=diagram_sentence(summary["counts"]),
    )


def threat_model_summary(
    *, status_label: str, threats: list[ThreatRow], diagrams: int, documents: int, assets: int
) -> list[str]:
    """Two or three sentences a stakeholder can read aloud."""
    open_threats = [t for t in threats if t.is_open]
    serious = sum(1 for t in open_threats if t.severity in ("critical", "high"))
    sentences = [_("Its review status is: %(status)s.") % {"status": status_label}]
    if not threats:
        sentences.append(_("No threats have been recorded yet."))
    else:
        recorded = ngettext(
            "%(count)d threat has been recorded", "%(count)d threats have been recorded", len(threats)
        ) % {"count": len(threats)}
        still_open = ngettext("%(open)d is still open", "%(open)d are still open", len(open_threats)) % {
            "open": len(open_threats)
        }
        sentences.append(_("%(recorded)s; %(open)s.") % {"recorded": recorded, "open": still_open})
        if open_threats and not serious:
            sentences.append(_("None of the open threats is critical or high."))
        elif open_threats:
            sentences.append(
                ngettext(
                    "%(count)d open threat is critical or high and needs attention first.",
                    "%(count)d open threats are critical or high and need attention first.",
                    serious,
                )
                % {"count": serious}
            )
    sentences.append(
        _("It is described by %(diagrams)s, %(documents)s and %(assets)s.")
        % {
            "diagrams": ngettext("%(n)d diagram", "%(n)d diagrams", diagrams) % {"n": diagrams},
            "documents": ngettext("%(n)d document", "%(n)d documents", documents) % {"n": documents},
            "assets": ngettext("%(n)d asset", "%(n)d assets", assets) % {"n": assets},
        }
    )
    return sentences
