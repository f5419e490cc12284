"""Test connection also runs the read-only conformance checks (portal/conformance) with the admin's own TMI
token, and shows them as a table below what it showed before."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.conformance.test_command import SANDBOX_GAPS
from tests.tenant_admin.conftest import client_for

# The outcome and detail cells carry their column's name (data-label) for the phone's card layout.
ROW = re.compile(r'<tr class="is-(ok|fail|skip)"><td>([^<]+)</td><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td></tr>')


def test_the_button_shows_the_checks_run_read_only_as_the_admin(organization, admin, sandbox, generation):
    page = client_for(admin).post(
        reverse("tenant_admin:connection_test", args=[organization.slug]), {"tmi_base_url": ""}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<dd id="report-generation">{generation}</dd>' in html  # what the page showed before stays
    rows = [(outcome, html_lib.unescape(name), detail) for outcome, name, detail in ROW.findall(html)]
    names = {name: outcome for outcome, name, _ in rows}
    assert names["auth: userinfo names the signed-in member"] == "ok"
    assert names["threats: list (and get one) in a visible model"] == "ok"  # carol sees the demo's models
    assert names["refresh: a refresh token gives a new pair"] == "skip"  # her token is never spent
    failed = {name for outcome, name, _ in rows if outcome == "fail"}
    assert failed == SANDBOX_GAPS.get(generation, set()), rows
    summary = re.search(r'<p id="report-checks-summary">([^<]+)</p>', html).group(1)
    assert "checks of what the portal relies on passed (read only, as you)" in summary
    # Read only, and no GET / of their own: they reuse the connection check's answer (the page itself asks
    # GET / once more for its settings form, as it did before the checks).
    assert names["discovery: GET / names the server and its generation"] == "skip"
    state = sandbox.state
    assert state.requests_seen["GET /"] <= 2
    writes = {r for r in state.requests_seen if r.split()[0] in ("POST", "PUT", "DELETE")}
    assert writes <= {"POST /oauth2/token"}, writes
    assert AuditEvent.objects.get(action="organization.tmi_tested").details["checks_failed"] == sorted(failed)


@pytest.mark.parametrize("generation", ["1.8"])
def test_an_admin_without_a_tmi_sign_in_is_told_how_to_get_the_checks(world, sandbox, generation):
    world.acme.tmi_base_url = sandbox.base_url
    world.acme.save()
    page = client_for(world.users["admin"]).post(
        reverse("tenant_admin:connection_test", args=["acme"]), {"tmi_base_url": ""}
    )
    html = page.content.decode()
    assert "Sign in to the portal through this TMI server to run the checks" in html
    assert 'id="report-checks"' not in html and "Reachable" in html


@pytest.mark.parametrize("generation", ["1.8"])
def test_another_address_is_checked_without_the_admins_token(organization, admin, sandbox_factory, generation):
    other = sandbox_factory("1.8")
    page = client_for(admin).post(
        reverse("tenant_admin:connection_test", args=[organization.slug]), {"tmi_base_url": other.base_url}
    )
    html = page.content.decode()
    assert "Reachable" in html and 'id="report-checks"' not in html
    assert not [route for route in other.state.requests_seen if "threat_models" in route]
