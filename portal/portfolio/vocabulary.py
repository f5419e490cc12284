"""The words TMI uses for severities and statuses, in both generations, reduced to one vocabulary.

1.8 sends lowercase enums (`high`, `in_progress`); 0.217 stores what clients sent (`High`, `In Progress`,
`None`). Everything a page or a PDF shows or counts goes through these functions, so a badge, a chart and a
filter agree on what "high" is.

"Open" threat (the issue leaves it to us): a threat is open unless TMI says it is mitigated (`mitigated`
is true) or its status is one of CLOSED_THREAT_STATUSES: mitigated, accepted (a risk someone signed off),
closed, resolved, false positive, not applicable, won't fix.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from portal.diagrams.text import clean_display_text

SEVERITIES = ("critical", "high", "medium", "low", "informational", "unknown")
SEVERITY_LABELS = {
    "critical": _("Critical"),
    "high": _("High"),
    "medium": _("Medium"),
    "low": _("Low"),
    "informational": _("Informational"),
    "unknown": _("Not rated"),
}
_SEVERITY_ALIASES = {
    "none": "informational",
    "info": "informational",
    "informative": "informational",
    "moderate": "medium",
    "unrated": "unknown",
    "": "unknown",
}

# Risk score of one open threat, by severity: a critical weighs as much as ten low ones. Unrated threats
# count as low, so an unassessed model is not shown as risk-free.
SEVERITY_WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "informational": 0, "unknown": 1}


def risk_score_legend() -> str:
    """The risk score explained, every severity included, from SEVERITY_WEIGHTS (so the words cannot drift
    from the sums): the one legend the overview, the model pages, the list and the PDFs print."""
    from django.utils.translation import gettext as gettext_now

    by_weight: dict[int, list[str]] = {}
    for key in SEVERITIES:
        by_weight.setdefault(SEVERITY_WEIGHTS[key], []).append(str(SEVERITY_LABELS[key]).lower())
    parts = [
        gettext_now("%(weight)d if %(severities)s") % {"weight": weight, "severities": gettext_now(" or ").join(names)}
        for weight, names in sorted(by_weight.items(), key=lambda item: -item[0])
    ]
    return gettext_now("Risk score: each open threat counts %(parts)s.") % {"parts": ", ".join(parts)}


TM_STATUSES = ("not_started", "in_progress", "pending_review", "approved", "closed")
TM_STATUS_LABELS = {
    "not_started": _("Not started"),
    "in_progress": _("In progress"),
    "pending_review": _("Pending review"),
    "approved": _("Approved"),
    "closed": _("Closed"),
    "": _("No status"),
}

CLOSED_THREAT_STATUSES = frozenset(
    {"mitigated", "accepted", "closed", "resolved", "false_positive", "not_applicable", "wont_fix"}
)
THREAT_STATUS_LABELS = {
    "identified": _("Identified"),
    "investigating": _("Investigating"),
    "in_progress": _("In progress"),
    "mitigated": _("Mitigated"),
    "accepted": _("Accepted"),
    "open": _("Open"),
    "closed": _("Closed"),
    "": _("No status"),
}


def term_key(value: object) -> str:
    """`In Progress`, `in-progress`, ` IN_PROGRESS ` -> `in_progress`; `won't fix` -> `wont_fix`."""
    text = str(value or "").strip().lower().replace("'", "")
    return re.sub(r"[\s\-]+", "_", text)


def severity_key(value: object) -> str:
    key = term_key(value)
    key = _SEVERITY_ALIASES.get(key, key)
    return key if key in SEVERITIES else "unknown"


def severity_label(key: str) -> str:
    return str(SEVERITY_LABELS.get(key, SEVERITY_LABELS["unknown"]))


def status_label(key: str, labels: dict, raw: object = "") -> str:
    """A known status in words; an unknown one as TMI spelled it (it is user data: templates escape it)."""
    if key in labels:
        return str(labels[key])
    return clean_display_text(raw or key).replace("_", " ").capitalize()  # charts draw it too: cleaned here


def tm_status_label(key: str, raw: object = "") -> str:
    return status_label(key, TM_STATUS_LABELS, raw)


def threat_status_label(key: str, raw: object = "") -> str:
    return status_label(key, THREAT_STATUS_LABELS, raw)


def threat_is_open(*, status: object, mitigated: bool | None) -> bool:
    return mitigated is not True and term_key(status) not in CLOSED_THREAT_STATUSES


def risk_score(open_by_severity: dict[str, int]) -> int:
    return sum(SEVERITY_WEIGHTS[key] * count for key, count in open_by_severity.items())
