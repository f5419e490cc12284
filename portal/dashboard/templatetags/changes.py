"""Links of the "what changed" parts: into the threat register (its address built in one place, portfolio/links)."""

from __future__ import annotations

from django import template

from portal.portfolio import links

register = template.Library()


@register.simple_tag
def register_url(slug: str, **params) -> str:
    """`{% register_url organization.slug severity="high" changed_within=7 state="all" %}`"""
    return links.register_url(slug, **params)


@register.filter
def get_item(mapping, key):
    """`{{ point.values|get_item:key }}`: a dictionary's value by a key from a loop."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
