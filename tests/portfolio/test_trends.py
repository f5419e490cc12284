"""Trends (portal/portfolio/trends.py) against the sandbox in both TMI generations, every number worked out by the
test from the sandbox's state (or from the rows it wrote).

Day one: TMI's threats carry dates from before the portal synced the organisation. Here the sandbox's threats are
given dates within the last 90 days in its own state, before the first sync, as a TMI used for months would have
them; the portal reads them through TMI's API. Where a test is about reading a longer history, it writes past
daily snapshots directly (said at the test): the portal's own history cannot be made faster than a day a day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from portal.portfolio.models import DailySnapshot, StoredThreatModel
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.trends import (
    UNRECORDED,
    closed_per_week_trend,
    models_by_status_trend,
    open_threats_trend,
)
from portal.portfolio.vocabulary import severity_key, threat_is_open
from tests.dashboard.conftest import find_model, open_severities, readable_models, status_counts
from tests.portfolio.conftest import stored
from tests.portfolio.tmi_changes import open_threats_of, owned_models

pytestmark = pytest.mark.django_db(transaction=True)

DAYS = 90


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _day(moment: datetime) -> date:
    return timezone.localdate(moment)


def _window() -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


def _spread_dates(sandbox, hint: str) -> None:
    """Give the threats of the models `hint` reads created (and closed ones modified) dates inside the window, in
    TMI's own state: threat i created 5 + 7*i % 80 days ago; a closed one last changed 3 days after."""
    now = timezone.now()
    threats = [t for tm in readable_models(sandbox, hint) for t in tm.get("threats", []) if not t.get("deleted_at")]
    for i, threat in enumerate(sorted(threats, key=lambda t: t["id"])):
        created = now - timedelta(days=5 + (7 * i) % 80, hours=1)
        threat["created_at"] = _iso(created)
        open_now = threat_is_open(status=threat.get("status"), mitigated=threat.get("mitigated"))
        threat["modified_at"] = _iso(created + timedelta(days=0 if open_now else 3))


def _open_on(threat: dict, day: date) -> bool:
    """The estimate's rule, from TMI's dates: open from its creation; a closed one until its last change."""
    created = _day(_when(threat["created_at"]))
    if created > day:
        return False
    if threat_is_open(status=threat.get("status"), mitigated=threat.get("mitigated")):
        return True
    return _day(_when(threat["modified_at"])) > day


def _estimated(models: list[dict], day: date) -> Counter:
    return Counter(
        severity_key(t.get("severity"))
        for tm in models
        for t in tm.get("threats", [])
        if not t.get("deleted_at") and _open_on(t, day)
    )


def _sync(organization, *users) -> None:
    report = portfolio_sync(organization, members={u.pk for u in users})
    assert not (report.errors or report.stopped or report.skipped), report


def test_day_one_today_is_what_tmi_holds_and_earlier_days_are_estimated_from_its_dates(organization, owner, sandbox):
    _spread_dates(sandbox, "alice")
    _sync(organization, owner)
    models = readable_models(sandbox, "alice")
    trend = open_threats_trend(organization=organization, user=owner)
    window = _window()
    assert [p.day for p in trend.points] == window
    assert trend.history_start == window[-1]  # the first sync was today
    last = trend.points[-1]
    assert {k: v for k, v in last.values.items() if v} == dict(open_severities(models)) and not last.estimated
    for point in trend.points[:-1]:
        assert point.estimated
        assert {k: v for k, v in point.values.items() if v} == dict(_estimated(models, point.day)), point.day
    assert len({p.total for p in trend.points}) > 3  # the dates do spread the counts over the window


def test_days_between_snapshots_carry_the_last_one_forward(organization, owner, sandbox):
    """Reads a history of 30 days: past snapshots written directly (the sync writes only today's)."""
    _sync(organization, owner)
    tm = stored(organization, find_model(sandbox, "Customer Payments API")["id"])
    today = timezone.localdate()
    rows = {today - timedelta(days=30): {"high": 5}, today - timedelta(days=12): {"critical": 1, "low": 2}}
    for day, counts in rows.items():
        DailySnapshot.objects.create(
            organization=organization, threat_model=tm, day=day, status="in_progress", open_by_severity=counts,
            open_total=sum(counts.values()),
        )  # fmt: skip
    trend = open_threats_trend(organization=organization, user=owner, threat_model_id=tm.tmi_id)
    model = find_model(sandbox, "Customer Payments API")
    assert trend.history_start == today - timedelta(days=30)
    for point in trend.points:
        got = {k: v for k, v in point.values.items() if v}
        age = (today - point.day).days
        if age == 0:
            assert got == dict(open_severities([model])) and not point.estimated
        elif age <= 12:
            assert got == {"critical": 1, "low": 2} and not point.estimated
        elif age <= 30:
            assert got == {"high": 5} and not point.estimated
        else:
            assert got == dict(_estimated([model], point.day)) and point.estimated


