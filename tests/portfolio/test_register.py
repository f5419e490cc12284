"""The register of threats across all models (portfolio/register.py), against the sandbox in both TMI generations.

Every expected set and count is computed from the sandbox's own state (tests/portfolio/register_expect.py): what
TMI holds for the member, as seeded or as the test wrote it through TMI's REST API."""

from __future__ import annotations

from collections import Counter

import pytest
from django.utils import timezone

from portal.organizations.models import Organization
from portal.portfolio.register import (
    RegisterQuery,
    register_query_clean,
    threat_register_all,
    threat_register_get,
)
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.vocabulary import SEVERITIES, severity_key, term_key
from tests.dashboard.conftest import find_model, store_filled
from tests.portfolio.register_expect import expected_by_severity, expected_ids, sandbox_threats, types_of, when

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # alice owns it
HR = "Internal HR Portal"  # bob owns it; alice has no access


def _synced(organization, *users) -> None:
    report = portfolio_sync(organization, members={u.pk for u in users})
    assert not (report.errors or report.stopped), report


def _all_ids(organization, user, query) -> list[str]:
    return [row.id for row in threat_register_all(organization=organization, user=user, query=query).rows]


def test_every_open_threat_the_member_can_see_is_on_exactly_one_page(organization, owner, sandbox):
    store_filled(organization, owner)
    expected = expected_ids(sandbox, "alice", now=timezone.now())
    assert len(expected) > 10  # the seed: enough for several pages
    seen: list[str] = []
    page = threat_register_get(organization=organization, user=owner, query={}, page_size=7)
    assert page.pages == -(-len(expected) // 7)
    for number in range(1, page.pages + 1):
        page = threat_register_get(organization=organization, user=owner, query={"page": str(number)}, page_size=7)
        assert page.total == len(expected) and page.page == number
        seen += [row.id for row in page.rows]
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == expected
    counts = {c.key: c.count for c in page.by_severity}
    assert counts == {key: expected_by_severity(sandbox, "alice", expected).get(key, 0) for key in SEVERITIES}
    # Past the last page: the last page, not an empty one.
    beyond = threat_register_get(organization=organization, user=owner, query={"page": "999"}, page_size=7)
    assert beyond.page == beyond.pages and beyond.rows


def test_every_row_says_what_tmi_holds(organization, owner, sandbox):
    store_filled(organization, owner)
    raw = {t["id"]: (t, tm) for t, tm in sandbox_threats(sandbox, "alice")}
    rows = threat_register_all(organization=organization, user=owner, query={"state": "all"}).rows
    assert {row.id for row in rows} == set(raw)
    for row in rows:
        threat, tm = raw[row.id]
        assert (row.name, row.model_id, row.model_name) == (threat["name"], tm["id"], tm["name"])
        assert row.severity == severity_key(threat.get("severity")) and row.status == term_key(threat.get("status"))
        assert row.mitigation == (threat.get("mitigation") or "") and row.priority == term_key(threat.get("priority"))
        assert row.created_at == when(threat["created_at"]) and row.modified_at == when(threat["modified_at"])
        assert row.model_owner and row.threat_types == tuple(types_of(threat))
        assert row.age_days == (timezone.now() - when(threat["created_at"])).days


def test_every_filter_matches_what_the_sandbox_holds(organization, owner, sandbox, generation, tmi_as):
    """Each filter of the URL contract, on the seed plus threats written through TMI's API just now."""
    store_filled(organization, owner)
    alice = tmi_as("alice")
    payments = find_model(sandbox, PAYMENTS)["id"]
    fresh = alice.threats.create(
        payments,
        name="Replayed webhook signatures",
        threat_type=["Repudiation"],
        severity="Critical" if generation == "0.217" else "critical",
        priority="P1",
        status="Identified",
        description="An attacker replays signed callbacks from the PSP.",
        mitigation="Reject callbacks older than five minutes (nonce store).",
        **(
            {"ssvc": {"vector": "SSVCv2/E:A/U:S/T:T/P:S/", "decision": "Out-of-Cycle", "methodology": "Deployer"}}
            if generation == "1.8"
            else {}
        ),
    )
    _synced(organization, owner)
    now = timezone.now()
    threats = sandbox_threats(sandbox, "alice")
    some_type = types_of(next(t for t, _ in threats if types_of(t)))[0]
    some_status = term_key(next(t for t, _ in threats if not t.get("mitigated"))["status"])
    model_status = term_key(find_model(sandbox, PAYMENTS)["status"])
    ages = sorted((now - when(t["created_at"])).total_seconds() / 86400 for t, _ in threats)
    older = next(n for n in range(int(ages[len(ages) // 2]), 400) if all(abs(a - n) > 0.01 for a in ages))
    cases = [
        ({"severity": ["critical", "high"]}, {"severities": ("critical", "high")}),
        ({"state": "closed"}, {"state": "closed"}),
        ({"state": "all"}, {"state": "all"}),
        ({"state": "all", "status": "mitigated"}, {"state": "all", "status": "mitigated"}),
        ({"status": some_status}, {"status": some_status}),
        ({"model": [payments, find_model(sandbox, "Mobile Banking App")["id"]]},
         {"models": (payments, find_model(sandbox, "Mobile Banking App")["id"])}),
        ({"model_status": model_status}, {"model_statuses": (model_status,)}),
        ({"type": some_type.upper()}, {"threat_type": some_type}),
        ({"priority": "p1"}, {"priority": "p1"}),
        ({"older_than": str(older)}, {"older_than": older}),
        ({"changed_within": "1"}, {"changed_within": 1}),
        ({"q": "NONCE STORE"}, {"q": "nonce store"}),  # the mitigation, any case
        ({"q": "payments"}, {"q": "payments"}),  # the model's name
        ({"q": "psp"}, {"q": "psp"}),  # a description
        ({"severity": "critical", "priority": "P1", "changed_within": "1"},
         {"severities": ("critical",), "priority": "p1", "changed_within": 1}),
    ]  # fmt: skip
    if generation == "1.8":
        cases.append(({"ssvc": "out_of_cycle"}, {"ssvc": "out_of_cycle"}))
    for query, contract in cases:
        expected = expected_ids(sandbox, "alice", now=now, **contract)
        got = _all_ids(organization, owner, query)
        assert len(got) == len(set(got)) and set(got) == expected, query
        assert threat_register_get(organization=organization, user=owner, query=query).total == len(expected), query
    # The cases are not vacuous: each narrows or widens the default, and the fresh threat is found by its own.
    default = expected_ids(sandbox, "alice", now=now)
    assert all(expected_ids(sandbox, "alice", now=now, **c) != default for _, c in cases if c != {"state": "open"})
    assert _all_ids(organization, owner, {"changed_within": "1"}) == [fresh.id]
    if generation == "1.8":
        # The seed gives SSVC decisions too (portal/sandbox/seed.py): the fresh one is among them.
        assert fresh.id in _all_ids(organization, owner, {"ssvc": "out_of_cycle"})


def test_sorts_order_the_rows_and_break_ties_the_same_way(organization, owner, sandbox):
    store_filled(organization, owner)
    rank = {key: i for i, key in enumerate(SEVERITIES)}
    rows = threat_register_all(organization=organization, user=owner, query={}).rows
    keys = [(rank[r.severity], r.created_at) for r in rows]
    assert keys == sorted(keys) and rows[0].severity == "critical"  # critical first, then the oldest
    by_name = threat_register_all(organization=organization, user=owner, query={"sort": "name"}).rows
    assert [r.name.lower() for r in by_name] == sorted(r.name.lower() for r in rows)
    by_model = threat_register_all(organization=organization, user=owner, query={"sort": "model"}).rows
    assert [r.model_name.lower() for r in by_model] == sorted(r.model_name.lower() for r in rows)
    by_age = threat_register_all(organization=organization, user=owner, query={"sort": "age"}).rows
    assert [r.created_at for r in by_age] == sorted(r.created_at for r in rows)
    by_change = threat_register_all(organization=organization, user=owner, query={"sort": "changed"}).rows
    assert [r.modified_at for r in by_change] == sorted((r.modified_at for r in rows), reverse=True)
    by_score = threat_register_all(organization=organization, user=owner, query={"sort": "score"}).rows
    assert [r.score for r in by_score] == sorted((r.score for r in rows), reverse=True)
    by_priority = threat_register_all(organization=organization, user=owner, query={"sort": "priority"}).rows
    assert [r.priority for r in by_priority] == sorted(r.priority for r in rows)
    for sort in ("name", "model", "age", "changed", "score", "priority"):
        paged = []
        for number in (1, 2, 3, 4, 5, 6):
            paged += [
                r.id
                for r in threat_register_get(
                    organization=organization, user=owner, query={"sort": sort, "page": str(number)}, page_size=5
                ).rows
            ]
        assert len(set(paged)) == min(len(rows), 30), sort  # pages never overlap


def test_invalid_values_are_ignored_with_a_note(organization, owner, sandbox):
    store_filled(organization, owner)
    query = register_query_clean(
        {
            "severity": ["bogus", "high"],
            "state": "sideways",
            "sort": "random",
            "ssvc": "never",
            "older_than": "ten",
            "changed_within": "-3",
            "page": "x",
            "model": "../../etc",
        }
    )
    assert query == RegisterQuery(severities=("high",), notes=query.notes)
    notes = " ".join(query.notes)
    for word in (
        "Unknown severity “bogus” ignored",
        "sideways",
        "random",
        "never",
        "“ten”",
        "“-3”",
        "“x”",
        "../../etc",
    ):
        assert word in notes
    page = threat_register_get(organization=organization, user=owner, query=query)
    assert page.total == len(expected_ids(sandbox, "alice", now=timezone.now(), severities=("high",)))
    # A closed status with the default state: nothing (both are asked for), and the page says why.
    closed = threat_register_get(organization=organization, user=owner, query={"status": "mitigated"})
    assert closed.total == 0 and any("is not open" in note for note in closed.notes)
    assert threat_register_get(
        organization=organization, user=owner, query={"status": "mitigated", "state": "all"}
    ).total == len(expected_ids(sandbox, "alice", now=timezone.now(), state="all", status="mitigated"))


def test_a_member_sees_only_their_models_and_never_another_organisations(
    organization, owner, member, sandbox, sandbox_factory, generation, member_factory
):
    store_filled(organization, owner, member)
    for user, hint in ((owner, "alice"), (member, "bob")):
        ids = set(_all_ids(organization, user, {"state": "all"}))
        assert ids == expected_ids(sandbox, hint, now=timezone.now(), state="all")
    hr = find_model(sandbox, HR)["id"]
    assert _all_ids(organization, owner, {"model": hr, "state": "all"}) == []  # bob's model: alice cannot see it
    page = threat_register_get(organization=organization, user=owner, query={"model": hr})
    assert page.total == 0 and any("not one you can see" in note for note in page.notes)
    assert _all_ids(organization, member, {"model": hr, "state": "all"})  # bob can

    # Globex, on a TMI of its own that holds a threat Acme's never had: it stays in Globex.
    other_tmi = sandbox_factory(generation)
    globex = Organization.objects.create(name="Globex", slug="globex", tmi_base_url=other_tmi.base_url)
    dave = member_factory(globex, "alice", role="owner")  # the same person, a member of both
    from portal.tmi import TMIClient, TokenPair
    from tests.conftest import member_tokens

    with TMIClient(other_tmi.base_url, auth=TokenPair(**member_tokens(other_tmi.base_url, "alice"))) as tmi:
        tmi.threats.create(find_model(other_tmi, PAYMENTS)["id"], name="Globex-only threat", threat_type=["Spoofing"])
    store_filled(globex, dave)
    names_globex = {r.name for r in threat_register_all(organization=globex, user=dave, query={}).rows}
    names_acme = {r.name for r in threat_register_all(organization=organization, user=owner, query={}).rows}
    assert "Globex-only threat" in names_globex and "Globex-only threat" not in names_acme
    # A member of Acme only reads nothing through Globex.
    assert threat_register_all(organization=globex, user=member, query={}).rows == []


def test_chips_remove_one_filter_each_and_links_keep_the_rest(organization, owner, sandbox):
    store_filled(organization, owner)
    payments = find_model(sandbox, PAYMENTS)["id"]
    page = threat_register_get(
        organization=organization,
        user=owner,
        query={"severity": ["high", "critical"], "model": payments, "q": "token", "sort": "name", "page": "1"},
    )
    labels = [chip.label for chip in page.chips]
    assert labels == ["Severity: High", "Severity: Critical", f"Threat model: {PAYMENTS}", "Search: “token”"]
    removes = [chip.remove_query for chip in page.chips]
    assert removes[0] == f"?severity=critical&model={payments}&q=token&sort=name"
    assert removes[2] == "?severity=high&severity=critical&q=token&sort=name"
    again = register_query_clean(dict(_pairs(removes[0])))
    assert again.severities == ("critical",) and again.models == (payments,) and again.sort == "name"


def _pairs(query_string: str) -> list[tuple[str, list[str]]]:
    from urllib.parse import parse_qs

    return list(parse_qs(query_string.lstrip("?")).items())


def test_counts_follow_tmi_after_a_sync(organization, owner, sandbox, tmi_as):
    """A threat closed in TMI leaves the open register at the next sync; a deleted one leaves it entirely."""
    store_filled(organization, owner)
    before = threat_register_get(organization=organization, user=owner, query={}).total
    payments = find_model(sandbox, PAYMENTS)["id"]  # alice owns it: she may change its threats
    victim, closed = sorted(expected_ids(sandbox, "alice", now=timezone.now(), models=(payments,)))[:2]
    alice = tmi_as("alice")
    alice.threats.patch(payments, closed, [{"op": "replace", "path": "/mitigated", "value": True}])
    alice.threats.delete(payments, victim)
    _synced(organization, owner)
    now = timezone.now()
    after = threat_register_get(organization=organization, user=owner, query={})
    assert after.total == before - 2 == len(expected_ids(sandbox, "alice", now=now))
    everything = set(_all_ids(organization, owner, {"state": "all"}))
    assert closed in everything and victim not in everything
    assert Counter(c.key for c in after.by_severity) == Counter(SEVERITIES)
