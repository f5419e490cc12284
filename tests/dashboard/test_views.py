"""The stakeholder pages through Django's test client, against the sandbox in both TMI generations.

The pages read the portfolio store (a member's first visit fills it: the sync runs inline in tests) and make no
TMI call of their own. TMI's trouble is met by the sync a page may ask for: every way TMI can fail leaves the pages
answering from the store, and a first visit that cannot read TMI says so on the reading page; never a 500."""

from __future__ import annotations

import functools
import time
import uuid
from collections import Counter

import pytest
from django.urls import reverse

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_tokens_get
from portal.portfolio import selectors
from portal.portfolio.models import VisibleSet
from portal.portfolio.vocabulary import term_key
from portal.tmi import TMIClient
from tests.dashboard.conftest import (
    Elements,
    find_model,
    readable_models,
    sign_in,
    store_filled,
    tmi_calls,
    visible_set_stale,
)
from tests.sandbox.helpers import add_fault, advance_clock, count_requests_afresh

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # alice owns it (seed role matrix)
FRESHNESS_LINE = 'id="freshness">Updated from TMI'


def page(client, name: str, *args, **query):
    return client.get(reverse(f"dashboard:{name}", args=["acme", *args]), query)


def test_the_portfolio_shows_both_charts_with_their_numbers(client, alice, sandbox):
    response = page(client, "portfolio")
    assert response.status_code == 200
    html = response.content.decode()
    total = len(readable_models(sandbox, "alice"))
    assert f"You can see {total} threat models in TMI." in html
    for chart in ("chart-status", "chart-severity"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
    portfolio = response.context["portfolio"]
    desc = "; ".join(f"{c.label}: {c.count}" for c in portfolio.open_by_severity)
    assert desc in html  # the numbers in words for screen readers
    assert html.count('class="bar sev-') == 6 and html.count('class="bar status-') >= 5
    assert html.count("visually-hidden") >= 2
    assert reverse("dashboard:threat_model", args=["acme", portfolio.riskiest[0].id]) in html


def test_the_top_bar_names_the_organisation_the_user_and_signs_out_by_post(client, alice, organization):
    organization.brand_colour = "#aa0000"
    organization.save()
    html = page(client, "portfolio").content.decode()
    assert "--brand: #aa0000" in html and ">Acme<" in html and "alice" in html
    forms = [a for t, a in Elements(html).tags if t == "form" and a.get("method") == "post"]
    assert {"method": "post", "action": reverse("accounts:logout", args=["acme"]), "class": "inline-form"} in forms
    assert 'name="csrfmiddlewaretoken"' in html


def test_a_brand_colour_that_is_not_a_colour_never_reaches_the_page(client, alice, organization):
    # Seven characters (the column's length, which PostgreSQL enforces) that would break out of the CSS rule.
    organization.brand_colour = "red;}*{"
    organization.save(update_fields=["brand_colour"])  # bypasses the validator, as a raw DB edit would
    html = page(client, "portfolio").content.decode()
    assert "--brand: #1f6feb" in html and "red;}*{" not in html


def test_the_list_searches_filters_sorts_and_pages(client, alice, sandbox):
    html = page(client, "threat_models", q="bank").content.decode()
    assert "Mobile Banking App" in html and "Customer Payments API" not in html
    assert '<label for="q">' in html and 'value="bank"' in html
    response = page(client, "threat_models", sort="name")
    names = [row.name for row in response.context["listing"].rows]
    assert names == sorted(names, key=str.lower) and len(names) == len(readable_models(sandbox, "alice"))
    status = response.context["listing"].rows[0].status
    filtered = page(client, "threat_models", status=status).context["listing"]
    assert filtered.rows and all(row.status == status for row in filtered.rows)
    expected = sum(1 for tm in readable_models(sandbox, "alice") if term_key(tm["status"]) == status)
    assert filtered.total == len(filtered.rows) == expected  # the portal filters, whichever generation


def test_pagination_links_keep_the_query(client, alice, sandbox, monkeypatch):
    monkeypatch.setattr(
        selectors, "threat_model_list_get", functools.partial(selectors.threat_model_list_get, page_size=4)
    )
    pages = -(-len(readable_models(sandbox, "alice")) // 4)
    html = page(client, "threat_models", sort="name").content.decode()
    assert 'rel="next" href="?sort=name&amp;page=2"' in html and f"Page 1 of {pages}" in html
    html = page(client, "threat_models", sort="name", page=2).content.decode()
    assert 'rel="prev" href="?sort=name"' in html and f"Page 2 of {pages}" in html


def test_the_threat_model_page_shows_everything_escaped(client, alice, sandbox):
    tm = find_model(sandbox, "Customer Payments API")
    response = page(client, "threat_model", tm["id"])
    assert response.status_code == 200
    html = response.content.decode()
    tags = Elements(html).tags
    # The one script is the portal's own diagram viewer (a static file, issue 17); nothing from TMI becomes a script.
    assert [a.get("src") for t, a in tags if t == "script"] == ["/static/portal/diagram_viewer.js"]
    assert not [(t, a) for t, a in tags for name in a if name.lower().startswith("on")]
    assert not [a for t, a in tags if t == "a" and (a.get("href") or "").lower().startswith("javascript")]
    assert (
        "&lt;script&gt;alert(&#x27;xss from a note&#x27;)&lt;/script&gt;" in html
        or "&lt;script&gt;alert('xss from a note')&lt;/script&gt;" in html
    )
    assert html.count('class="diagram-canvas"><svg') == len(tm["diagrams"])
    assert all(threat["name"] in html for threat in tm["threats"])
    assert all(document["uri"] in html for document in tm["documents"])
    assert all(asset["name"] in html for asset in tm["assets"])
    assert tm["repositories"][0]["uri"] in html
    assert html.count('class="badge sev-') == len(tm["threats"])
    assert "In short" in html and "threats have been recorded" in html


def test_tmi_data_is_escaped_in_every_part_of_the_page(client, alice, sandbox):
    tm = find_model(sandbox, "Customer Payments API")
    evil = '<img src=x onerror="alert(9)">'
    tm["name"] = evil
    tm["threats"][0]["name"] = evil
    tm["threats"][0]["mitigation"] = evil
    tm["documents"][0].update(name=evil, uri="javascript:alert(1)")
    tm["assets"][0]["name"] = evil
    tm["diagrams"][0]["cells"][0]["attrs"]["text"]["text"] = evil
    html = page(client, "threat_model", tm["id"]).content.decode()
    tags = Elements(html).tags
    assert not [t for t, a in tags if t == "img"]
    assert not [(t, a) for t, a in tags for name in a if name.lower().startswith("on")]
    assert not [a for t, a in tags if (a.get("href") or "").startswith("javascript")]
    assert "javascript:alert(1)" in html  # shown as text, not as a link


def test_threat_filters_on_the_page(client, alice, sandbox):
    tm = find_model(sandbox, "Customer Support Chatbot")
    response = page(client, "threat_model", tm["id"], threat_status="open")
    shown = response.context["tm"].shown_threats
    assert shown and all(t.is_open for t in shown)
    assert '<option value="open" selected>' in response.content.decode()


def test_home_lists_the_users_organisations(client, alice, other_organization):
    html = client.get(reverse("home")).content.decode()
    assert reverse("dashboard:portfolio", args=["acme"]) in html and "Globex" not in html


def test_home_for_anonymous_visitors_says_nothing_about_tenants(client, organization, other_organization):
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200 and "sign in" in html
    assert "Acme" not in html and "Globex" not in html and "/o/" not in html


# -- no TMI call on a page view -----------------------------------------------------------------------------------
def three_pages(client, sandbox) -> dict[str, object]:
    tm = find_model(sandbox, PAYMENTS)
    return {
        "overview": page(client, "portfolio"),
        "list": page(client, "threat_models"),
        "threat model": page(client, "threat_model", tm["id"]),
    }


def assert_the_store_answered(responses: dict, sandbox) -> None:
    """Each page is the store's, whole: its data and the freshness line with its Refresh now button."""
    for name, response in responses.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        assert FRESHNESS_LINE in html and ">Refresh now</button>" in html, name
    total = len(readable_models(sandbox, "alice"))
    assert f"You can see {total} threat models in TMI." in responses["overview"].content.decode()
    assert responses["list"].context["listing"].total == total
    tm = find_model(sandbox, PAYMENTS)
    shown = responses["threat model"].context["tm"]
    assert shown.name == tm["name"] and len(shown.threats) == len(tm["threats"])


def test_a_page_view_makes_no_tmi_call(client, alice, organization, sandbox):
    """The first visit filled the store (its sync is the only reader of TMI); after it, none of the three pages
    asks TMI anything while the member's set is fresh."""
    page(client, "portfolio")  # the first visit: the member's models are read
    count_requests_afresh(sandbox.base_url)
    responses = three_pages(client, sandbox)
    assert_the_store_answered(responses, sandbox)
    assert tmi_calls(sandbox) == Counter()


# -- when TMI is in trouble: met by the sync, the pages answer from the store -------------------------------------
def pages_during_trouble(client, organization, alice, sandbox) -> tuple[dict, float]:
    """The three pages, each with the member's set older than the interval, so each asks for a sync (run inline,
    against the troubled TMI); with the longest any of them took."""
    tm = find_model(sandbox, PAYMENTS)
    responses, slowest = {}, 0.0
    for name, args in (
        ("overview", ("portfolio",)),
        ("list", ("threat_models",)),
        ("threat model", ("threat_model", tm["id"])),
    ):
        visible_set_stale(organization, alice)
        started = time.monotonic()
        responses[name] = page(client, *args)
        slowest = max(slowest, time.monotonic() - started)
    return responses, slowest


def test_tmi_down_after_a_first_sync_leaves_every_page_answering_from_the_store(
    client, alice, organization, sandbox, sync_passes
):
    store_filled(organization, alice)
    sandbox.stop()
    responses, slowest = pages_during_trouble(client, organization, alice, sandbox)
    assert_the_store_answered(responses, sandbox)
    assert len(sync_passes) == 3 and all(report.errors and not report.sets_read for report in sync_passes)
    assert slowest < 5  # TMI refusing connections costs a page no wait (loose: a busy machine)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_tmi_errors_leave_every_page_answering_from_the_store(
    client, alice, organization, sandbox, sync_passes, status
):
    """TMI failing every call: each page still shows the store, and TMI saw no call but the syncs' own."""
    store_filled(organization, alice)
    count_requests_afresh(sandbox.base_url)
    add_fault(sandbox.base_url, status=status, path_prefix="/threat_models")
    responses, slowest = pages_during_trouble(client, organization, alice, sandbox)
    assert_the_store_answered(responses, sandbox)
    assert len(sync_passes) == 3 and not any(report.sets_read for report in sync_passes)
    if status == 429:  # TMI's Retry-After (60 s) closes the server's REST budget: the later passes send nothing
        assert tmi_calls(sandbox) == Counter({"GET /threat_models": 1})
    else:
        assert sum(tmi_calls(sandbox).values()) == sum(report.calls for report in sync_passes) > 0
    assert slowest < 5


def test_a_malformed_answer_leaves_every_page_answering_from_the_store(
    client, alice, organization, sandbox, sync_passes
):
    store_filled(organization, alice)
    count_requests_afresh(sandbox.base_url)
    add_fault(sandbox.base_url, status=200, body="<html>proxy error</html>", path_prefix="/threat_models")
    responses, _ = pages_during_trouble(client, organization, alice, sandbox)
    assert_the_store_answered(responses, sandbox)
    assert len(sync_passes) == 3 and all(report.errors for report in sync_passes)
    assert sum(tmi_calls(sandbox).values()) == sum(report.calls for report in sync_passes) > 0


def assert_reading_with_trouble(response) -> None:
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "dashboard/reading.html"
    html = response.content.decode()
    assert "Reading your threat models from TMI" in html and '<meta http-equiv="refresh"' in html
    assert 'id="reading-trouble"' in html and "TMI is not answering properly at the moment" in html


@pytest.mark.parametrize("trouble", ["down", "failing"])
def test_a_first_visit_while_tmi_is_in_trouble_shows_the_reading_page_with_a_warning(
    client, alice, organization, sandbox, trouble
):
    tokens = tmi_tokens_get(organization=organization, user=alice)
    if trouble == "down":
        sandbox.stop()
    else:
        add_fault(sandbox.base_url, status=500, path_prefix="/threat_models")
    tm = find_model(sandbox, PAYMENTS)
    for args in (("portfolio",), ("threat_models",), ("threat_model", tm["id"])):
        response = page(client, *args)
        assert_reading_with_trouble(response)
        html = response.content.decode()
        assert tokens.access_token not in html and tokens.refresh_token not in html


def test_a_model_the_user_cannot_see_is_a_404_in_words(client, alice, sandbox):
    page(client, "portfolio")  # the first visit: the member's set is read
    tm = find_model(sandbox, "Data Warehouse ETL")  # alice has no access (seed role matrix)
    response = page(client, "threat_model", tm["id"])
    assert response.status_code == 404
    html = response.content.decode()
    assert "This threat model does not exist, or TMI does not let you see it." in html
    assert tm["name"] not in html and ">Acme<" in html  # the organisation's bar, nothing of the model


def test_an_unknown_model_is_a_404_in_words(client, alice):
    page(client, "portfolio")
    response = page(client, "threat_model", uuid.uuid4())
    assert response.status_code == 404
    assert "This threat model does not exist, or TMI does not let you see it." in response.content.decode()


def test_a_member_who_never_signed_in_to_tmi_is_sent_to_sign_in(client, organization, django_user_model):
    user = django_user_model.objects.create(username="erin")
    organization.memberships.create(user=user, role="member")
    sign_in(client, user)
    response = page(client, "portfolio")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]) + "?next=")


