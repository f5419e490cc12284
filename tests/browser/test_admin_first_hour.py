"""A tenant admin's first hour, in Chromium on a laptop and on a phone (issue 17): every admin page, the schedule
form for each kind, the TMI connection, an invitation with its Copy button, the activity log and the exports
page pass axe-core with nothing to review; then the invitation as its guest sees it, the "not a member" page a
stranger gets, and the page signing out lands on. A screenshot of each is kept (test-artifacts/browser/<test>/)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from portal.devtools.browser import sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed
from portal.organizations.models import Invitation
from tests.browser.axe import axe_problems

pytestmark = pytest.mark.parametrize("generation", ["1.8"])

VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

ADMIN_PAGES = {
    "people": "/o/acme/admin/",
    "tmi-connection": "/o/acme/admin/tmi/",
    "branding": "/o/acme/admin/branding/",
    "schedules": "/o/acme/admin/schedules/",
    "schedule-portfolio-weekly": "/o/acme/admin/schedules/new/",
    "schedule-filter-monthly": "/o/acme/admin/schedules/new/?kind=filter&frequency=monthly",
    "schedule-threat-model-daily": "/o/acme/admin/schedules/new/?kind=threat_model&frequency=daily",
    "activity-log": "/o/acme/admin/audit/",
    "health": "/o/acme/admin/health/",
    "exports": "/o/acme/exports/",
}

# What a person sees of the form's controls: named, not hidden inputs, visible (so not inside a
# [hidden] row nor a closed <details>).
FIELDS_SHOWN = """() => Array.from(document.querySelectorAll(
  '#schedule-fields :is(input, select, textarea), #schedule-more :is(input, select, textarea)'))
  .filter(e => e.name && e.type !== 'hidden' && e.checkVisibility()).map(e => e.name)"""


def checked(page, problems: dict, name: str, screenshot, viewport: str) -> None:
    problems[name] = axe_problems(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 1:
        problems[name].append(f"wider than the screen by {overflow}px")
    screenshot(page, f"{viewport}-{name}")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_tenant_admins_first_hour_passes_axe_on_every_page(
    viewport, sandbox, generation, live_portal, page, chromium, screenshot
):
    portal = live_portal
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    page.set_viewport_size(VIEWPORTS[viewport])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal)
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    problems: dict[str, list[str]] = {}

    for name, path in ADMIN_PAGES.items():
        response = page.goto(portal + path)
        assert response.status == 200, (name, response.status)
        checked(page, problems, name, screenshot, viewport)

    # The schedule form follows the choice of kind and frequency without asking the server again.
    page.goto(portal + "/o/acme/admin/schedules/new/")
    assert page.locator("#schedule-refresh").is_hidden()  # the no-JavaScript button is not needed
    assert page.evaluate(FIELDS_SHOWN) == ["name", "kind", "frequency", "weekday", "time_of_day", "timezone",
                                           "recipients_text"]  # fmt: skip
    page.get_by_label("What", exact=True).select_option("threat_model")
    page.get_by_label("How often", exact=True).select_option("monthly")
    shown = page.evaluate(FIELDS_SHOWN)
    assert "threat_model_id" in shown and "day_of_month" in shown and "weekday" not in shown
    assert len(shown) <= 9, shown
    search = page.get_by_label("Search threat models by name")
    search.fill("payments")
    names = page.evaluate(
        "() => Array.from(document.querySelectorAll('#id_threat_model_id option')).filter(o => o.value && !o.hidden)"
        ".map(o => o.text)"
    )
    assert "Customer Payments API" in names and all("payments" in n.lower() for n in names), names
    search.fill("zzz-no-such-model")
    assert page.locator("#threat-model-search-count").inner_text() == "0 threat models match"
    search.fill("")
    page.get_by_label("What", exact=True).select_option("filter")
    shown = page.evaluate(FIELDS_SHOWN)
    assert "filter_status" in shown and "threat_model_id" not in shown and len(shown) <= 9, shown
    page.get_by_text("More options").click()
    assert "attachment" in page.evaluate(FIELDS_SHOWN)
    checked(page, problems, "schedule-filter-more-options", screenshot, viewport)
    page.get_by_label("Name", exact=True).fill("Approved models, monthly")
    page.get_by_label("Threat model status").select_option("approved")
    page.get_by_label("Day of the month").fill("5")
    page.get_by_label("Time of day").fill("07:30")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Create schedule").click()
    page.wait_for_url(f"{portal}/o/acme/admin/schedules/")
    row = page.locator("#schedule-table tbody tr", has_text="Approved models, monthly")
    assert "Every month on day 5, 07:30" in row.inner_text() and "Europe/Berlin" in row.inner_text()
    checked(page, problems, "schedules-with-one", screenshot, viewport)
    row.get_by_role("link", name="never").click()
    checked(page, problems, "schedule-runs", screenshot, viewport)
    page.go_back()
    page.locator("#schedule-table").get_by_role("link", name="Approved models, monthly").click()
    assert page.get_by_label("Threat model status").input_value() == "approved"
    checked(page, problems, "schedule-edit", screenshot, viewport)

    # One address field on the TMI page, tested in place.
    page.goto(portal + "/o/acme/admin/tmi/")
    assert page.get_by_label("TMI server address").count() == 1
    page.get_by_role("button", name="Test connection").click()
    assert "Reachable" in page.locator("#connection-report").inner_text()
    checked(page, problems, "tmi-connection-tested", screenshot, viewport)

    # An invitation, its link copied with the button.
    page.goto(portal + "/o/acme/admin/")
    invite = page.locator("#invite")
    invite.get_by_label("Email address").fill("newcomer@example.com")
    invite.get_by_role("button", name="Send invitation").click()
    page.wait_for_url(f"{portal}/o/acme/admin/")
    link = page.locator("#invitation-link").input_value()
    page.get_by_role("button", name="Copy", exact=True).click()
    page.locator("#invitation-copy-state", has_text="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == link
    checked(page, problems, "invitation-copied", screenshot, viewport)
    remove = page.locator('#member-table tr[data-member] form[data-confirm^="Remove"]').first
    assert remove.get_attribute("data-confirm").endswith(" from Acme?")

    # Signing out says so on the page it lands on.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(rf"{re.escape(portal)}/o/acme/login/"))
    assert "You have signed out." in page.locator(".messages").inner_text()
    checked(page, problems, "signed-out", screenshot, viewport)

    # The invitation as its guest sees it, in their own browser (New York, British English): a card like the
    # sign-in page, the date in the reader's zone and format.
    guest_context = chromium.new_context(viewport=VIEWPORTS[viewport], locale="en-GB", timezone_id="America/New_York")
    guest = guest_context.new_page()
    guest.goto(link)
    assert guest.locator(".signin-card h1").inner_text() == "You are invited to Acme"
    expires = Invitation.objects.get(email="newcomer@example.com").expires_at.astimezone(ZoneInfo("America/New_York"))
    assert guest.locator("#invitation-expires").inner_text() == (
        f"{expires.day} {expires:%b %Y}, {expires:%H:%M} (America/New_York)"
    )
    checked(guest, problems, "invitation-landing", screenshot, viewport)
    guest_context.close()

    # A stranger (globex's owner, signed in there) who tries acme: acme's name, none of its navigation.
    sign_in_with_test_idp(page, portal_url=portal, slug="globex", hint="carol")
    page.goto(portal + "/o/acme/login/")
    test_idp = page.locator("form.provider-form").filter(has=page.locator("input[name=login_hint]"))
    test_idp.get_by_label(re.compile("login hint", re.IGNORECASE)).fill("carol")
    test_idp.get_by_role("button", name=re.compile("^Sign in with")).click()
    page.wait_for_load_state()
    assert "You are not a member of Acme" in page.locator("main").inner_text()
    assert page.locator(".site-nav").count() == 0
    assert page.locator('a[href^="/o/acme/"]:not([href^="/o/acme/login/"])').count() == 0
    checked(page, problems, "not-a-member", screenshot, viewport)

    found = {name: found for name, found in problems.items() if found}
    assert found == {}, "\n".join(f"{name}: {problem}" for name, listed in found.items() for problem in listed)
