"""Bookkeeping that lets the bridge acknowledge operations and apply nothing twice.

TMI never acknowledges an operation: success is the absence of `operation_rejected` (PROTOCOL.md 7.4.6).
After each operation the bridge sends a cheap "fence" request whose reply comes back after TMI has
handled the operation (one socket's frames are handled in order); when the fence returns and no rejection
came, the operation is acknowledged.
"""

from __future__ import annotations

MAX_REMEMBERED = 5000


class OperationLedger:
    def __init__(self) -> None:
        self.seen: dict[str, None] = {}  # operation ids sent or delivered (insertion ordered, bounded)
        # Sent, fence not yet returned: rarely more than a few, so a list (56 bytes empty; a deque is 760, in
        # every bridged session).
        self.awaiting: list[str] = []
        self.rejected: set[str] = set()

    def remember(self, operation_id: str) -> bool:
        """Record an operation id; False if it was already known (a replay or a duplicate)."""
        if not operation_id:
            return True
        if operation_id in self.seen:
            return False
        self.seen[operation_id] = None
        while len(self.seen) > MAX_REMEMBERED:
            del self.seen[next(iter(self.seen))]
        return True

    def sent(self, operation_id: str) -> None:
        self.remember(operation_id)
        self.awaiting.append(operation_id)

    def current(self) -> str:
        """The operation TMI is handling now (the oldest awaiting its fence): what an
        `authorization_denied`, which names no operation, refers to."""
        return self.awaiting[0] if self.awaiting else ""

    def reject(self, operation_id: str) -> None:
        if operation_id:
            self.rejected.add(operation_id)

    def fence_returned(self) -> str | None:
        """The operation acknowledged by this fence, or None (it was rejected, or nothing awaited)."""
        if not self.awaiting:
            return None
        operation_id = self.awaiting.pop(0)
        if operation_id in self.rejected:
            self.rejected.discard(operation_id)
            return None
        return operation_id

    def settle(self) -> None:
        """A full state arrived: it settles every operation still awaiting (it is in the cells or not)."""
        self.awaiting.clear()
        self.rejected.clear()
