"""A page of a TMI list, and the walk across all pages in either generation.

1.8 says how many items exist (`total`); 0.217 sends bare arrays, so the last page is the first short one
(PROTOCOL.md 5.1, 9.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_LIMIT = 100  # TMI rejects larger pages


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int | None
    limit: int
    offset: int

    @property
    def next_offset(self) -> int:
        return self.offset + len(self.items)

    @property
    def has_next(self) -> bool:
        if not self.items:
            return False
        if self.total is not None:
            return self.next_offset < self.total
        return len(self.items) >= self.limit

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
