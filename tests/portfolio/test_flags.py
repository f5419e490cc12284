"""What to do next (portfolio/flags.py), both TMI generations: TMI changed over the sandbox's REST API, synced,
and every flag's count computed here from the sandbox's own state.

Time: the seed's threat models and threats carry TMI timestamps from January 2026 (portal/sandbox/seed.py), so
"critical open for more than 30 days" and "unchanged for 90 days" hold for them as TMI holds them; the tests
make fresh ones through the REST API (TMI stamps them now) and move a seeded threat's `created_at` in the
sandbox's state (written before the first sync, so the store reads it as TMI's) to cross the 30-day line."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from portal.portfolio.flag_rules import flag_groups
from portal.portfolio.flags import portfolio_flags_get, threat_model_flags_get
from portal.portfolio.selectors import threat_model_list_get
from portal.portfolio.ssvc import ACT_NOW_DECISIONS, ssvc_decision_key
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.vocabulary import severity_key, term_key, threat_is_open
from tests.dashboard.conftest import find_model, readable_models, store_filled

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _live_open(tm: dict) -> list[dict]:
    return [
        t
        for t in tm.get("threats", [])
        if not t.get("deleted_at") and threat_is_open(status=t.get("status"), mitigated=t.get("mitigated"))
    ]


def _latest(tm: dict) -> datetime:
    """When anything in the model last changed, as TMI holds it (the model, any threat, diagram or other item)."""
    items = [tm] + [child for key in ("threats", "diagrams", "documents", "assets", "notes", "repositories")
                    for child in tm.get(key, [])]  # fmt: skip
    return max(_when(t[f]) for t in items for f in ("created_at", "modified_at", "deleted_at") if t.get(f))


def expected_flags(models: list[dict], *, legacy: bool, now: datetime) -> dict[str, dict[str, int]]:
    """{kind: {model name: count}} from the sandbox's state, by the issue's rules."""
    out: dict[str, dict[str, int]] = {kind: {} for kind in
                                      ("closed_with_serious", "critical_open_long", "act_now", "unchanged", "no_reviewer")}  # fmt: skip
    for tm in models:
        still_open = _live_open(tm)
        serious = sum(1 for t in still_open if severity_key(t.get("severity")) in ("critical", "high"))
        if term_key(tm.get("status")) in ("closed", "approved") and serious:
            out["closed_with_serious"][tm["name"]] = serious
        old = sum(
            1
            for t in still_open
            if severity_key(t.get("severity")) == "critical" and _when(t["created_at"]) < now - timedelta(days=30)
        )
        if old:
            out["critical_open_long"][tm["name"]] = old
        act = sum(1 for t in still_open if ssvc_decision_key(t) in ACT_NOW_DECISIONS)
        if act:
            out["act_now"][tm["name"]] = act
        if _latest(tm) <= now - timedelta(days=90):
            out["unchanged"][tm["name"]] = (now - _latest(tm)).days
        if not legacy and not tm.get("security_reviewer"):
            out["no_reviewer"][tm["name"]] = 1
    return out


def found_flags(flags) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {kind: {} for kind in
                                      ("closed_with_serious", "critical_open_long", "act_now", "unchanged", "no_reviewer")}  # fmt: skip
    for flag in flags:
        assert flag.model_name not in out[flag.kind], flag  # one flag of a kind per model
        out[flag.kind][flag.model_name] = flag.count
    return out


def _sync(organization, owner) -> None:
    report = portfolio_sync(organization, members={owner.pk})
    assert not report.errors and not report.stopped, report


def test_flags_match_the_sandbox_after_changes_made_in_tmi(sandbox, organization, owner, tmi_as):
    state, legacy = sandbox.state, sandbox.state.config.is_legacy
    payments = find_model(sandbox, PAYMENTS)
    # A seeded critical threat created 10 days ago (written into TMI's state before the store first reads it):
    # open, critical, but not yet past the 30-day line.
    recent = next((t for t in payments["threats"] if severity_key(t.get("severity")) != "critical"), None)
    assert recent is not None
    recent["severity"] = "critical" if not legacy else "Critical"
    recent["status"] = "identified" if not legacy else "Identified"
    recent["mitigated"] = False
    recent["created_at"] = recent["modified_at"] = (
        (datetime.now(UTC) - timedelta(days=10)).isoformat().replace("+00:00", "Z")
    )
    store_filled(organization, owner)
    now = timezone.now()
    models = readable_models(sandbox, "alice")
    expected = expected_flags(models, legacy=legacy, now=now)
    assert found_flags(portfolio_flags_get(organization=organization, user=owner, now=now)) == expected
    # The seed holds every flag (no reviewer and SSVC at 1.8 only); the 10-day-old critical threat is not "long".
    assert all(expected[kind] for kind in ("closed_with_serious", "critical_open_long", "unchanged"))
    assert bool(expected["act_now"]) == bool(expected["no_reviewer"]) == (not legacy)
    assert expected["unchanged"].keys() == {tm["name"] for tm in models} - {PAYMENTS}  # the 10-day-old threat

    # Changes made in TMI: a model marked Closed with a new open critical threat; an SSVC "Immediate" (1.8);
    # a reviewer cleared (1.8). A child write leaves TMI's model modified_at alone (PROTOCOL.md 12.9), yet the
    # model is no longer "unchanged": the store's history knows.
    alice = tmi_as("alice")
    target = find_model(sandbox, "Partner Webhooks Service")  # alice owns it
    assert target["name"] in expected["unchanged"]
    model_modified = target["modified_at"]
    fields = {
        "ssvc": {"vector": "SSVCv2/E:A/U:S/T:T/P:S/2026-04-08/", "decision": "Immediate", "methodology": "Supplier"}
    }
    alice.threats.create(
        target["id"], name="Forged partner callback", threat_type=["Spoofing"], severity="critical",
        **({} if legacy else fields),
    )  # fmt: skip
    assert find_model(sandbox, "Partner Webhooks Service")["modified_at"] == model_modified
    state.find_user("alice").is_security_reviewer = True  # status is a reviewer's field at 1.8
    alice.threat_models.patch(target["id"], [{"op": "replace", "path": "/status", "value": "closed"}])
    if not legacy:
        alice.threat_models.patch(target["id"], [{"op": "remove", "path": "/security_reviewer"}])
    _sync(organization, owner)
    now = timezone.now()
    models = readable_models(sandbox, "alice")
    expected = expected_flags(models, legacy=legacy, now=now)
    flags = portfolio_flags_get(organization=organization, user=owner, now=now)
    assert found_flags(flags) == expected
    assert "Partner Webhooks Service" in expected["closed_with_serious"]
    assert "Partner Webhooks Service" not in expected["unchanged"]
    if not legacy:
        assert (
            "Partner Webhooks Service" in expected["no_reviewer"] and "Partner Webhooks Service" in expected["act_now"]
        )

    # The groups sum the flags; the model lists behind "unchanged" and "no reviewer" hold exactly those models.
    groups = {group.kind: group for group in flag_groups(flags, slug=organization.slug)}
    assert groups["closed_with_serious"].count == sum(expected["closed_with_serious"].values())
    assert groups["critical_open_long"].count == sum(expected["critical_open_long"].values())
    assert groups["unchanged"].count == len(expected["unchanged"])
    unchanged = threat_model_list_get(organization=organization, user=owner, unchanged_for=90, page_size=100)
    assert {row.name for row in unchanged.rows} == set(expected["unchanged"]) and unchanged.total == len(
        expected["unchanged"]
    )
    no_reviewer = threat_model_list_get(organization=organization, user=owner, no_reviewer="1", page_size=100)
    assert {row.name for row in no_reviewer.rows} == set(expected["no_reviewer"])
    if not legacy:
        assert groups["act_now"].count == sum(expected["act_now"].values())
        assert groups["no_reviewer"].count == no_reviewer.total


def test_flag_links_lead_to_exactly_their_items(sandbox, organization, owner):
    store_filled(organization, owner)
    flags = portfolio_flags_get(organization=organization, user=owner)
    by_kind = Counter(flag.kind for flag in flags)
    assert by_kind["unchanged"] and by_kind["critical_open_long"]
    for flag in flags:
        if flag.kind == "closed_with_serious":
            assert flag.href == (
                "/o/acme/threats/?model_status=closed&model_status=approved&severity=critical&severity=high"
                f"&model={flag.model_id}"
            )
        elif flag.kind == "critical_open_long":
            assert flag.href == f"/o/acme/threats/?severity=critical&older_than=30&model={flag.model_id}"
        elif flag.kind == "act_now":
            assert flag.href == f"/o/acme/threats/?ssvc=immediate&ssvc=out_of_cycle&model={flag.model_id}"
        else:
            assert flag.href == f"/o/acme/threat-models/{flag.model_id}/"
    groups = {group.kind: group.href for group in flag_groups(flags, slug="acme")}
    assert groups["unchanged"] == "/o/acme/threat-models/?unchanged_for=90"
    assert groups["critical_open_long"] == "/o/acme/threats/?severity=critical&older_than=30"


def test_a_member_is_flagged_only_about_models_tmi_lets_them_see(sandbox, organization, member_factory):
    bob = member_factory(organization, "bob")
    store_filled(organization, bob)
    seen = {tm["name"] for tm in readable_models(sandbox, "bob")}
    flags = portfolio_flags_get(organization=organization, user=bob)
    assert flags and {flag.model_name for flag in flags} <= seen
    hidden = next(tm for tm in sandbox.state.threat_models.values() if tm["name"] not in seen)
    assert threat_model_flags_get(organization=organization, user=bob, threat_model_id=hidden["id"]) == []


def test_settings_move_the_lines(sandbox, organization, owner, settings):
    store_filled(organization, owner)
    models = readable_models(sandbox, "alice")
    newest = max(_latest(tm) for tm in models)
    settings.PORTAL_STALE_MODEL_DAYS = (timezone.now() - newest).days + 1  # past the most recent model
    flags = portfolio_flags_get(organization=organization, user=owner)
    assert not [f for f in flags if f.kind == "unchanged" and f.model_name == next(
        tm["name"] for tm in models if _latest(tm) == newest)]  # fmt: skip
    settings.PORTAL_CRITICAL_OPEN_DAYS = 100_000
    assert not [f for f in portfolio_flags_get(organization=organization, user=owner) if f.kind == "critical_open_long"]
