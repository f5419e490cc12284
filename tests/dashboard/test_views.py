"""The stakeholder pages through Django's test client, against the sandbox in both TMI generations,
including every way TMI can fail: no page ever answers 500 because of TMI."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_tokens_get
from portal.tmi import TMIClient
from tests.dashboard.conftest import Elements, find_model, readable_models, sign_in
from tests.sandbox.helpers import add_fault, advance_clock

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_the_list_searches_filters_sorts_and_pages(client, alice, sandbox, generation):
    html = page(client, "threat_models", q="bank").content.decode()
    assert "Mobile Banking App" in html and "Customer Payments API" not in html
    assert '<label for="q">' in html and 'value="bank"' in html
    response = page(client, "threat_models", sort="name")
    names = [row.name for row in response.context["listing"].rows]
    assert names == sorted(names, key=str.lower) and len(names) == len(readable_models(sandbox, "alice"))
    status = response.context["listing"].rows[0].status
    filtered = page(client, "threat_models", status=status).context["listing"]
    assert filtered.rows and all(row.status == status for row in filtered.rows)
    assert filtered.done_by_tmi is (generation == "1.8")


def test_pagination_links_keep_the_query(client, alice, sandbox, monkeypatch):
    monkeypatch.setattr(
        selectors_module(),
        "threat_model_list_for_dashboard",
        page_size_wrapper(selectors_module().threat_model_list_for_dashboard, 4),
    )
    html = page(client, "threat_models", sort="name").content.decode()
    assert 'rel="next" href="?sort=name&amp;page=2"' in html and "Page 1 of" in html
    html = page(client, "threat_models", sort="name", page=2).content.decode()
    assert 'rel="prev" href="?sort=name"' in html and "Page 2 of" in html


def selectors_module():
    from portal.dashboard import selectors

    return selectors


def page_size_wrapper(function, size):
    async def wrapper(**kwargs):
        return await function(**kwargs, page_size=size)

    return wrapper


def test_the_threat_model_page_shows_everything_escaped(client, alice, sandbox):
    tm = find_model(sandbox, "Customer Payments API")
    response = page(client, "threat_model", tm["id"])
    assert response.status_code == 200
    html = response.content.decode()
    tags = Elements(html).tags
    assert not [t for t, _ in tags if t == "script"]
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


# -- when TMI is in trouble ---------------------------------------------------------------------------------------
def assert_unavailable(response):
    assert response.status_code == 503
    html = response.content.decode()
    assert "TMI is not answering" in html and "Try again" in html


def test_tmi_down_gives_a_friendly_503_with_a_retry_link(client, alice, sandbox):
    sandbox.stop()
    response = page(client, "threat_models", q="bank")
    assert_unavailable(response)
    assert 'href="/o/acme/threat-models/?q=bank"' in response.content.decode()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_tmi_errors_give_the_friendly_503(client, alice, sandbox, status):
    add_fault(sandbox.base_url, status=status, path_prefix="/threat_models")
    response = page(client, "portfolio")
    if status == 429:  # rate-limited: the same 503 and retry link, in other words (test_deadline.py)
        assert response.status_code == 503 and "TMI is busy" in response.content.decode()
        assert "Try again" in response.content.decode() and response["Retry-After"] == "60"
    else:
        assert_unavailable(response)


def test_a_malformed_answer_gives_the_friendly_503(client, alice, sandbox):
    add_fault(sandbox.base_url, status=200, body="<html>proxy error</html>", path_prefix="/threat_models")
    assert_unavailable(page(client, "portfolio"))


def test_a_model_the_user_cannot_read_is_a_friendly_403(client, alice, sandbox):
    tm = find_model(sandbox, "Data Warehouse ETL")  # alice has no access (seed role matrix)
    response = page(client, "threat_model", tm["id"])
    assert response.status_code == 403
    assert "You don&#x27;t have access to this threat model in TMI" in response.content.decode()


def test_an_unknown_model_is_a_friendly_404(client, alice):
    response = page(client, "threat_model", uuid.uuid4())
    assert response.status_code == 404
    assert "TMI has no threat model at this address" in response.content.decode()


def test_a_member_who_never_signed_in_to_tmi_is_sent_to_sign_in(client, organization, django_user_model):
    user = django_user_model.objects.create(username="erin")
    organization.memberships.create(user=user, role="member")
    sign_in(client, user)
    response = page(client, "portfolio")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]) + "?next=")


def test_a_refused_refresh_sends_the_member_to_sign_in_again(client, alice, organization, sandbox):
    stored = tmi_tokens_get(organization=organization, user=alice)
    with TMIClient(sandbox.base_url) as tmi:
        tmi.auth.refresh(stored.refresh_token)  # spends the single-use refresh token elsewhere
    advance_clock(sandbox.base_url, 3700)  # and the access token expires
    response = page(client, "portfolio")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login", args=["acme"]) + "?next=%2Fo%2Facme%2F"
    assert TMIConnection.objects.get(user=alice).needs_sign_in
    login_page = client.get(response["Location"])
    assert "sign in to TMI again" in login_page.content.decode()


def test_a_401_is_refreshed_once_and_retried(client, alice, sandbox):
    before = TMIConnection.objects.get(user=alice).refreshed_at
    add_fault(sandbox.base_url, status=401, path_prefix="/threat_models", times=1)
    response = page(client, "portfolio")
    assert response.status_code == 200
    assert before is None and TMIConnection.objects.get(user=alice).refreshed_at is not None


def test_a_401_after_the_retry_sends_the_member_to_sign_in(client, alice, sandbox):
    add_fault(sandbox.base_url, status=401, path_prefix="/threat_models")
    response = page(client, "portfolio")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]))


def test_pages_never_carry_the_members_tmi_tokens(client, alice, organization, sandbox, caplog):
    caplog.set_level("DEBUG")
    tokens = tmi_tokens_get(organization=organization, user=alice)
    tm = find_model(sandbox, "Customer Payments API")
    responses = [page(client, "portfolio"), page(client, "threat_models"), page(client, "threat_model", tm["id"])]
    add_fault(sandbox.base_url, status=503, path_prefix="/threat_models")
    responses.append(page(client, "threat_model", tm["id"]))  # not cached: TMI's failure is met
    assert [r.status_code for r in responses] == [200, 200, 200, 503]
    for response in responses:
        body = response.content.decode()
        assert tokens.access_token not in body and tokens.refresh_token not in body
    assert tokens.access_token not in caplog.text and tokens.refresh_token not in caplog.text


def test_a_member_signed_in_through_tmi_sees_the_portfolio(client, organization, member_factory):
    """The session a real sign-in leaves (social auth's TMI backend, not Django's model backend): the async
    pages ask that backend for the user through Django's `aget_user`."""
    from portal.accounts.signin import BACKEND_PATH

    user = member_factory(organization, "alice")
    client.force_login(user, backend=BACKEND_PATH)
    assert page(client, "portfolio").status_code == 200
