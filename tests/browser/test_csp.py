"""Chromium's verdict on the Content-Security-Policy: every kind of page the portal serves, signed out and
signed in as an owner, in both TMI generations, shows without a single violation, and each one carries the
policy. Sign-in through TMI still works under it (form-action), the live page's socket connects
(connect-src) and the export page polls (connect-src); a script injected into a page is refused, which
proves the listener hears violations."""

from __future__ import annotations

import re

import pytest

from portal.devtools.browser import VIEWPORT, sign_in_with_test_idp
from portal.devtools.demo_seed import demo_seed

PAYMENTS = "Customer Payments API"


class Violations:
    """Chromium's console messages about the policy, with the portal page that was open."""

    def __init__(self, page, portal: str) -> None:
        self.portal = portal
        self.page = page
        self.seen: list[str] = []
        page.on("console", self._heard)

    def _heard(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("Refused to"):
            self.seen.append(f"{self.page.url}: {text}")

    def at_portal(self) -> list[str]:
        return [line for line in self.seen if line.startswith(self.portal)]


def visit(page, url: str, *, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, f"{url}: {response and response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "object-src 'none'" in policy, f"{url} has no policy: {policy!r}"
    page.wait_for_load_state("load")


@pytest.fixture
def demo_world(sandbox, generation, live_portal):
    demo_seed(tmi_url=sandbox.base_url, tmi_version=generation)
    from portal.organizations.models import Organization
    from portal.organizations.services import invitation_create

    acme = Organization.objects.get(slug="acme")
    _, token = invitation_create(
        organization=acme, email="newcomer@example.com", invited_by=acme.memberships.get(user__username="alice").user
    )
    return live_portal, token


@pytest.fixture
def anonymous_page(chromium):
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_no_page_of_the_portal_breaks_its_content_security_policy(demo_world, page, anonymous_page, sandbox):
    portal, token = demo_world

    # Signed out: the sign-in page, the start page, invitations (valid and not), a missing page.
    stranger = Violations(anonymous_page, portal)
    visit(anonymous_page, f"{portal}/o/acme/login/")
    visit(anonymous_page, f"{portal}/")
    visit(anonymous_page, f"{portal}/invitations/{token}/")
    visit(anonymous_page, f"{portal}/invitations/not-a-real-token/", status=404)
    visit(anonymous_page, f"{portal}/o/acme/no-such-page/", status=404)
    assert stranger.at_portal() == []

    # Signed in through TMI (the sign-in form's redirect to TMI must survive form-action).
    alice = Violations(page, portal)
    sign_in_with_test_idp(page, portal_url=portal, slug="acme", hint="alice")
    page.locator("#status-chart svg").wait_for()
    visit(page, f"{portal}/")
    visit(page, f"{portal}/o/acme/threat-models/")
    page.get_by_role("link", name=PAYMENTS).click()
    page.wait_for_url(re.compile(rf"{re.escape(portal)}/o/acme/threat-models/[0-9a-f-]{{36}}/"))
    model_url = page.url
    page.locator("#diagrams .diagram-canvas svg").first.wait_for()

    # The live diagram: its socket to this host connects, its script draws.
    page.locator("#diagrams a.diagram-live-link").first.click()
    page.locator("#live-status[data-state=live]").wait_for()
    assert page.locator("svg g.tmi-node").count() > 0

    # An export: the job page polls its status.
    visit(page, model_url)
    page.locator("form.export-form button[type=submit]").first.click()
    page.wait_for_url(re.compile(rf"{re.escape(portal)}/o/acme/exports/\d+/"))
    page.locator("#export-job").wait_for()
    page.wait_for_timeout(1500)  # a poll or two
    visit(page, f"{portal}/o/acme/exports/")

    # Every tenant admin page; the members page listens on its socket.
    visit(page, f"{portal}/o/acme/admin/")
    page.locator("#admin-live[data-connected=true]").wait_for(state="attached")
    for path in ("tmi/", "branding/", "audit/", "health/", "schedules/", "schedules/new/"):
        visit(page, f"{portal}/o/acme/admin/{path}")

    # Errors, signed in: the product's own pages.
    visit(page, f"{portal}/o/acme/no-such-page/", status=404)
    visit(page, f"{portal}/o/globex/", status=404)  # another tenant's: indistinguishable from missing
    assert page.get_by_role("heading", name="We could not find that page").is_visible()

    assert alice.at_portal() == []

    # The listener hears a violation when there is one: an injected inline script is refused.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ran") is None
    assert any("inline script" in line for line in alice.at_portal()), alice.seen