def test_a_refused_refresh_sends_the_member_to_sign_in_again(client, alice, organization, sandbox):
    """The member's first visit asks for a sync; TMI refuses the refresh it needs: that same page sends them to
    sign in again (their set is dropped), and so does every page after it, without asking TMI."""
    stored = tmi_tokens_get(organization=organization, user=alice)
    with TMIClient(sandbox.base_url) as tmi:
        tmi.auth.refresh(stored.refresh_token)  # spends the single-use refresh token elsewhere
    advance_clock(sandbox.base_url, 3700)  # and the access token expires
    response = page(client, "portfolio")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login", args=["acme"]) + "?next=%2Fo%2Facme%2F"
    assert TMIConnection.objects.get(user=alice).needs_sign_in
    assert not VisibleSet.objects.filter(user=alice).exists()
    count_requests_afresh(sandbox.base_url)
    tm = find_model(sandbox, PAYMENTS)
    for args in (("threat_models",), ("threat_model", tm["id"])):
        assert page(client, *args)["Location"].startswith(reverse("accounts:login", args=["acme"]) + "?next=")
    assert tmi_calls(sandbox) == Counter()
    login_page = client.get(response["Location"])
    assert "sign in to TMI again" in login_page.content.decode()


def test_a_member_whose_access_was_refused_after_the_first_read_is_sent_to_sign_in(
    client, alice, organization, sandbox
):
    """The store holds the member's models, but TMI has since refused their access (a sync, an export met it):
    the pages show them nothing more and ask them to sign in again."""
    store_filled(organization, alice)
    assert page(client, "portfolio").status_code == 200
    TMIConnection.objects.filter(user=alice).update(needs_sign_in=True)
    tm = find_model(sandbox, PAYMENTS)
    for args in (("portfolio",), ("threat_models",), ("threat_model", tm["id"])):
        response = page(client, *args)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login", args=["acme"]) + "?next=")


