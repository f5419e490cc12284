"""How fresh each page is, "Refresh now", and the first read's progress (issue 15 sections 3 and 5), against the
sandbox in both TMI generations. A sync asked for runs inline in tests (PORTAL_SYNC_INLINE), so a change made in
TMI shows on the page that follows the refresh."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.portfolio.models import StoredThreatModel, SyncState
from tests.dashboard.conftest import (
    Elements,
    find_model,
    open_severities,
    readable_models,
    sign_in,
    store_filled,
)
from tests.sandbox.rest_world import Api, child_body, threat_body

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "Customer Payments API"  # alice owns it; dave has no access (seed role matrix)
REFRESH = reverse("dashboard:refresh", args=["acme"])
# A store just synced says "just now" (never "0 minutes ago"); an older one counts the minutes.
UPDATED = re.compile(r'id="freshness">Updated from TMI (just now|(\d+\xa0\w+|\d+ \w+) ago)\.')


def refresh_now(client, *, next_url: str | None = None, threat_model_id: str | None = None):
    data = {}
    if next_url is not None:
        data["next"] = next_url
    if threat_model_id is not None:
        data["threat_model_id"] = threat_model_id
    return client.post(REFRESH, data)


def refresh_form(html: str) -> dict[str, str]:
    """The Refresh now form's hidden fields, by name; fails unless the page has exactly one such form."""
    tags = Elements(html).tags
    forms = [i for i, (tag, attrs) in enumerate(tags) if tag == "form" and attrs.get("action") == REFRESH]
    assert len(forms) == 1
    start = forms[0]
    end = next((i for i in range(start + 1, len(tags)) if tags[i][0] == "form"), len(tags))
    assert tags[start][1].get("method") == "post"
    fields = {attrs["name"]: attrs.get("value", "") for tag, attrs in tags[start:end] if tag == "input"}
    assert "csrfmiddlewaretoken" in fields
    buttons = [attrs for tag, attrs in tags[start:end] if tag == "button" and attrs.get("type") == "submit"]
    assert len(buttons) == 1 and ">Refresh now</button>" in html
    return fields


@pytest.mark.parametrize("which", ["overview", "list", "threat model"])
def test_every_page_says_how_fresh_it_is_and_offers_refresh_now(client, alice, organization, sandbox, which):
    store_filled(organization, alice)
    tm = find_model(sandbox, PAYMENTS)
    url = {
        "overview": reverse("dashboard:portfolio", args=["acme"]),
        "list": reverse("dashboard:threat_models", args=["acme"]) + "?q=pay&sort=name",
        "threat model": reverse("dashboard:threat_model", args=["acme", tm["id"]]) + "?severity=high",
    }[which]
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert UPDATED.search(html), html[html.find("freshness") - 200 : html.find("freshness") + 300]
    fields = refresh_form(html)
    assert fields["next"] == url  # back to this very page, its query included
    assert fields.get("threat_model_id") == (tm["id"] if which == "threat model" else None)


def test_refresh_now_asks_for_the_members_set_and_the_model_they_look_at(
    client, organization, member_factory, sandbox, sync_passes
):
    alice, dave = member_factory(organization, "alice"), member_factory(organization, "dave")
    store_filled(organization, alice, dave)  # the store holds dave's models too
    sign_in(client, alice)
    payments = find_model(sandbox, PAYMENTS)["id"]
    response = refresh_now(client, next_url=f"/o/acme/threat-models/{payments}/", threat_model_id=payments)
    assert response.status_code == 302 and response["Location"] == f"/o/acme/threat-models/{payments}/"
    assert [(asked["members"], asked["models"]) for asked in sync_passes.asked] == [({alice.pk}, {payments})]
    [report] = sync_passes
    assert report.sets_read == 1 and report.models_read_whole == 1 and not report.errors  # read whole, though unchanged


@pytest.mark.parametrize("asked_for", ["another member's model", "an unknown id", "nonsense"])
def test_refresh_now_syncs_only_a_model_in_the_members_set(
    client, organization, member_factory, sandbox, sync_passes, asked_for
):
    """An id the member cannot see is not synced for them: only their own set is read again."""
    alice, dave = member_factory(organization, "alice"), member_factory(organization, "dave")
    store_filled(organization, alice, dave)
    theirs = sorted(
        {tm["id"] for tm in readable_models(sandbox, "dave")} - {tm["id"] for tm in readable_models(sandbox, "alice")}
    )[0]
    tm_id = {
        "another member's model": theirs,
        "an unknown id": "00000000-0000-4000-8000-000000000000",
        "nonsense": "<script>",
    }[asked_for]
    sign_in(client, alice)
    response = refresh_now(client, next_url="/o/acme/threat-models/", threat_model_id=tm_id)
    assert response.status_code == 302 and response["Location"] == "/o/acme/threat-models/"
    assert [(asked["members"], asked["models"]) for asked in sync_passes.asked] == [({alice.pk}, set())]
    assert not StoredThreatModel.objects.filter(sync_requested_at__isnull=False).exists()
    assert sync_passes[0].models_read_whole == 0  # nothing read whole: the store was current


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/o/acme/threat-models/?q=bank&page=2", "/o/acme/threat-models/?q=bank&page=2"),
        ("https://evil.example/o/acme/", "/o/acme/"),
        ("//evil.example/o/acme/", "/o/acme/"),
        ("javascript:alert(1)", "/o/acme/"),
        (None, "/o/acme/"),
    ],
)
def test_refresh_now_goes_back_only_to_a_page_of_this_site(client, alice, organization, next_url, expected):
    store_filled(organization, alice)
    response = refresh_now(client, next_url=next_url)
    assert response.status_code == 302 and response["Location"] == expected


