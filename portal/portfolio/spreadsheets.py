"""The register and the model list as spreadsheets: CSV and XLSX (openpyxl), from the same records as the pages.

Everything in a cell came from TMI and is user-written, so every cell is formula-safe: text is cleaned of control
and bidi characters first (the pages' display_text), then in CSV any text starting with = + - @ tab, CR or LF gets
a leading apostrophe (spreadsheet programs would otherwise run it as a formula), and in XLSX every text is written
as a string cell, never a formula. Times are UTC (XLSX has no time zones).

Links to the portal's pages are made by the caller (`links`): this module knows no URLs.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from portal.diagrams.text import clean_display_text
from portal.portfolio.records import Count, ThreatModelRow
from portal.portfolio.register import RegisterAll, RegisterRow
from portal.portfolio.vocabulary import SEVERITIES, severity_label

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
XLSX_CELL_MAX = 32767  # Excel's limit on the characters of one cell
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Links:
    """The portal's absolute URLs of a threat (on its model's page) and of a model, made by the caller."""

    threat: Callable[[RegisterRow], str]
    model: Callable[[str], str]  # a model's TMI id -> its page


def text_cell(value: object) -> str:
    """User-written text as it may stand in a cell: control, bidi and XML-illegal characters removed."""
    return ILLEGAL_CHARACTERS_RE.sub("", clean_display_text(value))[:XLSX_CELL_MAX]


def csv_safe(value: object) -> object:
    """A CSV cell: numbers as they are, text cleaned and prefixed by an apostrophe when a spreadsheet program
    would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return utc_text(value)
    text = text_cell(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def utc_text(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def _naive_utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value else None


# -- columns -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str
    width: int
    value: Callable[[Any], Any]


def register_columns(links: Links) -> list[Column]:
    return [
        Column(_("Threat"), 40, lambda r: r.name),
        Column(_("Severity"), 14, lambda r: r.severity_label),
        Column(_("Status"), 16, lambda r: r.status_label),
        Column(_("Open"), 8, lambda r: r.is_open),
        Column(_("Priority"), 10, lambda r: r.priority_label),
        Column(_("Score"), 8, lambda r: r.score),
        Column(_("SSVC decision"), 14, lambda r: r.ssvc_label),
        Column(_("Threat type"), 24, lambda r: ", ".join(r.threat_types)),
        Column(_("Mitigation"), 50, lambda r: r.mitigation),
        Column(_("Description"), 50, lambda r: r.description),
        Column(_("Threat model"), 32, lambda r: r.model_name),
        Column(_("Threat model status"), 18, lambda r: r.model_status_label),
        Column(_("Threat model owner"), 24, lambda r: r.model_owner),
        Column(_("Created in TMI (UTC)"), 18, lambda r: r.created_at),
        Column(_("Age (days)"), 10, lambda r: r.age_days),
        Column(_("Last changed in TMI (UTC)"), 18, lambda r: r.modified_at),
        Column(_("Threat ID"), 38, lambda r: r.id),
        Column(_("Threat model ID"), 38, lambda r: r.model_id),
        Column(_("Link"), 60, links.threat),
    ]


def model_columns(links: Links, listed: Counter | None = None) -> list[Column]:
    columns = [
        Column(_("Threat model"), 36, lambda m: m.name),
        Column(_("Status"), 16, lambda m: m.status_label),
        Column(_("Owner"), 24, lambda m: m.owner),
    ]
    if listed is not None:
        columns.append(Column(_("Threats in this list"), 12, lambda m: listed.get(m.id, 0)))
    columns += [
        Column(_("Open threats"), 12, lambda m: m.open_total if m.open_by_severity is not None else None),
        *[
            Column(
                _("Open: %(severity)s") % {"severity": severity_label(key)},
                12,
                lambda m, key=key: (m.open_by_severity or {}).get(key, 0) if m.open_by_severity is not None else None,
            )
            for key in SEVERITIES
        ],
        Column(_("Risk score"), 10, lambda m: m.risk_score if m.open_by_severity is not None else None),
        Column(_("Created in TMI (UTC)"), 18, lambda m: m.created_at),
        Column(_("Last changed in TMI (UTC)"), 18, lambda m: m.modified_at),
        Column(_("Threat model ID"), 38, lambda m: m.id),
        Column(_("Link"), 60, lambda m: links.model(m.id)),
    ]
    return columns


# -- CSV ---------------------------------------------------------------------------------------------------------
def _csv(columns: Sequence[Column], items: Iterable[Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_safe(c.header) for c in columns])
    for item in items:
        writer.writerow([csv_safe(c.value(item)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel then reads UTF-8 (names with accents)


def register_csv(register: RegisterAll, *, links: Links) -> bytes:
    return _csv(register_columns(links), register.rows)


def threat_models_csv(models: Sequence[ThreatModelRow], *, links: Links) -> bytes:
    return _csv(model_columns(links), models)


# -- XLSX --------------------------------------------------------------------------------------------------------
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
_TITLE_FONT = Font(bold=True, size=14)
_BOLD = Font(bold=True)


def _put(ws, row: int, column: int, value: Any):
    """One cell; text always as a string cell (openpyxl would make text starting with "=" a formula)."""
    if isinstance(value, datetime):
        cell = ws.cell(row=row, column=column, value=_naive_utc(value))
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return ws.cell(row=row, column=column, value=value)
    if isinstance(value, bool):
        value = _("yes") if value else _("no")
    cell = ws.cell(row=row, column=column, value=text_cell(value))
    cell.data_type = "s"
    return cell


def _table_sheet(wb: Workbook, title: str, columns: Sequence[Column], items: Iterable[Any]) -> None:
    ws = wb.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        cell = _put(ws, 1, index, column.header)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(index)].width = column.width
    row = 1
    for row, item in enumerate(items, start=2):
        for index, column in enumerate(columns, start=1):
            _put(ws, row, index, column.value(item))
    ws.freeze_panes = "A2"  # the header row stays put
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(row, 1)}"


@dataclass(frozen=True)
class Provenance:
    """What the summary sheet says about where the figures come from."""

    organization: str
    read_at: datetime | None  # when the store was last read from TMI for this reader
    generated_at: datetime


def _summary_sheet(
    wb: Workbook, *, title: str, provenance: Provenance, filters: list[str], lines: list[tuple[str, Any]]
) -> Any:
    ws = wb.active
    ws.title = _("Summary")
    _put(ws, 1, 1, title).font = _TITLE_FONT
    rows: list[tuple[str, Any]] = [
        (_("Organisation"), provenance.organization),
        (_("Filters"), "; ".join(filters) if filters else _("None: everything you can see")),
        (_("Read from TMI (UTC)"), provenance.read_at or _("not read yet")),
        (_("Made (UTC)"), provenance.generated_at),
        *lines,
    ]
    for offset, (label, value) in enumerate(rows, start=3):
        _put(ws, offset, 1, label).font = _BOLD
        _put(ws, offset, 2, value).alignment = Alignment(wrap_text=True, horizontal="left")
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 70
    return ws, 3 + len(rows) + 1


def _severity_table(ws, start: int, heading: str, counts: list[Count]) -> None:
    _put(ws, start, 1, _("Severity")).font = _BOLD
    _put(ws, start, 2, heading).font = _BOLD
    for offset, count in enumerate(counts, start=1):
        _put(ws, start + offset, 1, count.label)
        _put(ws, start + offset, 2, count.count)
    total = start + len(counts) + 1
    _put(ws, total, 1, _("Total")).font = _BOLD
    _put(ws, total, 2, sum(c.count for c in counts)).font = _BOLD


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def register_xlsx(
    register: RegisterAll, models: Sequence[ThreatModelRow], *, links: Links, provenance: Provenance
) -> bytes:
    """Summary (filters, when the store was read, counts by severity), the threats, and the models they belong to
    (`models`: the member's visible models; only those with a listed threat are written)."""
    wb = Workbook()
    listed = Counter(row.model_id for row in register.rows)
    shown_models = [m for m in models if m.id in listed]
    ws, next_row = _summary_sheet(
        wb,
        title=_("Threat register"),
        provenance=provenance,
        filters=register.filters,
        lines=[
            (_("Threats listed"), len(register.rows)),
            (_("Threat models they belong to"), len(shown_models)),
        ],
    )
    _severity_table(ws, next_row, _("Threats listed"), register.by_severity)
    _table_sheet(wb, _("Threats"), register_columns(links), register.rows)
    _table_sheet(wb, _("Threat models"), model_columns(links, listed), shown_models)
    return _bytes(wb)


def threat_models_xlsx(
    models: Sequence[ThreatModelRow], *, links: Links, provenance: Provenance, filters: list[str]
) -> bytes:
    """Summary (filters, when read, open threats by severity across the models) and the models."""
    wb = Workbook()
    totals: Counter = Counter()
    for model in models:
        totals.update(model.open_by_severity or {})
    ws, next_row = _summary_sheet(
        wb,
        title=_("Threat models"),
        provenance=provenance,
        filters=filters,
        lines=[(_("Threat models listed"), len(models))],
    )
    counts = [Count(key, severity_label(key), totals.get(key, 0)) for key in SEVERITIES]
    _severity_table(ws, next_row, _("Open threats"), counts)
    _table_sheet(wb, _("Threat models"), model_columns(links), models)
    return _bytes(wb)