def test_a_401_is_refreshed_once_and_retried(client, alice, sandbox):
    before = TMIConnection.objects.get(user=alice).refreshed_at
    add_fault(sandbox.base_url, status=401, path_prefix="/threat_models", times=1)
    response = page(client, "portfolio")  # the first visit's sync meets the 401
    assert response.status_code == 200 and FRESHNESS_LINE in response.content.decode()
    assert response.context["portfolio"].total == len(readable_models(sandbox, "alice"))
    assert before is None and TMIConnection.objects.get(user=alice).refreshed_at is not None


def test_a_401_after_the_retry_sends_the_member_to_sign_in(client, alice, sandbox):
    add_fault(sandbox.base_url, status=401, path_prefix="/threat_models")
    response = page(client, "portfolio")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]))


def test_pages_never_carry_the_members_tmi_tokens(client, alice, organization, sandbox, caplog):
    caplog.set_level("DEBUG")
    tokens = tmi_tokens_get(organization=organization, user=alice)
    responses = list(three_pages(client, sandbox).values())
    add_fault(sandbox.base_url, status=503, path_prefix="/threat_models")
    responses += list(pages_during_trouble(client, organization, alice, sandbox)[0].values())  # TMI's 503 met
    assert [r.status_code for r in responses] == [200] * 6
    for response in responses:
        body = response.content.decode()
        assert tokens.access_token not in body and tokens.refresh_token not in body
    assert tokens.access_token not in caplog.text and tokens.refresh_token not in caplog.text


