"""PORTAL_TMI_ALLOWED_SERVERS: where a TMI address is typed (Django admin) and where every portal client
uses it, a refused address is refused in the same words before any connection is opened."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client
from django.urls import reverse

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_client_options
from portal.devtools.management.commands.demo import demo_tmi_servers
from portal.organizations.models import Organization
from portal.organizations.tmi_servers import tmi_address_guard, tmi_address_validate
from portal.tmi import AddressNotAllowed, AsyncTMIClient, TMIClient
from tests.organizations.admin_forms import organization_admin_form

NOT_ALLOWED = "This address is not allowed here."


@pytest.fixture
def public_only(settings):
    """Production's default: public addresses only, nothing internal listed."""
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]


def refused_addresses(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}",
        f"http://localhost:{port}",
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        f"http://user:pw@127.0.0.1:{port}/",
        "http://100.100.100.200/latest/",
    ]


def test_every_portal_client_refuses_an_address_the_operator_did_not_allow(public_only, listener):
    for url in refused_addresses(listener.port):
        with TMIClient(url, **tmi_client_options(url)) as client, pytest.raises(AddressNotAllowed):
            client.discovery()
    assert listener.accepted == 0


async def test_every_async_portal_client_refuses_alike(public_only, listener):
    for url in refused_addresses(listener.port):
        async with AsyncTMIClient(url, **tmi_client_options(url)) as client:
            with pytest.raises(AddressNotAllowed):
                await client.discovery()
    assert listener.accepted == 0


def test_a_listed_server_is_reached(settings, listener):
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public", f"127.0.0.1:{listener.port}"]
    with TMIClient(listener.url(), **tmi_client_options(listener.url())) as client:
        client.config()
    assert listener.accepted == 1
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public", f"127.0.0.1:{listener.port + 1}"]  # another port only
    with TMIClient(listener.url(), **tmi_client_options(listener.url())) as client, pytest.raises(AddressNotAllowed):
        client.config()
    assert listener.accepted == 1


def test_typed_addresses_are_checked_with_the_same_words(public_only, listener):
    for url in refused_addresses(listener.port):
        with pytest.raises(ValidationError) as refused:
            tmi_address_validate(url)
        assert refused.value.messages == [NOT_ALLOWED]
    tmi_address_validate("https://tmi.example.invalid")  # not resolvable now: the use-time check decides
    tmi_address_validate("https://93.184.216.34/")
    assert listener.accepted == 0


def test_a_meaningless_entry_is_a_configuration_error(settings):
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public", "http://tmi.example.com"]
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TMI_ALLOWED_SERVERS"):
        tmi_address_guard()


def test_the_demo_lists_its_tmi_server_and_keeps_the_operators_list():
    assert demo_tmi_servers({}, tmi_url="http://127.0.0.1:8080") == "public,127.0.0.1:8080"
    assert (
        demo_tmi_servers({"PORTAL_TMI_ALLOWED_SERVERS": "tmi.corp"}, tmi_url="http://localhost:9000")
        == "tmi.corp,localhost:9000"
    )
    assert demo_tmi_servers({}, tmi_url="https://tmi.corp") == "public,tmi.corp:443"
    assert demo_tmi_servers({}, tmi_url="http://[::1]:8180") == "public,[::1]:8180"


# -- Django admin (platform superusers) -------------------------------------------------------------------
def admin_post(admin_client, tmi_base_url: str):
    return admin_client.post(
        reverse("admin:organizations_organization_add"),
        organization_admin_form(tmi_base_url=tmi_base_url),
    )


@pytest.mark.django_db
def test_django_admin_refuses_to_save_a_refused_address(public_only, admin_client, listener):
    for url in refused_addresses(listener.port):
        page = admin_post(admin_client, url)
        assert page.status_code == 200 and NOT_ALLOWED in page.content.decode(), url
    assert not Organization.objects.exists() and listener.accepted == 0
    assert admin_post(admin_client, "https://tmi.initech.test").status_code == 302


# -- pages that use a saved address the operator no longer allows ------------------------------------------
@pytest.mark.django_db
def test_the_sign_in_page_says_so_and_never_connects(organization, listener, settings):
    organization.tmi_base_url = listener.url()
    organization.save()
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]
    for _ in range(3):
        page = Client().get("/o/acme/login/")
        assert page.status_code == 503 and "is not allowed here" in page.content.decode()
    assert listener.accepted == 0


@pytest.mark.django_db(transaction=True)
def test_a_dashboard_page_says_so_and_never_connects(organization, member_factory, listener, settings):
    alice = member_factory(organization, "alice")
    organization.tmi_base_url = listener.url()
    organization.save()
    # Her tokens as if issued there while the operator allowed it (the vault sends tokens only to the server
    # that issued them: a moved organisation's old tokens would be refused before this check is reached).
    TMIConnection.objects.filter(user=alice).update(tmi_base_url=listener.url())
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]
    browser = Client()
    browser.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    page = browser.get(reverse("dashboard:portfolio", args=["acme"]))
    assert page.status_code == 503 and NOT_ALLOWED.rstrip(".") in page.content.decode()
    assert listener.accepted == 0
