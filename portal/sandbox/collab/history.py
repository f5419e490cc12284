"""A session's undo/redo history (PROTOCOL.md 7.8): one list per session, not per user.

Entries are keyed by the sequence number of the operation that made them, and the cursor is the
sequence number of the last applied entry. Rejected operations use up sequence numbers too, so a
gap can sit under the cursor; stepping onto it fails with `resync_required`, as in TMI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.sandbox.collab.cells import Change

HISTORY_LIMIT = 100


@dataclass
class Entry:
    sequence_number: int
    operation_id: str
    operation: dict[str, Any]  # the forward operation, as the client sent it
    change: Change


class HistoryGap(Exception):
    """The cursor points at a sequence number with no entry."""


class History:
    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self.cursor = 0

    def record(self, entry: Entry) -> None:
        for seq in [s for s in self.entries if s > self.cursor]:  # a new edit drops the redo tail
            del self.entries[seq]
        self.entries[entry.sequence_number] = entry
        self.cursor = entry.sequence_number
        for seq in sorted(self.entries)[:-HISTORY_LIMIT]:
            del self.entries[seq]

    def undo_target(self) -> Entry | None:
        """The entry to undo; None when there is nothing; HistoryGap when the cursor is on a gap."""
        if not any(seq <= self.cursor for seq in self.entries):
            return None
        if self.cursor not in self.entries:
            raise HistoryGap
        return self.entries[self.cursor]

    def redo_target(self) -> Entry | None:
        if not any(seq > self.cursor for seq in self.entries):
            return None
        if self.cursor + 1 not in self.entries:
            raise HistoryGap
        return self.entries[self.cursor + 1]

    def undone(self, entry: Entry) -> None:
        self.cursor = entry.sequence_number - 1

    def redone(self, entry: Entry) -> None:
        self.cursor = entry.sequence_number
