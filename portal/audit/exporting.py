"""The audit log as CSV, safe to open in a spreadsheet.

Cells that a spreadsheet would read as a formula (starting with = + - @, or a tab or carriage return
that some programs strip first) get a leading apostrophe: the log holds text people typed. Some
spreadsheets also skip leading whitespace, or split a cell at `;` or `|` (a separator of another locale,
DDE's pipe) before they look for a formula, so a formula start behind those is neutralised too. Every
cell is quoted, so no separator inside a cell ever splits it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import action_label

# A formula start (= + - @ tab CR), possibly behind whitespace (any Unicode space, newlines included),
# `;` or `|`.
_HIDDEN_FORMULA = re.compile(r"^[\s;|]*[=+\-@\t\r]")
HEADER = ["when (UTC)", "who", "action", "what", "target", "from (IP)", "details"]


def csv_cell_safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if _HIDDEN_FORMULA.match(text) else text


def audit_events_csv(events: Iterable[AuditEvent]) -> Iterator[str]:
    """CSV text, one chunk per row (for a streaming response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(HEADER)
    yield flush()
    for event in events:
        writer.writerow(
            [
                csv_cell_safe(cell)
                for cell in (
                    event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    event.actor_label or "system",
                    event.action,
                    action_label(event.action),
                    event.target,
                    event.ip_address or "",
                    json.dumps(event.details, sort_keys=True, ensure_ascii=False) if event.details else "",
                )
            ]
        )
        yield flush()
