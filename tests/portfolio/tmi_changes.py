"""Changes made in TMI itself (the sandbox's REST API, as alice), and what each should read as, worked out by the
test from the sandbox's own state, never by the portal's code: shared by the trends, changes, pages and PDF tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from portal.portfolio.vocabulary import severity_key, term_key, threat_is_open

# Most serious first, as a stakeholder reads them ("not rated" below informational).
ORDER = ("critical", "high", "medium", "low", "informational", "unknown")


@dataclass
class Made:
    """What the test did in TMI, as the groups of "what changed" should count it."""

    new_by_severity: Counter = field(default_factory=Counter)
    new_threats: list[tuple[str, str]] = field(default_factory=list)  # (model id, threat id)
    closed: list[tuple[str, str]] = field(default_factory=list)
    raised: list[tuple[str, str]] = field(default_factory=list)
    lowered: list[tuple[str, str]] = field(default_factory=list)
    model_status: list[str] = field(default_factory=list)  # model ids

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new_threats),
            "closed": len(self.closed),
            "raised": len(self.raised),
            "lowered": len(self.lowered),
            "model_status": len(self.model_status),
        }


def owned_models(sandbox, hint: str) -> list[dict]:
    state = sandbox.state
    user = state.find_user(hint)
    return sorted(
        (tm for tm in state.threat_models.values() if not tm.get("deleted_at") and state.role_of(user, tm) == "owner"),
        key=lambda tm: tm["name"],
    )


def open_threats_of(tm: dict) -> list[dict]:
    return [
        t
        for t in tm.get("threats", [])
        if not t.get("deleted_at") and threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))
    ]


def changes_made(sandbox, tmi, hint: str = "alice") -> Made:
    """In the models `hint` owns: two new threats (high, critical), one open threat mitigated, one raised to
    critical, one lowered to low, and one model's review status changed. Returns what was done."""
    made = Made()
    models = owned_models(sandbox, hint)
    assert models, "the seed gives alice models she owns"
    first = models[0]
    for name, severity in (("Session fixation on the admin console", "high"), ("Leaked signing key", "critical")):
        created = tmi.threats.create(first["id"], name=name, threat_type=["Spoofing"], severity=severity)
        made.new_threats.append((first["id"], created.id))
        made.new_by_severity[severity] += 1
    candidates = [(tm, t) for tm in models for t in open_threats_of(tm)]
    used: set[str] = set()

    def pick(test) -> tuple[dict, dict]:
        tm, threat = next(
            (tm, t) for tm, t in candidates if t["id"] not in used and test(severity_key(t.get("severity")))
        )
        used.add(threat["id"])
        return tm, threat

    tm, threat = pick(lambda s: True)
    tmi.threats.patch(tm["id"], threat["id"], [{"op": "replace", "path": "/mitigated", "value": True}])
    made.closed.append((tm["id"], threat["id"]))
    tm, threat = pick(lambda s: s != "critical")
    tmi.threats.patch(tm["id"], threat["id"], [{"op": "replace", "path": "/severity", "value": "critical"}])
    made.raised.append((tm["id"], threat["id"]))
    tm, threat = pick(lambda s: ORDER.index(s) < ORDER.index("low"))
    tmi.threats.patch(tm["id"], threat["id"], [{"op": "replace", "path": "/severity", "value": "low"}])
    made.lowered.append((tm["id"], threat["id"]))
    sandbox.state.find_user(hint).is_security_reviewer = True  # the status is a reviewer's field at 1.8
    target = next(tm for tm in models if term_key(tm.get("status")) != "approved")
    tmi.threat_models.patch(target["id"], [{"op": "replace", "path": "/status", "value": "approved"}])
    made.model_status.append(target["id"])
    return made
