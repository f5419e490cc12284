"""The dashboard selectors against the sandbox, in both TMI generations. Expected values come from the
sandbox's own state, not from TMI's API, so the selectors' reading of TMI is what is checked."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from portal.accounts.vault import tmi_client
from portal.dashboard import selectors
from portal.portfolio.vocabulary import SEVERITIES, risk_score, term_key
from tests.dashboard.conftest import find_model, open_severities, readable_models, status_counts
from tests.sandbox.helpers import add_fault, count_requests_afresh, requests_at_once

pytestmark = pytest.mark.django_db(transaction=True)

portfolio = async_to_sync(selectors.portfolio_for_dashboard)
listing = async_to_sync(selectors.threat_model_list_for_dashboard)
detail = async_to_sync(selectors.threat_model_for_dashboard)


@pytest.mark.parametrize("hint", ["alice", "dave"])
def test_portfolio_numbers_match_what_the_sandbox_holds_for_the_member(organization, member_factory, sandbox, hint):
    user = member_factory(organization, hint)
    result = portfolio(organization=organization, user=user)
    models = readable_models(sandbox, hint)
    assert result.total == len(models)
    assert {c.key: c.count for c in result.by_status if c.count} == dict(status_counts(models))
    expected_open = open_severities(models)
    assert {c.key: c.count for c in result.open_by_severity} == {k: expected_open.get(k, 0) for k in SEVERITIES}
    assert result.open_total == sum(expected_open.values())


def test_portfolio_ranks_the_riskiest_models_and_the_latest_changes(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    result = portfolio(organization=organization, user=alice)
    models = readable_models(sandbox, "alice")
    scores = {tm["name"]: risk_score(open_severities([tm])) for tm in models}
    expected = sorted((n for n, s in scores.items() if s), key=lambda n: (-scores[n], n.lower()))[:5]
    assert [row.name for row in result.riskiest] == expected
    assert [row.risk_score for row in result.riskiest] == [scores[n] for n in expected]
    latest = sorted(models, key=lambda tm: tm["modified_at"], reverse=True)[:5]
    assert [row.name for row in result.recent] == [tm["name"] for tm in latest]


def test_list_search_and_status_filter_in_both_generations(organization, member_factory, sandbox, generation):
    alice = member_factory(organization, "alice")
    found = listing(organization=organization, user=alice, search="BANK")
    assert [row.name for row in found.rows] == ["Mobile Banking App"]
    target = term_key(find_model(sandbox, "Customer Payments API")["status"])
    by_status = listing(organization=organization, user=alice, status=target)
    expected = sorted(tm["name"] for tm in readable_models(sandbox, "alice") if term_key(tm["status"]) == target)
    assert sorted(row.name for row in by_status.rows) == expected and by_status.total == len(expected)
    assert all(row.status == target for row in by_status.rows)
    # TMI 1.8 filters and pages itself; 0.217 ignores the filters, so the portal does it.
    assert by_status.done_by_tmi is (generation == "1.8")


@pytest.mark.parametrize("sort", ["name", "changed", "risk", "created"])
def test_list_sorts_and_pages(organization, member_factory, sandbox, sort):
    alice = member_factory(organization, "alice")
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
        page = listing(organization=organization, user=alice, sort=sort, page=number, page_size=4)
        assert (page.page, page.pages, page.total) == (number, page_count, len(models))
        assert page.has_previous is (number > 1) and page.has_next is (number < page_count)
        names += [row.name for row in page.rows]
    assert names == [tm["name"] for tm in expected]


def test_a_page_past_the_end_shows_the_last_page(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    page = listing(organization=organization, user=alice, page=99, page_size=4)
    assert page.page == page.pages and page.rows


def test_list_rows_carry_open_threats(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    page = listing(organization=organization, user=alice, search="Customer Payments")
    [row] = page.rows
    expected = open_severities([find_model(sandbox, "Customer Payments API")])
    assert row.open_total == sum(expected.values()) and row.risk_score == risk_score(expected)


def test_the_threat_model_with_all_its_parts(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    tm = find_model(sandbox, "Customer Payments API")
    result = detail(organization=organization, user=alice, threat_model_id=tm["id"])
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


def test_threat_filters_by_severity_and_status(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    tm = find_model(sandbox, "Customer Support Chatbot")
    everything = detail(organization=organization, user=alice, threat_model_id=tm["id"])
    severity = everything.threats[0].severity
    by_severity = detail(organization=organization, user=alice, threat_model_id=tm["id"], severity=severity)
    assert by_severity.shown_threats and all(t.severity == severity for t in by_severity.shown_threats)
    assert len(by_severity.shown_threats) == sum(1 for t in everything.threats if t.severity == severity)
    open_only = detail(organization=organization, user=alice, threat_model_id=tm["id"], threat_status="open")
    assert [t.id for t in open_only.shown_threats] == [t.id for t in everything.threats if t.is_open]
    junk = detail(organization=organization, user=alice, threat_model_id=tm["id"], severity="<b>", threat_status="x")
    assert (junk.severity_filter, junk.status_filter, len(junk.shown_threats)) == ("", "", len(junk.threats))


def test_the_threat_model_page_fetches_concurrently(organization, member_factory, sandbox):
    """The page's calls overlap at TMI: with 200 ms added to every threat-model call, the sandbox sees the
    diagrams and notes requested at once; asked for one at a time, it never sees two. Counted by TMI, not
    timed by the clock, so a loaded machine cannot make it fail."""
    alice = member_factory(organization, "alice")
    tm = find_model(sandbox, "Customer Payments API")
    add_fault(sandbox.base_url, latency_ms=200, path_prefix="/threat_models/")
    count_requests_afresh(sandbox.base_url)
    page = detail(organization=organization, user=alice, threat_model_id=tm["id"])
    assert len(page.threats) == len(tm["threats"])
    # As many at once as the page has diagrams and notes, up to the server's cap on calls at once.
    at_once, cap = requests_at_once(sandbox.base_url), organization.tmi_max_concurrency
    expected = min(cap, len(tm["diagrams"]) + len(tm["notes"]))
    assert 3 <= expected <= at_once <= cap
    count_requests_afresh(sandbox.base_url)
    detail(organization=organization, user=alice, threat_model_id=tm["id"], concurrency=1)
    assert requests_at_once(sandbox.base_url) == 1


def test_the_portfolio_caches_per_member_for_a_short_while(organization, member_factory, sandbox):
    alice, dave = member_factory(organization, "alice"), member_factory(organization, "dave")
    first = portfolio(organization=organization, user=alice)
    sandbox.state.threat_models.clear()  # TMI changes behind the portal's back
    assert portfolio(organization=organization, user=alice).total == first.total  # served from the cache
    assert portfolio(organization=organization, user=dave).total == 0  # never another member's answer


def test_a_tmi_status_named_open_is_a_choice_of_its_own(organization, member_factory, sandbox):
    """TMI's statuses are free text: one may be "open" itself. The filter's group "Open" (every open threat)
    and that status are different choices (seen against the real TMI: "Open (2)" showed 3 threats)."""
    alice = member_factory(organization, "alice")
    tm = find_model(sandbox, "Customer Support Chatbot")
    with tmi_client(organization=organization, user=alice) as client:
        for name, status in (("Literally open", "open"), ("Being looked at", "investigating")):
            client.threats.create(tm["id"], name=name, threat_type=["Spoofing"], severity="low", status=status)
    group = detail(organization=organization, user=alice, threat_model_id=tm["id"], threat_status="open")
    assert {"Literally open", "Being looked at"} <= {t.name for t in group.shown_threats}
    one = detail(organization=organization, user=alice, threat_model_id=tm["id"], threat_status="status:open")
    assert [t.name for t in one.shown_threats] == ["Literally open"]
    assert (group.status_filter, one.status_filter) == ("open", "status:open")
    option = next(item for item in one.threat_statuses if item.key == "open")
    assert option.count == 1
