"""Links of the "what changed" parts: into the threat register (its URL built in one place, trend_pages)."""

from __future__ import annotations

from django import template

from portal.dashboard.trend_pages import register_href

register = template.Library()


@register.simple_tag
def register_url(slug: str, **params) -> str:
    """`{% register_url organization.slug severity="high" changed_within=7 state="all" %}`"""
    return register_href(slug, **params)


@register.filter
def get_item(mapping, key):
    """`{{ point.values|get_item:key }}`: a dictionary's value by a key from a loop."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
