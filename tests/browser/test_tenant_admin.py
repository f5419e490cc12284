"""An admin runs the organisation in real Chromium, in both TMI generations: invites a person by email,
the person accepts in their own browser and signs in through TMI's test IdP, the admin's open page is told,
the admin changes the person's role and finds both events in the activity log."""

from __future__ import annotations

import re

import pytest

from portal.devtools.browser import VIEWPORT, sign_in_with_test_idp
from portal.devtools.demo_seed import demo_identity, demo_seed


@pytest.fixture
def demo_world(sandbox, generation, live_portal):
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    return live_portal


@pytest.fixture
def second_page(chromium):
    """The invited person's own browser: no cookies shared with the admin's."""
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def audit_rows(page) -> list[tuple[str, str, str]]:
    rows = page.locator("#audit-table tbody tr")
    return [
        (
            row.locator("td").nth(1).inner_text().strip(),
            row.locator("th").inner_text().strip(),
            row.locator("td").nth(2).inner_text().strip(),
        )
        for row in rows.all()
    ]


def test_an_admin_invites_a_person_who_joins_then_changes_their_role(
    demo_world, generation, page, second_page, screenshot
):
    portal = demo_world
    dave = demo_identity(hint="dave", tmi_version=generation).email
    alice = demo_identity(hint="alice", tmi_version=generation).email

    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    page.get_by_role("link", name="Admin", exact=True).click()
    page.wait_for_url(f"{portal}/o/acme/admin/")
    screenshot(page, "people")

    invite = page.locator("#invite")
    invite.get_by_label("Email address").fill(dave)
    invite.get_by_label("Role").select_option("member")
    invite.get_by_role("button", name="Send invitation").click()
    page.wait_for_url(f"{portal}/o/acme/admin/")
    link = page.locator("#invitation-link").input_value()
    assert re.fullmatch(rf"{re.escape(portal)}/invitations/[A-Za-z0-9_-]{{20,}}/", link), link
    assert dave in page.locator("#invitation-table").inner_text()
    screenshot(page, "invited")
    page.reload()  # the link is shown once only
    assert page.locator("#invitation-link").count() == 0
    page.locator("#admin-live[data-connected=true]").wait_for(state="attached")  # listening for changes

    # dave, in his own browser, opens the link, accepts and signs in through TMI.
    second_page.goto(link)
    assert dave in second_page.locator("main").inner_text()
    screenshot(second_page, "invitation")
    second_page.get_by_role("button", name="Sign in to accept").click()
    second_page.wait_for_url(re.compile(rf"{re.escape(portal)}/o/acme/login/"))
    sign_in_with_test_idp(second_page, portal_url=portal, slug="acme", hint="dave")
    assert second_page.url == f"{portal}/o/acme/"
    screenshot(second_page, "dave-overview")
    assert second_page.get_by_role("link", name="Admin", exact=True).count() == 0  # a member has no admin link

    # alice's open page was told, and offers a reload.
    banner = page.locator("#admin-live")
    banner.wait_for(state="visible")
    assert banner.inner_text().startswith("Dave") and "joined." in banner.inner_text()
    screenshot(page, "told-of-change")
    banner.get_by_role("button", name="Reload").click()
    page.wait_for_load_state()
    row = page.locator(f'#member-table tr[data-member="{dave}"]')
    assert "signed in" in row.inner_text()
    assert page.locator("#invitation-table").count() == 0  # accepted: no longer pending

    row.get_by_label(f"Role of {dave}").select_option("admin")
    row.get_by_role("button", name="Change role").click()
    page.wait_for_url(f"{portal}/o/acme/admin/")
    assert f"{dave} is now admin." in page.locator(".messages").inner_text()
    screenshot(page, "role-changed")

    page.get_by_role("link", name="Activity log").click()
    page.wait_for_url(f"{portal}/o/acme/admin/audit/")
    rows = audit_rows(page)
    assert (dave, "Accepted an invitation", dave) in rows
    assert (dave, "Signed in", dave) in rows
    assert (alice, "Changed a role", f"{dave} (member → admin)") in rows
    assert (alice, "Invited someone", dave) in rows
    screenshot(page, "activity-log")

    page.get_by_label("Who").fill("dave")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*[?&]actor=dave"))
    assert {who for who, _, _ in audit_rows(page)} == {dave}
    screenshot(page, "activity-log-filtered")


def test_an_owner_tests_the_tmi_connection_and_reads_the_health_panel(demo_world, generation, page, screenshot):
    portal = demo_world
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    page.goto(f"{portal}/o/acme/admin/tmi/")
    page.locator("#tmi-status").get_by_role("button", name="Test connection").click()
    report = page.locator("#connection-report")
    assert "Reachable" in report.inner_text()
    assert page.locator("#report-generation").inner_text() == generation
    screenshot(page, "tmi-connection")

    page.locator("#tmi-status").get_by_label("TMI server address").fill("http://127.0.0.1:9")
    page.locator("#tmi-status").get_by_role("button", name="Test connection").click()
    assert "Not reachable" in report.inner_text() and "refused" in report.inner_text()
    screenshot(page, "tmi-connection-refused")

    page.get_by_role("link", name="Health").click()
    page.wait_for_url(f"{portal}/o/acme/admin/health/")
    assert "Reachable" in page.locator("#health-tmi").inner_text()
    assert "is the worker running?" in page.locator("#health-workers").inner_text()
    screenshot(page, "health")
