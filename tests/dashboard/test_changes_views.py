"""The trend and "what changed" parts of the pages (overview, model page) and the changes and trends pages, through
Django's test client against the sandbox in both TMI generations. Changes are made in TMI (the sandbox's REST API)
and synced as beat would; every number is worked out by the test from what it did or from the sandbox's state."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from html import unescape as html_unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.portfolio.models import MemberVisit
from portal.portfolio.sync import portfolio_sync
from portal.portfolio.vocabulary import SEVERITIES, severity_key, severity_label, threat_is_open
from portal.tmi import TMIClient, TokenPair
from tests.conftest import member_tokens
from tests.dashboard.conftest import Elements, find_model, open_severities, readable_models, sign_in
from tests.portfolio.tmi_changes import changes_made

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tmi(sandbox):
    """A TMI client acting as alice, for the changes made in TMI itself."""
    client = TMIClient(sandbox.base_url, auth=TokenPair(**member_tokens(sandbox.base_url, "alice")), timeout=10)
    yield client
    client.close()


def page(client, name: str, *args, **query) -> str:
    response = client.get(reverse(f"dashboard:{name}", args=["acme", *args]), query)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _synced(organization, *users) -> None:
    report = portfolio_sync(organization, members={u.pk for u in users})
    assert not (report.errors or report.stopped or report.skipped), report


def _after_a_visit_two_hours_ago(client, organization, user) -> None:
    """The member looked at the overview (their first visit), two hours ago."""
    page(client, "portfolio")
    earlier = timezone.now() - timedelta(hours=2)
    MemberVisit.objects.filter(organization=organization, user=user).update(last_seen_at=earlier)


def _text(html: str) -> str:
    return " ".join(Elements(html).text.split())


def _hrefs(html: str) -> set[str]:
    return {a["href"] for tag, a in Elements(html).tags if tag == "a" and "href" in a}


def test_a_first_visit_says_so_and_shows_this_week(client, alice):
    text = _text(page(client, "portfolio"))
    assert "This is your first visit, so there is no last visit to count from" in text
    assert "Nothing changed in the threat models you can see." in text


def test_since_your_last_visit_counts_and_links_each_change(client, alice, organization, sandbox, tmi):
    _after_a_visit_two_hours_ago(client, organization, alice)
    made = changes_made(sandbox, tmi)
    _synced(organization, alice)  # beat's pass
    html = page(client, "portfolio")
    text = _text(html)
    assert "Since your last visit" in text and "This is your first visit" not in text
    assert "2 new threats" in text and "1 threat closed or mitigated" in text
    assert "1 severity raised" in text and "1 severity lowered" in text
    assert "1 threat model changed review status" in text
    assert "closed (Mitigated)" in text  # TMI's mitigated flag closed it, whatever its status still says
    hrefs = _hrefs(html)
    for tm_id, threat_id in made.new_threats + made.closed + made.raised + made.lowered:
        assert f"/o/acme/threat-models/{tm_id}/#threat-{threat_id}" in hrefs  # each threat: its row on the page
    assert f"/o/acme/threat-models/{made.model_status[0]}/" in hrefs
    for severity, n in made.new_by_severity.items():  # each count of new threats: the register, filtered to them
        links = [h for h in hrefs if h.startswith(f"/o/acme/threats/?severity={severity}&created_after=")]
        assert len(links) == 1 and links[0].endswith("&state=all"), links
        assert f"{n} {severity_label(severity)}" in text
        register = client.get(html_unescape(links[0]))
        assert register.status_code == 200
        assert re.search(rf'id="match-count" data-count="{n}"', register.content.decode()), links[0]


def test_the_changes_page_for_the_visit_the_week_and_the_month(client, alice, organization, sandbox, tmi):
    _after_a_visit_two_hours_ago(client, organization, alice)
    page(client, "portfolio")  # a new visit: the last one was two hours ago
    made = changes_made(sandbox, tmi)
    _synced(organization, alice)
    total = sum(made.counts().values())
    for period, heading in (
        ("visit", "What changed since your last visit"),
        ("week", "What changed this week"),
        ("month", "What changed this month"),
        ("nonsense", "What changed since your last visit"),
    ):
        text = _text(page(client, "changes", period=period))
        assert heading in text, period
        assert f"{total} changes in the threat models you can see." in text, period
        assert "2 new threats" in text and "1 threat model changed review status" in text


def test_a_member_never_sees_changes_of_models_hidden_from_them(client, organization, member_factory, sandbox, tmi):
    alice = member_factory(organization, "alice", role="owner")
    bob = member_factory(organization, "bob")
    _synced(organization, alice, bob)
    hidden = find_model(sandbox, "Partner Webhooks Service")  # bob may not see it (seed)
    tmi.threats.create(hidden["id"], name="Forged webhook", threat_type=["Spoofing"], severity="high")
    _synced(organization, alice, bob)
    sign_in(client, bob)
    html = page(client, "changes", period="week")
    text = _text(html)
    assert "Forged webhook" not in text and "0 changes in the threat models you can see." in text
    # Nothing to list: one sentence instead of five zeros, and where to look further.
    assert "Nothing changed in the threat models you can see this week." in text and "0 new threats" not in text
    assert {"?period=month", reverse("dashboard:trends", args=["acme"])} <= _hrefs(html)
    sign_in(client, alice)
    assert "Forged webhook" in _text(page(client, "changes", period="week"))


def test_another_organisations_pages_are_not_found(client, alice, other_organization):
    for name in ("changes", "trends"):
        response = client.get(reverse(f"dashboard:{name}", args=["globex"]))
        assert response.status_code == 404


def _headline(html: str, key: str) -> tuple[int, str]:
    match = re.search(
        rf'id="headline-{key}">\s*<a href="[^"]*"><span class="number">(\d+)</span>.*?'
        r'<span class="meta headline-change">([^<]*)</span>',
        html,
        re.S,
    )
    assert match, key
    return int(match.group(1)), match.group(2)


def _week_ago_estimate(models: list[dict]) -> Counter:
    """Open a week ago, from TMI's dates (the day-one rule): created by then, and open now or changed since."""
    day = timezone.localdate() - timedelta(days=7)

    def when(text):
        from datetime import datetime

        return timezone.localdate(datetime.fromisoformat(text.replace("Z", "+00:00")))

    return Counter(
        severity_key(t.get("severity"))
        for tm in models
        for t in tm.get("threats", [])
        if not t.get("deleted_at")
        and when(t["created_at"]) <= day
        and (threat_is_open(status=t.get("status"), mitigated=t.get("mitigated")) or when(t["modified_at"]) > day)
    )


