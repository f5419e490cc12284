"""What the register should hold, computed from the sandbox's own state (TMI's data as the test wrote or seeded it),
not by the code under test: the threats a sandbox user may read, filtered the way the URL contract says."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from portal.portfolio.vocabulary import severity_key, term_key, threat_is_open
from tests.dashboard.conftest import readable_models


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def types_of(threat: dict) -> list[str]:
    raw = threat.get("threat_type") or []
    return [raw] if isinstance(raw, str) else list(raw)


def sandbox_threats(sandbox, hint: str) -> list[tuple[dict, dict]]:
    """(threat, its model) for every live threat of every model the sandbox lets `hint` read."""
    return [
        (threat, tm)
        for tm in readable_models(sandbox, hint)
        for threat in tm.get("threats", [])
        if not threat.get("deleted_at")
    ]


def is_open(threat: dict) -> bool:
    return threat_is_open(status=threat.get("status"), mitigated=threat.get("mitigated"))


def expected_ids(
    sandbox,
    hint: str,
    *,
    now: datetime,
    state: str = "open",
    severities: tuple = (),
    status: str = "",
    models: tuple = (),
    model_statuses: tuple = (),
    threat_type: str = "",
    priority: str = "",
    ssvc: str = "",
    older_than: int | None = None,
    changed_within: int | None = None,
    q: str = "",
) -> set[str]:
    found = set()
    for threat, tm in sandbox_threats(sandbox, hint):
        if state != "all" and is_open(threat) != (state == "open"):
            continue
        if severities and severity_key(threat.get("severity")) not in severities:
            continue
        if status and term_key(threat.get("status")) != status:
            continue
        if models and tm["id"] not in models:
            continue
        if model_statuses and term_key(tm.get("status")) not in model_statuses:
            continue
        if threat_type and threat_type.lower() not in [t.lower() for t in types_of(threat)]:
            continue
        if priority and term_key(threat.get("priority")) != priority:
            continue
        if ssvc and term_key((threat.get("ssvc") or {}).get("decision")) != ssvc:
            continue
        created, modified = when(threat.get("created_at")), when(threat.get("modified_at"))
        if older_than is not None and not (created and created < now - timedelta(days=older_than)):
            continue
        if changed_within is not None and not (modified and modified >= now - timedelta(days=changed_within)):
            continue
        if q:
            texts = [threat.get("name"), threat.get("description"), threat.get("mitigation"), tm.get("name")]
            if not any(q.lower() in (text or "").lower() for text in texts):
                continue
        found.add(threat["id"])
    return found


def expected_by_severity(sandbox, hint: str, ids: set[str]) -> Counter:
    return Counter(severity_key(t.get("severity")) for t, _tm in sandbox_threats(sandbox, hint) if t["id"] in ids)
