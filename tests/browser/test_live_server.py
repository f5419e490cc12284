"""The browser-test infrastructure itself: daphne serves the portal on the test database, and
Chromium drives it."""

import json


def test_chromium_reads_healthz_from_daphne(live_portal, page, screenshot):
    response = page.goto(f"{live_portal}/healthz/")

    assert response.status == 200
    assert response.headers["server"].lower().startswith("daphne")
    assert json.loads(page.inner_text("body")) == {"status": "ok"}
    assert screenshot(page, "healthz").stat().st_size > 0


def test_the_server_sees_the_tests_committed_data(live_portal, page, screenshot, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "a long browser password")

    page.goto(f"{live_portal}/admin/login/")
    screenshot(page, "admin-login")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("a long browser password")
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(f"{live_portal}/admin/")
    assert page.get_by_role("heading", name="Site administration").is_visible()
    screenshot(page, "admin-index")


def test_static_files_are_served_as_in_production(live_portal, page):
    response = page.goto(f"{live_portal}/static/portal/portal.css")

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")
