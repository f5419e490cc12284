"""Template filters every template has without `{% load %}` (settings.TEMPLATES "builtins").

`display_text`: user-written text (threat names, descriptions, people's names, ...) with bidi controls and
control characters removed (portal/diagrams/text.py). Pages and PDF templates apply it to everything that
comes from TMI. Safe input stays safe: removing characters cannot create markup.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from portal.diagrams.text import clean_display_text

register = template.Library()


@register.filter(is_safe=True)
def display_text(value) -> str:
    if hasattr(value, "__html__"):  # already markup (sanitised Markdown, a rendered SVG): keep it markup
        return mark_safe(clean_display_text(value.__html__()))  # noqa: S308 - characters removed, none added
    return clean_display_text(value)
