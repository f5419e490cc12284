"""What changed (portal/portfolio/changes.py): changes made in TMI (the sandbox's REST API, both generations) and
synced read back grouped as the issue lists them, counted by the test from what it did; only the member's visible
models, only their organisation; a member's visits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.organizations.models import Organization
from portal.portfolio.changes import member_visit_record, what_changed_for_period, what_changed_get
from portal.portfolio.models import MemberVisit, StoredThreat
from portal.portfolio.sync import portfolio_sync
from tests.dashboard.conftest import find_model, readable_models
from tests.portfolio.tmi_changes import changes_made

pytestmark = pytest.mark.django_db(transaction=True)


def _synced(organization, *users) -> None:
    report = portfolio_sync(organization, members={u.pk for u in users})
    assert not (report.errors or report.stopped or report.skipped), report


def _groups(changed) -> dict[str, int]:
    return {
        "new": len(changed.new_threats),
        "closed": len(changed.closed),
        "raised": len(changed.raised),
        "lowered": len(changed.lowered),
        "model_status": len(changed.model_status),
    }


def test_the_changes_made_in_tmi_read_back_grouped_with_their_links(organization, owner, sandbox, tmi_as):
    _synced(organization, owner)
    assert what_changed_for_period(organization=organization, user=owner, period="month").total == 0  # baseline

    made = changes_made(sandbox, tmi_as("alice"))
    _synced(organization, owner)
    for period in ("week", "month"):
        changed = what_changed_for_period(organization=organization, user=owner, period=period)
        assert _groups(changed) == made.counts()
        assert changed.total == sum(made.counts().values())  # nothing else was recorded
    assert {c.key: c.count for c in changed.new_by_severity if c.count} == dict(made.new_by_severity)
    # Each item names its model and threat, as TMI holds them: what the pages link to.
    assert sorted((i.model_id, i.threat_id) for i in changed.new_threats) == sorted(made.new_threats)
    assert [(i.model_id, i.threat_id) for i in changed.closed] == made.closed
    assert [(i.model_id, i.threat_id, i.after) for i in changed.raised] == [(*made.raised[0], "critical")]
    assert [(i.model_id, i.threat_id, i.after) for i in changed.lowered] == [(*made.lowered[0], "low")]
    assert [(i.model_id, i.after) for i in changed.model_status] == [(made.model_status[0], "approved")]
    names = {tm["id"]: tm["name"] for tm in sandbox.state.threat_models.values()}
    assert all(i.model_name == names[i.model_id] for i in changed.new_threats + changed.closed)
    # A window that ends before the changes holds none of them.
    earlier = what_changed_get(
        organization=organization, user=owner, since=None, until=timezone.now() - timedelta(hours=1)
    )
    assert earlier.total == 0


def test_a_member_sees_only_changes_of_models_tmi_lets_them_see(organization, owner, member_factory, sandbox, tmi_as):
    bob = member_factory(organization, "bob")
    _synced(organization, owner, bob)
    made = changes_made(sandbox, tmi_as("alice"))
    hidden = find_model(sandbox, "Partner Webhooks Service")  # alice's; TMI does not let bob see it (seed)
    created = tmi_as("alice").threats.create(
        hidden["id"], name="Forged webhook", threat_type=["Spoofing"], severity="high"
    )
    made.new_threats.append((hidden["id"], created.id))
    _synced(organization, owner, bob)
    bobs = {tm["id"] for tm in readable_models(sandbox, "bob")}
    assert hidden["id"] not in bobs
    changed = what_changed_for_period(organization=organization, user=bob, period="week")
    expected = {
        "new": sum(1 for tm_id, _ in made.new_threats if tm_id in bobs),
        "closed": sum(1 for tm_id, _ in made.closed if tm_id in bobs),
        "raised": sum(1 for tm_id, _ in made.raised if tm_id in bobs),
        "lowered": sum(1 for tm_id, _ in made.lowered if tm_id in bobs),
        "model_status": sum(1 for tm_id in made.model_status if tm_id in bobs),
    }
    assert _groups(changed) == expected
    assert sum(expected.values()) < sum(made.counts().values())  # some of alice's changes are hidden from bob
    assert len(what_changed_for_period(organization=organization, user=owner, period="week").new_threats) == 3
    seen = {
        i.model_id for group in (changed.new_threats, changed.closed, changed.raised, changed.lowered) for i in group
    }
    assert seen <= bobs


def test_another_organisation_never_sees_these_changes(
    organization, other_organization, owner, member_factory, sandbox, tmi_as
):
    alice_elsewhere = member_factory(other_organization, "alice", role="owner")
    _synced(organization, owner)
    _synced(other_organization, alice_elsewhere)
    changes_made(sandbox, tmi_as("alice"))
    _synced(organization, owner)  # only acme syncs after the changes
    assert what_changed_for_period(organization=organization, user=owner, period="week").total > 0
    assert what_changed_for_period(organization=other_organization, user=alice_elsewhere, period="week").total == 0


def test_new_threats_count_by_their_severity_now(organization, owner, sandbox, tmi_as):
    _synced(organization, owner)
    made = changes_made(sandbox, tmi_as("alice"))
    tm_id, threat_id = made.new_threats[0]  # created high
    tmi_as("alice").threats.patch(tm_id, threat_id, [{"op": "replace", "path": "/severity", "value": "medium"}])
    _synced(organization, owner)
    changed = what_changed_for_period(organization=organization, user=owner, period="week")
    now = {c.key: c.count for c in changed.new_by_severity if c.count}
    assert now == {"medium": 1, "critical": 1}
    assert StoredThreat.objects.get(tmi_id=threat_id).severity == "medium"
    assert len(changed.lowered) == 1  # created and lowered between two syncs: the portal saw it new, as medium


# -- visits --------------------------------------------------------------------------------------------------------
@pytest.fixture
def org(db):
    return Organization.objects.create(name="Initech", slug="initech", tmi_base_url="https://tmi.example.test")


def test_a_first_visit_has_no_last_visit_and_the_visit_page_falls_back_to_the_week(org, django_user_model):
    user = django_user_model.objects.create(username="dana")
    visit = member_visit_record(organization=org, user=user)
    assert visit.previous_at is None
    changed = what_changed_for_period(organization=org, user=user, period="visit")
    assert changed.first and changed.period == "week"
    assert timedelta(days=7) - timedelta(seconds=5) < changed.until - changed.since <= timedelta(days=7)


def test_views_closer_than_the_gap_are_one_visit_a_longer_gap_starts_the_next(org, django_user_model, settings):
    settings.PORTAL_VISIT_GAP_SECONDS = 1800
    user = django_user_model.objects.create(username="dana")
    start = timezone.now() - timedelta(hours=5)
    member_visit_record(organization=org, user=user, now=start)
    member_visit_record(organization=org, user=user, now=start + timedelta(minutes=20))
    visit = MemberVisit.objects.get(organization=org, user=user)
    assert visit.previous_at is None and visit.last_seen_at == start + timedelta(minutes=20)  # the same visit
    later = start + timedelta(minutes=20 + 31)
    visit = member_visit_record(organization=org, user=user, now=later)
    assert visit.previous_at == start + timedelta(minutes=20) and visit.last_seen_at == later
    visit = member_visit_record(organization=org, user=user, now=later + timedelta(minutes=10))
    assert visit.previous_at == start + timedelta(minutes=20)  # still the visit that started at `later`
    changed = what_changed_for_period(organization=org, user=user, period="visit")
    assert not changed.first and changed.period == "visit" and changed.since == visit.previous_at


def test_since_the_last_visit_counts_what_the_portal_learnt_after_it(organization, owner, sandbox, tmi_as):
    """A change TMI dates before the visit but synced after it is news to the member (the portal's clock)."""
    _synced(organization, owner)
    made = changes_made(sandbox, tmi_as("alice"))  # made in TMI now, not yet synced
    member_visit_record(organization=organization, user=owner, now=timezone.now() - timedelta(hours=2))
    member_visit_record(organization=organization, user=owner)  # a new visit: the last one was 2 hours ago
    _synced(organization, owner)
    changed = what_changed_for_period(organization=organization, user=owner, period="visit")
    assert changed.period == "visit" and not changed.first
    assert _groups(changed) == made.counts()
