"""Template helpers for "What to do next": the risk score's legend (written once, vocabulary.risk_score_legend)
and SSVC decisions in words (portfolio/ssvc.py)."""

from __future__ import annotations

from django import template

from portal.portfolio.ssvc import ssvc_action, ssvc_action_label, ssvc_decision_label
from portal.portfolio.vocabulary import risk_score_legend

register = template.Library()


@register.simple_tag
def risk_legend() -> str:
    return risk_score_legend()


@register.filter
def ssvc_words(decision: str) -> str:
    """ "Act now (Immediate)", "Schedule (Scheduled)", "Track (Defer)"; "" for no decision."""
    if not ssvc_action(decision):
        return ""
    return f"{ssvc_action_label(decision)} ({ssvc_decision_label(decision)})"


@register.filter
def ssvc_action_key(decision: str) -> str:
    return ssvc_action(decision)
