"""Platform superusers create organisations in Django admin; the client secret never appears there."""

import pytest
from django.urls import reverse

from portal.organizations.models import Organization
from tests.organizations.admin_forms import organization_admin_form

pytestmark = pytest.mark.django_db


def test_a_superuser_creates_an_organisation_and_never_sees_a_client_secret(admin_client):
    page = admin_client.get(reverse("admin:organizations_organization_add"))
    assert page.status_code == 200 and "tmi_client_secret" not in page.content.decode()
    done = admin_client.post(
        reverse("admin:organizations_organization_add"),
        organization_admin_form(),
    )
    assert done.status_code == 302, done.content.decode()[:3000]
    organization = Organization.objects.get(slug="initech")
    organization.tmi_client_secret = "top-secret"
    organization.save()
    change = admin_client.get(reverse("admin:organizations_organization_change", args=[organization.pk]))
    assert "top-secret" not in change.content.decode()
