"""Every page names the portal's icon, and the icon is a static file the portal serves."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_every_page_names_an_icon_that_exists(client, organization):
    html = client.get(f"/o/{organization.slug}/login/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in html
    icon = finders.find("portal/favicon.svg")
    assert icon is not None and open(icon, encoding="utf-8").read().startswith("<svg")
