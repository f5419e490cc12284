"""Where each number leads: the register of threats or the model list, filtered to exactly what the number
counts. One place builds these addresses, so a chart's bar, a count in a sentence and a flag open the same list,
and the count there matches (tests/browser/test_numbers_lead_somewhere.py clicks each one)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from urllib.parse import urlencode

from django.urls import reverse

from portal.portfolio.records import Count


def _with_query(base: str, filters: dict) -> str:
    query = urlencode({k: v for k, v in filters.items() if v not in (None, "", [], ())}, doseq=True)
    return f"{base}?{query}" if query else base


def register_url(slug: str, **filters) -> str:
    """The register (open threats unless `state` says otherwise) with these filters; lists repeat the key."""
    return _with_query(reverse("dashboard:threats", args=[slug]), filters)


def model_list_url(slug: str, **filters) -> str:
    return _with_query(reverse("dashboard:threat_models", args=[slug]), filters)


def model_url(slug: str, threat_model_id: str, *, threat_id: str = "", **filters) -> str:
    url = _with_query(reverse("dashboard:threat_model", args=[slug, threat_model_id]), filters)
    return f"{url}#threat-{threat_id}" if threat_id else url


def counts_linked(counts: Iterable[Count], url_for: Callable[[Count], str]) -> list[Count]:
    """The counts, each with the address of what it counts (none for a zero: nothing to open)."""
    return [replace(count, url=url_for(count) if count.count else "") for count in counts]
