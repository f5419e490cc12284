"""Bookkeeping that lets the bridge acknowledge operations and apply nothing twice.

TMI never acknowledges an operation: success is the absence of `operation_rejected` (PROTOCOL.md 7.4.6).
After each operation the bridge sends a cheap "fence" request whose reply comes back after TMI has
handled the operation (one socket's frames are handled in order); when the fence returns and no rejection
came, the operation is acknowledged.
"""

from __future__ import annotations

# A replay can only bring back what TMI still holds: its session history keeps the last 100 entries
# (PROTOCOL.md 7.8), and 1.8's sequence numbers catch replays before the ids are looked at. Each id kept costs
# memory for as long as the socket stays open: 5,000 of them grew a busy session by ~600 KiB.
MAX_REMEMBERED = 100
_DIGEST, _MASK = 8, 2**64 - 1


class OperationLedger:
    def __init__(self) -> None:
        # The 64-bit hashes of the last operation ids sent or delivered, in a ring of bytes searched in C: 800
        # bytes however long the socket stays open (as strings in a dict they were ~120 bytes each; an array of
        # ints is searched an int object at a time, 3% of the relay's time). Two ids with the same 64-bit hash
        # among 100 are not a risk worth the strings.
        self._seen = bytearray(_DIGEST * MAX_REMEMBERED)
        self._next = 0
        # Sent, fence not yet returned: rarely more than a few, so a list (56 bytes empty; a deque is 760, in
        # every bridged session).
        self.awaiting: list[str] = []
        self.rejected: set[str] = set()

    def remember(self, operation_id: str) -> bool:
        """Record an operation id; False if it was already known (a replay or a duplicate)."""
        if not operation_id:
            return True
        digest = ((hash(operation_id) & _MASK) or 1).to_bytes(_DIGEST, "little")  # zeros mark an empty place
        found = self._seen.find(digest)
        while found != -1 and found % _DIGEST:  # straddling two places: not a match
            found = self._seen.find(digest, found + 1)
        if found != -1:
            return False
        place = self._next * _DIGEST
        self._seen[place : place + _DIGEST] = digest
        self._next = (self._next + 1) % MAX_REMEMBERED
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
