"""What to do next on the pages (both TMI generations): the overview leads with it, each summary's number is the
number of items behind its link (the model lists' filters here; the register's contract in
tests/portfolio/test_flags.py), a model's page shows its own flags and its threats' SSVC decisions in words, and
the risk score's legend covers every severity. Counts are computed from the sandbox's state."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from portal.portfolio.ssvc import ssvc_decision_key
from portal.portfolio.vocabulary import SEVERITY_LABELS
from tests.dashboard.conftest import Elements, find_model, readable_models

pytestmark = pytest.mark.django_db(transaction=True)


def _page(client, name: str, *args, **query):
    return client.get(reverse(f"dashboard:{name}", args=["acme", *args]), query)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _latest(tm: dict) -> datetime:
    items = [tm] + [
        c for key in ("threats", "diagrams", "documents", "assets", "notes", "repositories") for c in tm.get(key, [])
    ]
    return max(_when(t[f]) for t in items for f in ("created_at", "modified_at") if t.get(f))


def test_the_overview_leads_with_what_to_do_next_and_its_links_list_what_it_counts(client, alice, sandbox):
    legacy = sandbox.state.config.is_legacy
    html = _page(client, "portfolio").content.decode()
    main = html[html.index("<h1") :]
    # First after the page's heading and freshness line: before the charts and the rankings.
    assert main.index("What to do next") < main.index('id="status-heading"') < main.index('id="riskiest-heading"')
    models = readable_models(sandbox, "alice")
    now = datetime.now(UTC)
    unchanged = {tm["name"] for tm in models if _latest(tm) <= now - timedelta(days=90)}
    sentence = f"{len(unchanged)} threat models have not changed for 90 days or more."
    assert sentence in html
    link = re.search(r'<a href="([^"]+)" data-count="\d+">' + re.escape(sentence), html).group(1)
    assert unescape(link) == "/o/acme/threat-models/?unchanged_for=90"
    listed = _page(client, "threat_models", unchanged_for=90).content.decode()
    assert f"{len(unchanged)} threat models match." in listed
    assert "Only threat models in which nothing changed for 90 days or more." in listed
    no_reviewer = {tm["name"] for tm in models if not tm.get("security_reviewer")}
    if legacy:  # 0.217 has no security reviewer: nothing is said about one
        assert "security reviewer" not in html
    else:
        assert no_reviewer
        words = f"{len(no_reviewer)} threat model{'s have' if len(no_reviewer) != 1 else ' has'} no security reviewer."
        link = re.search(r'<a href="([^"]+)" data-count="\d+">' + re.escape(words), html).group(1)
        listed = client.get(unescape(link)).content.decode()
        rows = [
            a.get("href")
            for tag, a in Elements(listed).tags
            if tag == "a" and "/threat-models/" in (a.get("href") or "")
        ]
        assert all(name in listed for name in no_reviewer)
        assert f"{len(no_reviewer)} threat model" in listed and rows
    # The legend covers every severity.
    legend = "Risk score: each open threat counts 10 if critical, 5 if high, 2 if medium, 1 if low or not rated, 0 if informational."
    assert legend in html and all(str(label).lower() in legend for label in SEVERITY_LABELS.values())


def test_the_model_page_shows_its_flags_and_ssvc_decisions_in_words(client, alice, sandbox):
    legacy = sandbox.state.config.is_legacy
    tm = find_model(sandbox, "Customer Payments API")
    html = _page(client, "threat_model", tm["id"]).content.decode()
    assert "What to do next" in html and "Nothing in it has changed for" in html
    assert "Risk score: each open threat counts" in html
    decisions = [ssvc_decision_key(t) for t in tm["threats"] if ssvc_decision_key(t)]
    if legacy:
        assert not decisions and "Decision (SSVC)" not in html
        return
    assert decisions and "Decision (SSVC)" in html
    words = {"immediate": "Act now (Immediate)", "out_of_cycle": "Act now (Out-of-Cycle)",
             "scheduled": "Schedule (Scheduled)", "defer": "Track (Defer)"}  # fmt: skip
    table = html[html.index('id="threat-table"') :]
    for key in set(decisions):
        assert table.count(words[key]) == decisions.count(key), key
