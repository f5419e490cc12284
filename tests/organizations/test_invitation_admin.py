"""Invitations made by a platform operator in Django admin: the way in for a new organisation's first owner."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from portal.organizations.models import Invitation, Organization
from portal.organizations.services import invitation_token_hash

pytestmark = pytest.mark.django_db

ADD = "/admin/organizations/invitation/add/"


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "operator@example.com", "x" * 20)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return user


@pytest.fixture
def acme():
    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url="http://127.0.0.1:9")


def invite(client, organization, email: str, role: str = "owner") -> str:
    """The link the admin showed once, on the page its redirect leads to."""
    response = client.post(ADD, {"organization": organization.pk, "email": email, "role": role}, follow=True)
    assert response.redirect_chain and response.redirect_chain[0][1] == 302, response.content.decode()[:2000]
    [link] = re.findall(r"https?://[^\s\"<]+/invitations/[^\s\"<]+/", response.content.decode())
    return link


def test_a_second_invitation_is_made_with_a_token_of_its_own(client, operator, acme):
    """Failed before: the admin saved every invitation with an empty token hash, so the second was a 500."""
    first = invite(client, acme, "Owner@Example.com")
    second = invite(client, acme, "second@example.com", role="admin")
    invitations = Invitation.objects.filter(organization=acme).order_by("pk")
    assert [(i.email, i.role, i.invited_by) for i in invitations] == [
        ("owner@example.com", "owner", operator),
        ("second@example.com", "admin", operator),
    ]
    hashes = {i.token_hash for i in invitations}
    assert len(hashes) == 2 and "" not in hashes
    assert invitation_token_hash(first.rstrip("/").rsplit("/", 1)[1]) == invitations[0].token_hash
    assert [m.to for m in mail.outbox] == [["owner@example.com"], ["second@example.com"]]
    assert first in mail.outbox[0].body and second in mail.outbox[1].body


def test_the_link_the_operator_was_shown_opens_the_invitation(client, operator, acme):
    link = invite(client, acme, "owner@example.com")
    client.logout()
    page = client.get(link)
    assert page.status_code == 200
    assert "Acme" in page.content.decode()


def test_inviting_the_same_address_again_replaces_the_pending_invitation(client, operator, acme):
    invite(client, acme, "owner@example.com")
    invite(client, acme, "owner@example.com")
    assert Invitation.objects.filter(organization=acme, email="owner@example.com").count() == 1


def test_an_invitation_is_not_edited_in_place(client, operator, acme):
    invite(client, acme, "owner@example.com")
    invitation = Invitation.objects.get()
    page = client.get(f"/admin/organizations/invitation/{invitation.pk}/change/")
    assert page.status_code == 200
    assert 'name="email"' not in page.content.decode()  # shown, not editable
