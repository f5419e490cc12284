"""Every page names the portal's icon, and the icon is a static file the portal serves; /favicon.ico, which browsers
ask for by themselves, leads to it too (issue 17: it answered 404)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_every_page_names_an_icon_that_exists(client, organization):
    html = client.get(f"/o/{organization.slug}/login/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in html
    icon = finders.find("portal/favicon.svg")
    assert icon is not None and open(icon, encoding="utf-8").read().startswith("<svg")
    assert '<link rel="icon" href="/static/portal/favicon.ico" sizes="48x48">' in html
    assert open(finders.find("portal/favicon.ico"), "rb").read(4) == b"\x00\x00\x01\x00"  # an icon file
    assert '<link rel="apple-touch-icon" href="/static/portal/apple-touch-icon.png">' in html
    assert open(finders.find("portal/apple-touch-icon.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/portal/favicon.ico"