# -- who sees what ---------------------------------------------------------------------------------------------
def test_two_members_see_only_their_own_models_on_every_page(client, organization, member_factory, sandbox):
    """alice and dave have different TMI access (seed role matrix): each page shows a member only the models TMI
    lists for them, and a model of the other's is a 404, though the store holds both."""
    users = {"alice": member_factory(organization, "alice"), "dave": member_factory(organization, "dave")}
    readable = {hint: {tm["id"] for tm in readable_models(sandbox, hint)} for hint in users}
    assert readable["alice"] - readable["dave"] and readable["dave"] - readable["alice"]
    names = {tm["id"]: tm["name"] for tm in sandbox.state.threat_models.values()}
    for hint, other in (("alice", "dave"), ("dave", "alice")):
        client.logout()
        sign_in(client, users[hint])
        mine, theirs = readable[hint], readable[other] - readable[hint]
        overview = page(client, "portfolio")  # the first visit reads this member's set
        assert overview.status_code == 200 and overview.context["portfolio"].total == len(mine)
        shown = {row.id for row in overview.context["portfolio"].riskiest + overview.context["portfolio"].recent}
        assert shown and shown <= mine
        listing = page(client, "threat_models")
        assert {row.id for row in listing.context["listing"].rows} == mine
        some = sorted(mine)[0]
        model = page(client, "threat_model", some)
        assert model.status_code == 200 and model.context["tm"].id == some
        for response in (overview, listing, model):
            html = response.content.decode()
            assert not [tm_id for tm_id in theirs if tm_id in html or names[tm_id] in html]
        for tm_id in theirs:
            response = page(client, "threat_model", tm_id)
            assert response.status_code == 404 and names[tm_id] not in response.content.decode()
    stored = set(organization.stored_threat_models.values_list("tmi_id", flat=True))
    assert stored == readable["alice"] | readable["dave"]  # one store, two sets


def test_a_member_signed_in_through_tmi_sees_the_portfolio(client, organization, member_factory):
    """The session a real sign-in leaves (social auth's TMI backend, not Django's model backend): the async
    pages ask that backend for the user through Django's `aget_user`."""
    from portal.accounts.signin import BACKEND_PATH

    user = member_factory(organization, "alice")
    client.force_login(user, backend=BACKEND_PATH)
    assert page(client, "portfolio").status_code == 200
