"""List filters and sorting shared by the threat-model and threat lists (PROTOCOL.md 5.2, 5.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from portal.sandbox.rest.pipeline import invalid_input

Item = dict[str, Any]
Predicate = Callable[[Item], bool]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def time_window(query: dict[str, Any], field: str, prefix: str | None = None) -> list[Predicate]:
    """`<prefix>_after` / `<prefix>_before` against the item's RFC 3339 `field`."""
    prefix = prefix or field.removesuffix("_at")
    tests: list[Predicate] = []
    for suffix, compare in (("after", lambda a, b: a > b), ("before", lambda a, b: a < b)):
        bound = query.get(f"{prefix}_{suffix}")
        if bound is None:
            continue
        try:
            limit = _when(bound)
        except ValueError:
            raise invalid_input(f'parameter "{prefix}_{suffix}" in query has an error: not an RFC 3339 time') from None
        tests.append(lambda item, f=field, lim=limit, cmp=compare: bool(item.get(f)) and cmp(_when(item[f]), lim))
    return tests


def contains(
    query: dict[str, Any], name: str, text_of: Callable[[Item], Iterable[str]] | None = None
) -> list[Predicate]:
    """Case-insensitive substring match of the parameter against one or more texts of the item."""
    needle = query.get(name)
    if not needle:
        return []
    text_of = text_of or (lambda item: [str(item.get(name) or "")])
    return [lambda item: any(needle.lower() in t.lower() for t in text_of(item))]


def one_of(query: dict[str, Any], name: str) -> list[Predicate]:
    """The item's value (or any of its values, for array fields) is among the requested ones."""
    wanted = query.get(name)
    if wanted is None or wanted == []:
        return []
    wanted_set = {str(w).lower() for w in (wanted if isinstance(wanted, list) else [wanted])}

    def test(item: Item) -> bool:
        value = item.get(name)
        values = value if isinstance(value, list) else [value]
        return any(str(v).lower() in wanted_set for v in values if v is not None)

    return [test]


def equals(query: dict[str, Any], name: str) -> list[Predicate]:
    if query.get(name) is None:
        return []
    return [lambda item: item.get(name) == query[name]]


def apply(items: list[Item], predicates: list[Predicate]) -> list[Item]:
    return [i for i in items if all(p(i) for p in predicates)]


SORTABLE = ("name", "created_at", "modified_at", "severity", "score", "status", "priority", "threat_type")


DEFAULT_SORT = "created_at:desc"
# 1.8 sorts severity by rank, not by name (the real 1.8.22: asc low, medium, high, critical).
SEVERITY_RANK = {"info": 0, "informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _sort_key(item: Item, field: str) -> tuple[bool, str]:
    value = item.get(field)
    if field == "severity" and isinstance(value, str) and value.lower() in SEVERITY_RANK:
        return False, f"{SEVERITY_RANK[value.lower()]:02d}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value is None, f"{value:020.6f}"
    return value is None, str(value)


def sort(items: list[Item], spec: str, *, lenient: bool = False) -> list[Item]:
    """`field[:asc|desc]`, several separated by commas; the first is the primary key.

    `lenient` (the threats list at both generations; PROTOCOL.md 12.6) answers 200 whatever it gets: an unknown
    field falls back to the default order, and anything but `asc` (a bad or missing direction) is descending.
    Without it a sort it cannot read is a 400."""
    result = list(items)
    for part in reversed([p.strip() for p in spec.split(",") if p.strip()]):
        field, _, direction = part.partition(":")
        direction = direction.lower()
        if lenient:
            field, direction = (field, direction) if field in SORTABLE else DEFAULT_SORT.split(":")
            direction = "asc" if direction == "asc" else "desc"
        direction = direction or "asc"
        if field not in SORTABLE or direction not in ("asc", "desc"):
            raise invalid_input(f"Invalid sort parameter: {part}")
        result.sort(key=lambda i, f=field: _sort_key(i, f), reverse=direction == "desc")
    return result