def test_models_by_status_per_day(organization, owner, sandbox):
    """Reads a history: one model's past snapshot written directly, 20 days back, in another status."""
    models = readable_models(sandbox, "alice")
    young = models[0]
    young["created_at"] = _iso(timezone.now() - timedelta(days=10))  # TMI created it 10 days ago
    _sync(organization, owner)
    today = timezone.localdate()
    older = stored(organization, models[1]["id"])
    DailySnapshot.objects.create(
        organization=organization, threat_model=older, day=today - timedelta(days=20), status="not_started"
    )
    trend = models_by_status_trend(organization=organization, user=owner)
    last = trend.points[-1]
    assert {k: v for k, v in last.values.items() if v} == dict(status_counts(models))
    for point in trend.points[:-1]:
        age = (today - point.day).days
        born = [tm for tm in models if _day(_when(tm["created_at"])) <= point.day]
        expected = Counter({UNRECORDED: len(born)})
        if age <= 20:
            expected[UNRECORDED] -= 1
            expected["not_started"] += 1
        assert {k: v for k, v in point.values.items() if v} == {k: v for k, v in expected.items() if v}, point.day
    assert trend.points[-12].values[UNRECORDED] == len(models) - 2  # the day before TMI created the young one
    assert trend.points[-11].values[UNRECORDED] == len(models) - 1


def test_closed_per_week_counts_closures_in_tmi_and_estimates_those_before_the_history(
    organization, owner, sandbox, tmi_as
):
    _spread_dates(sandbox, "alice")
    models = readable_models(sandbox, "alice")
    closed_before = Counter()  # the estimate, from TMI's dates: closed now, by the Monday of their last change
    for tm in models:
        for t in tm.get("threats", []):
            if not t.get("deleted_at") and not threat_is_open(status=t.get("status"), mitigated=t.get("mitigated")):
                day = _day(_when(t["modified_at"]))
                closed_before[day - timedelta(days=day.weekday())] += 1
    _sync(organization, owner)
    to_close = [(tm, t) for tm in owned_models(sandbox, "alice") for t in open_threats_of(tm)][:3]
    for tm, threat in to_close:
        tmi_as("alice").threats.patch(tm["id"], threat["id"], [{"op": "replace", "path": "/mitigated", "value": True}])
    _sync(organization, owner)
    trend = closed_per_week_trend(organization=organization, user=owner)
    today = timezone.localdate()
    this_week = today - timedelta(days=today.weekday())
    window_start = _window()[0]
    expected = Counter({week: n for week, n in closed_before.items() if week + timedelta(days=6) >= window_start})
    expected[this_week] += len(to_close)
    assert {p.day: p.values["closed"] for p in trend.points if p.values["closed"]} == dict(expected)
    assert trend.points[-1].day == this_week  # a week holding estimated closures says so; one without does not
    assert [p.estimated for p in trend.points] == [p.day in closed_before or p.day < today for p in trend.points]
    assert all(p.estimated for p in trend.points if p.day in closed_before)
    assert sum(closed_before.values()) > 0


def test_a_member_trends_count_only_the_models_tmi_lets_them_see(organization, owner, member_factory, sandbox):
    bob = member_factory(organization, "bob")
    _sync(organization, owner, bob)
    for user, hint in ((owner, "alice"), (bob, "bob")):
        models = readable_models(sandbox, hint)
        trend = open_threats_trend(organization=organization, user=user)
        assert {k: v for k, v in trend.points[-1].values.items() if v} == dict(open_severities(models))
        statuses = models_by_status_trend(organization=organization, user=user).points[-1].values
        assert {k: v for k, v in statuses.items() if v} == dict(status_counts(models))
    assert StoredThreatModel.objects.filter(organization=organization).count() > len(readable_models(sandbox, "bob"))
