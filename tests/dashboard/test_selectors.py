"""The portfolio selectors the dashboard pages read, after a sync from the sandbox, in both TMI generations.
Expected values come from the sandbox's own state, not from TMI's API, so what the sync stored and the selectors
made of it is what is checked. The selectors read the store only: no TMI call (test_views.py counts them)."""

from __future__ import annotations

import pytest

from portal.portfolio import selectors
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.vocabulary import SEVERITIES, risk_score, term_key
from tests.dashboard.conftest import find_model, open_severities, readable_models, status_counts, store_filled
from tests.sandbox.rest_world import Api, threat_body

pytestmark = pytest.mark.django_db(transaction=True)


def portfolio(organization, user):
    return selectors.portfolio_overview_get(organization=organization, user=user)


def listing(organization, user, **query):
    return selectors.threat_model_list_get(organization=organization, user=user, **query)


def detail(organization, user, tm_id: str, **filters):
    return selectors.threat_model_detail_get(organization=organization, user=user, threat_model_id=tm_id, **filters)


@pytest.fixture
def alice_synced(organization, member_factory):
    alice = member_factory(organization, "alice")
    store_filled(organization, alice)
    return alice


@pytest.mark.parametrize("hint", ["alice", "dave"])
def test_portfolio_numbers_match_what_the_sandbox_holds_for_the_member(organization, member_factory, sandbox, hint):
    user = member_factory(organization, hint)
    store_filled(organization, user)
    result = portfolio(organization, user)
    models = readable_models(sandbox, hint)
    assert result.total == len(models)
    assert {c.key: c.count for c in result.by_status if c.count} == dict(status_counts(models))
    expected_open = open_severities(models)
    assert {c.key: c.count for c in result.open_by_severity} == {k: expected_open.get(k, 0) for k in SEVERITIES}
    assert result.open_total == sum(expected_open.values())


def test_portfolio_ranks_the_riskiest_models_and_the_latest_changes(organization, alice_synced, sandbox):
    result = portfolio(organization, alice_synced)
    models = readable_models(sandbox, "alice")
    scores = {tm["name"]: risk_score(open_severities([tm])) for tm in models}
    expected = sorted((n for n, s in scores.items() if s), key=lambda n: (-scores[n], n.lower()))[:5]
    assert [row.name for row in result.riskiest] == expected
    assert [row.risk_score for row in result.riskiest] == [scores[n] for n in expected]
    latest = sorted(models, key=lambda tm: tm["modified_at"], reverse=True)[:5]
    assert [row.name for row in result.recent] == [tm["name"] for tm in latest]


def test_list_search_and_status_filter_are_the_portals_in_both_generations(organization, alice_synced, sandbox):
    """Filtered from the store by the portal, the same way whichever generation the store was read from (TMI 1.8
    could filter itself, 0.217 cannot; the store makes the difference moot)."""
    found = listing(organization, alice_synced, search="BANK")
    assert [row.name for row in found.rows] == ["Mobile Banking App"] and found.total == 1
    target = term_key(find_model(sandbox, "Customer Payments API")["status"])
    by_status = listing(organization, alice_synced, status=target)
    expected = sorted(tm["name"] for tm in readable_models(sandbox, "alice") if term_key(tm["status"]) == target)
    assert sorted(row.name for row in by_status.rows) == expected and by_status.total == len(expected)
    assert all(row.status == target for row in by_status.rows)
    # TMI's own words for the status, in any casing, choose the same models.
    assert listing(organization, alice_synced, status=target.upper()).total == len(expected)