def test_headline_numbers_carry_their_change_since_last_week(client, alice, organization, sandbox, tmi):
    page(client, "portfolio")
    changes_made(sandbox, tmi)
    _synced(organization, alice)
    html = page(client, "portfolio")
    models = readable_models(sandbox, "alice")
    now, before = open_severities(models), _week_ago_estimate(models)
    count, words = _headline(html, "open")
    assert count == sum(now.values())
    change = sum(now.values()) - sum(before.values())
    assert change != 0  # two threats were created today and one mitigated: TMI's dates place them
    expected = f"{abs(change)} {'more' if change > 0 else 'fewer'} than last week"
    assert words.startswith(expected)
    today = timezone.localdate()  # the portal's history started today: last week's numbers are TMI's dates'
    assert (
        f"The portal's history starts on {today.day} {today:%b %Y}: last week's numbers are estimated from the dates "
        "TMI keeps on each threat." in _text(html)
    )
    for key in SEVERITIES:
        if now[key] or before[key]:
            count, words = _headline(html, key)
            assert count == now[key], key
            delta = now[key] - before[key]
            assert words.startswith(
                f"{abs(delta)} {'more' if delta > 0 else 'fewer'} than last week" if delta else "the same as last week"
            ), (key, words)
    count, words = _headline(html, "models")
    assert count == len(models) and words.startswith("the same as last week")
    assert html.count('class="sparkline"') == len(re.findall(r'id="headline-', html))


def test_the_trends_page_draws_three_charts_with_their_numbers(client, alice, sandbox):
    html = page(client, "trends")
    for chart in ("trend-open", "trend-status", "trend-closed"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
        assert re.search(rf'<desc id="{chart}-desc">[^<]+</desc>', html)
    assert html.count('role="img"') >= 3 and html.count('<div class="visually-hidden"><table>') == 3
    today = timezone.localdate()
    models = readable_models(sandbox, "alice")
    # The open-threats table's last row is today, as TMI holds it; the history starts today, before it estimated.
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>((?:<td>[^<]*</td>)+)</tr>", html)
    day_rows = [r for r in rows if r[0] == today.strftime("%-d %b %Y")]
    assert day_rows
    cells = re.findall(r"<td>([^<]*)</td>", day_rows[0][1])
    open_now = open_severities(models)
    assert sum(int(c) for c in cells[:-1]) == sum(open_now.values())
    assert "history from" in html and "line-estimated" in html
    assert "Before that, open threats are estimated from the dates TMI keeps on each threat" in _text(html)


def test_the_model_page_shows_its_own_trend_and_history(client, alice, organization, sandbox, tmi):
    page(client, "portfolio")
    made = changes_made(sandbox, tmi)
    _synced(organization, alice)
    tm_id = made.new_threats[0][0]
    html = page(client, "threat_model", tm_id)
    assert 'aria-labelledby="tm-trend-open-title tm-trend-open-desc"' in html
    history = html[html.index('id="history"') :]
    history = history[: history.index("</section>")]
    mine = [pair for pair in made.new_threats + made.closed + made.raised + made.lowered if pair[0] == tm_id]
    assert history.count("<li>") == len(mine) + made.model_status.count(tm_id)
    for _, threat_id in mine:
        assert f"/o/acme/threat-models/{tm_id}/#threat-{threat_id}" in history
    desc = re.search(r'<desc id="tm-trend-open-desc">([^<]+)</desc>', html).group(1)
    assert "(estimated)" in desc and "history starts on" in desc  # day one: before today, estimated
