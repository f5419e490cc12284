"""The health page's portfolio panel (issue 15): what the store holds, the last pass, and the TMI server's two
budgets in use, counted across processes, after a real sync against the sandbox."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.portfolio.models import StoredThreatModel
from portal.portfolio.sync import portfolio_sync
from tests.dashboard.conftest import readable_models

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_health_page_shows_the_store_and_the_budgets_in_use(client, signed_in_owner, organization, sandbox):
    before = client.get(reverse("tenant_admin:health", args=["acme"])).content.decode()
    assert "Not synced from TMI yet" in before

    report = portfolio_sync(organization, members={signed_in_owner.pk})
    assert report.calls > 0 and not report.errors
    html = client.get(reverse("tenant_admin:health", args=["acme"])).content.decode()
    section = html.split('id="health-sync"', 1)[1].split("</section>", 1)[0]
    stored = StoredThreatModel.objects.filter(organization=organization, gone_at__isnull=True).count()
    assert stored == len(readable_models(sandbox, "alice"))
    assert f"{stored} threat models kept from TMI" in section
    assert f"The last pass made {report.calls} calls to TMI." in section
    rest = re.search(r'id="budget-rest".*?<progress max="(\d+)" value="(\d+)"', section, re.S)
    assert rest and int(rest.group(1)) > 0
    assert int(rest.group(2)) >= report.calls  # every REST call of the pass took a place in the shared window
    assert re.search(r'id="budget-auth".*?<progress max="\d+" value="\d+"', section, re.S)