def test_refresh_now_needs_a_post(client, alice, organization):
    assert client.get(REFRESH).status_code == 405


def test_a_change_in_tmi_shows_on_the_model_page_after_refresh_now(client, alice, organization, sandbox):
    """A document added in TMI leaves the model's modified_at alone and is no threat: only a read of the whole
    model brings it in, which "Refresh now" on its page asks for."""
    store_filled(organization, alice)
    tm = find_model(sandbox, PAYMENTS)
    url = reverse("dashboard:threat_model", args=["acme", tm["id"]])
    tmi = Api(sandbox, "alice")
    added = tmi.post(
        f"/threat_models/{tm['id']}/documents", {**child_body("documents", tmi.legacy), "name": "Fresh runbook"}
    )
    assert added.status_code == 201, added.text
    assert "Fresh runbook" not in client.get(url).content.decode()  # the store, until it is synced
    response = refresh_now(client, next_url=url, threat_model_id=tm["id"])
    assert response["Location"] == url
    html = client.get(url).content.decode()
    assert "Fresh runbook" in html
    assert "Asked TMI for the latest." in html  # the message says what happened


def test_a_change_in_tmi_shows_on_the_overview_after_refresh_now(client, alice, organization, sandbox):
    store_filled(organization, alice)
    url = reverse("dashboard:portfolio", args=["acme"])
    before = client.get(url).context["portfolio"]
    tm = find_model(sandbox, "Customer Support Chatbot")
    tmi = Api(sandbox, "alice")
    created = tmi.post(
        f"/threat_models/{tm['id']}/threats", threat_body(tmi.legacy, name="New in TMI", severity="critical")
    )
    assert created.status_code == 201, created.text
    assert client.get(url).context["portfolio"].open_total == before.open_total  # not yet
    refresh_now(client, next_url=url)
    after = client.get(url).context["portfolio"]
    assert after.open_total == before.open_total + 1
    assert after.open_total == sum(open_severities(readable_models(sandbox, "alice")).values())
    assert {c.key: c.count for c in after.open_by_severity}["critical"] == (
        {c.key: c.count for c in before.open_by_severity}["critical"] + 1
    )


def test_a_first_visit_during_a_first_read_shows_its_progress(client, alice, organization):
    """Another pass is reading the organisation (a sign-in asked for it): the member's first page says how far it
    has got and looks again by itself, instead of waiting."""
    SyncState.objects.update_or_create(
        organization=organization, defaults={"running_since": timezone.now(), "models_total": 312, "models_done": 40}
    )
    response = client.get(reverse("dashboard:portfolio", args=["acme"]))
    assert response.status_code == 200 and response.templates[0].name == "dashboard/reading.html"
    html = response.content.decode()
    assert "Reading 40 of 312 threat models from TMI." in html and '<progress max="312" value="40"' in html
    assert '<meta http-equiv="refresh" content="3">' in html
    assert 'id="reading-trouble"' not in html  # nothing wrong: only not done yet


def test_while_threats_are_still_being_read_the_overview_counts_them_as_found_so_far(
    client, alice, organization, sandbox
):
    """A pass lists the models first and reads their threats after: a page between the two must not pass off the
    few threats read so far as the organisation's open threats."""
    store_filled(organization, alice)
    url = reverse("dashboard:portfolio", args=["acme"])
    whole = client.get(url).context["portfolio"]
    assert whole.threats_pending == 0 and whole.open_total > 0
    html = client.get(url).content.decode()
    assert 'id="threats-reading"' not in html and "found so far" not in html
    assert re.search(rf">{whole.open_total} threats are still open\.</a>", html)

    payments = StoredThreatModel.objects.get(organization=organization, name=PAYMENTS)
    unread = StoredThreatModel.objects.filter(organization=organization, gone_at__isnull=True).exclude(pk=payments.pk)
    pending = unread.update(threats_synced_at=None)  # as in a first pass: only Customer Payments API read so far
    assert pending == whole.total - 1

    response = client.get(url)
    part = response.context["portfolio"]
    assert (part.threats_pending, part.threats_read, part.total) == (pending, 1, whole.total)
    assert part.open_total == payments.open_total < whole.open_total  # what was read, and no more
    assert [row.id for row in part.riskiest] == [payments.tmi_id]
    html = response.content.decode()
    assert re.search(rf">{part.open_total} open threats? found so far\.</a>", html)
    notice = re.search(r'id="threats-reading-text">(.*?)</p>', html, re.S)
    assert notice, html
    assert notice[1] == (
        f"The portal is still reading the threats of {pending} threat models from TMI. Until it has, the open threats"
        f" and the risk on this page count only the 1 of {whole.total} it has read. Reload the page in a moment to"
        " see more."
    )
    assert f'<progress max="{whole.total}" value="1" aria-labelledby="threats-reading-text">' in html
    # The list says which models' threats are not read yet, rather than that they are not shared.
    listed = client.get(reverse("dashboard:threat_models", args=["acme"])).content.decode()
    assert listed.count('<span class="meta">not read from TMI yet</span>') == pending
    assert "not shared with you" not in listed