@pytest.mark.parametrize("sort", ["name", "changed", "risk", "created"])
def test_list_sorts_and_pages(organization, alice_synced, sandbox, sort):
    models = readable_models(sandbox, "alice")
    keys = {
        "name": lambda tm: tm["name"].lower(),
        "changed": lambda tm: tm["modified_at"],
        "created": lambda tm: tm["created_at"],
        "risk": lambda tm: (-risk_score(open_severities([tm])), tm["name"].lower()),
    }
    expected = sorted(models, key=keys[sort], reverse=sort in ("changed", "created"))
    names = []
    page_count = -(-len(models) // 4)
    for number in range(1, page_count + 1):
        page = listing(organization, alice_synced, sort=sort, page=number, page_size=4)
        assert (page.page, page.pages, page.total) == (number, page_count, len(models))
        assert page.has_previous is (number > 1) and page.has_next is (number < page_count)
        names += [row.name for row in page.rows]
    assert names == [tm["name"] for tm in expected]


def test_a_page_past_the_end_shows_the_last_page(organization, alice_synced):
    page = listing(organization, alice_synced, page=99, page_size=4)
    assert page.page == page.pages and page.rows
    assert listing(organization, alice_synced, page="not a number", page_size=4).page == 1


def test_list_rows_carry_open_threats(organization, alice_synced, sandbox):
    page = listing(organization, alice_synced, search="Customer Payments")
    [row] = page.rows
    expected = open_severities([find_model(sandbox, "Customer Payments API")])
    assert row.open_total == sum(expected.values()) and row.risk_score == risk_score(expected)


def test_the_threat_model_with_all_its_parts(organization, alice_synced, sandbox):
    tm = find_model(sandbox, "Customer Payments API")
    result = detail(organization, alice_synced, tm["id"])
    assert result.name == tm["name"]
    assert sorted(t.name for t in result.threats) == sorted(t["name"] for t in tm["threats"])
    assert [d.name for d in result.diagrams] == [d["name"] for d in tm["diagrams"]]
    assert all(str(d.svg).startswith("<svg") and "<script" not in str(d.svg) for d in result.diagrams)
    assert all(d.summary.startswith("A data flow diagram with") for d in result.diagrams)
    assert sorted(d.uri for d in result.documents) == sorted(d["uri"] for d in tm["documents"])
    assert all(d.href == d.uri for d in result.documents)  # the seeded ones are https
    assert sorted(a.name for a in result.assets) == sorted(a["name"] for a in tm["assets"])
    assert [r.uri for r in result.repositories] == [r["uri"] for r in tm["repositories"]]
    assert len(result.notes) == len(tm["notes"])
    pasted = next(n for n in result.notes if n.name == "Pasted from the bug tracker")
    assert "<script" not in pasted.html and "&lt;script&gt;" in pasted.html
    open_count = sum(open_severities([tm]).values())
    assert f"{len(tm['threats'])} threats have been recorded" in " ".join(result.summary)
    assert sum(c.count for c in result.open_by_severity) == open_count


def test_threat_filters_by_severity_and_status(organization, alice_synced, sandbox):
    tm = find_model(sandbox, "Customer Support Chatbot")
    everything = detail(organization, alice_synced, tm["id"])
    severity = everything.threats[0].severity
    by_severity = detail(organization, alice_synced, tm["id"], severity=severity)
    assert by_severity.shown_threats and all(t.severity == severity for t in by_severity.shown_threats)
    assert len(by_severity.shown_threats) == sum(1 for t in everything.threats if t.severity == severity)
    open_only = detail(organization, alice_synced, tm["id"], threat_status="open")
    assert [t.id for t in open_only.shown_threats] == [t.id for t in everything.threats if t.is_open]
    junk = detail(organization, alice_synced, tm["id"], severity="<b>", threat_status="x")
    assert (junk.severity_filter, junk.status_filter, len(junk.shown_threats)) == ("", "", len(junk.threats))


def test_the_store_answers_until_the_next_sync_and_never_with_another_members_models(
    organization, member_factory, alice_synced, sandbox
):
    """What the pages show comes from the last sync, not from TMI at the moment of the view (TMI changing behind
    the portal's back shows after the next sync), and only from the member's own visible set."""
    dave = member_factory(organization, "dave")
    first = portfolio(organization, alice_synced)
    assert first.total == len(readable_models(sandbox, "alice"))
    gone = find_model(sandbox, "Customer Payments API")  # alice owns it (seed role matrix)
    assert Api(sandbox, "alice").delete(f"/threat_models/{gone['id']}").status_code == 204  # changed in TMI
    assert portfolio(organization, alice_synced).total == first.total  # the store, until the next sync
    assert portfolio(organization, dave).total == 0  # dave's set was never read: nothing, never alice's
    assert listing(organization, dave).total == 0 and detail(organization, dave, gone["id"]) is None
    portfolio_sync(organization, members={alice_synced.pk})
    after = portfolio(organization, alice_synced)
    assert after.total == first.total - 1 and after.total == len(readable_models(sandbox, "alice"))
    assert gone["id"] not in {row.id for row in listing(organization, alice_synced, page_size=100).rows}


def test_a_tmi_status_named_open_is_a_choice_of_its_own(organization, alice_synced, sandbox):
    """TMI's statuses are free text: one may be "open" itself. The filter's group "Open" (every open threat)
    and that status are different choices (seen against the real TMI: "Open (2)" showed 3 threats). The threats
    are created in TMI after the first sync and reach the store by the next one (modified_after)."""
    tm = find_model(sandbox, "Customer Support Chatbot")
    tmi = Api(sandbox, "alice")
    for name, status in (("Literally open", "open"), ("Being looked at", "investigating")):
        created = tmi.post(
            f"/threat_models/{tm['id']}/threats", threat_body(tmi.legacy, name=name, severity="low", status=status)
        )
        assert created.status_code == 201, created.text
    report = portfolio_sync(organization, members={alice_synced.pk})
    assert not report.errors and report.models_read_whole == 0  # the incremental pass, not a re-read
    group = detail(organization, alice_synced, tm["id"], threat_status="open")
    assert {"Literally open", "Being looked at"} <= {t.name for t in group.shown_threats}
    one = detail(organization, alice_synced, tm["id"], threat_status="status:open")
    assert [t.name for t in one.shown_threats] == ["Literally open"]
    assert (group.status_filter, one.status_filter) == ("open", "status:open")
    option = next(item for item in one.threat_statuses if item.key == "open")
    assert option.count == 1
