"""Small template helpers for the portal's look: the organisation's brand colour and list links."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()

DEFAULT_BRAND = "#1f6feb"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


@register.filter
def brand_colour(organization) -> str:
    """The organisation's colour if it is a plain #rrggbb (it lands in a style attribute), else the default."""
    colour = str(getattr(organization, "brand_colour", "") or "")
    return colour if _HEX.match(colour) else DEFAULT_BRAND


@register.filter
def ago(moment, now=None) -> str:
    """How long ago `moment` was, for "Updated from TMI 5 minutes ago.": "just now" under a minute, which
    timesince would call "0 minutes"."""
    now = now or timezone.now()
    if now - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(duration)s ago") % {"duration": timesince(moment, now)}


@register.simple_tag
def list_query(listing, **changes) -> str:
    """`?q=...&status=...&sort=...&page=...` for the threat-model list, with `changes` applied."""
    params = {"q": listing.search, "status": listing.status, "sort": listing.sort, "page": listing.page}
    params.update(unchanged_for=listing.unchanged_for, no_reviewer=int(listing.no_reviewer))
    params.update(changes)
    defaults = {"q": "", "status": "", "sort": "created", "page": 1, "unchanged_for": 0, "no_reviewer": 0}
    return "?" + urlencode({k: v for k, v in params.items() if str(v) != str(defaults.get(k, ""))})


@register.filter
def download_query(listing) -> str:
    """The threat-model list's filters and sort (not its page), for its spreadsheet links."""
    params = {"q": listing.search, "status": listing.status, "sort": listing.sort}
    defaults = {"q": "", "status": "", "sort": "created"}
    kept = {k: v for k, v in params.items() if str(v) != defaults[k]}
    return "?" + urlencode(kept) if kept else ""
