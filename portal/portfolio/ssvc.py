"""TMI 1.8's SSVC decisions (a threat's `ssvc.decision`: Immediate, Out-of-Cycle, Scheduled, Defer) in the words
a stakeholder acts on: "act now", "schedule", "track". The store keeps the decision as a vocabulary key
(store.threat_register_fields: `immediate`, `out_of_cycle`, `scheduled`, `defer`); 0.217 has no SSVC."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.portfolio.vocabulary import term_key

SSVC_DECISIONS = ("immediate", "out_of_cycle", "scheduled", "defer")
SSVC_DECISION_LABELS = {
    "immediate": _("Immediate"),
    "out_of_cycle": _("Out-of-Cycle"),
    "scheduled": _("Scheduled"),
    "defer": _("Defer"),
}
# Immediate and Out-of-Cycle both mean: do not wait for the next planned release.
SSVC_ACTIONS = {"immediate": "act_now", "out_of_cycle": "act_now", "scheduled": "schedule", "defer": "track"}
SSVC_ACTION_LABELS = {"act_now": _("Act now"), "schedule": _("Schedule"), "track": _("Track")}
ACT_NOW_DECISIONS = tuple(key for key, action in SSVC_ACTIONS.items() if action == "act_now")


def ssvc_decision_key(threat) -> str:
    """The decision key of a TMI threat (typed model or dict), "" when it has none."""
    ssvc = threat.get("ssvc") if isinstance(threat, dict) else getattr(threat, "ssvc", None)
    decision = ssvc.get("decision") if isinstance(ssvc, dict) else None
    key = term_key(decision) if isinstance(decision, str) else ""
    return key if key in SSVC_ACTIONS else ""


def ssvc_action(decision: str) -> str:
    """`act_now`, `schedule`, `track`, or "" for no (or an unknown) decision."""
    return SSVC_ACTIONS.get(decision, "")


def ssvc_action_label(decision: str) -> str:
    action = ssvc_action(decision)
    return str(SSVC_ACTION_LABELS[action]) if action else ""


def ssvc_decision_label(decision: str) -> str:
    return str(SSVC_DECISION_LABELS.get(decision, ""))
