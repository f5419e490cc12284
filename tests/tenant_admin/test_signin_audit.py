"""Signing in and out through TMI leaves rows in the organisation's activity log (both TMI generations)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.devtools.demo_seed import demo_identity
from portal.organizations.services import invitation_create
from tests.accounts.flow import portal_client, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_invited_person_signs_in_then_out(organization, generation):
    email = demo_identity(hint="dave", tmi_version=generation).email
    invitation, _ = invitation_create(organization=organization, email=email, role="member")
    browser = portal_client(REMOTE_ADDR="198.51.100.23")
    done = sign_in(browser, organization, "dave")
    assert done.status_code == 302 and done["Location"] == "/o/acme/"
    actions = list(
        AuditEvent.objects.filter(organization=organization)
        .order_by("id")
        .values_list("action", "actor_label", "target", "ip_address")
    )
    assert actions == [
        ("member.invitation_accepted", email, email, "198.51.100.23"),
        ("auth.sign_in", email, email, "198.51.100.23"),
    ]
    browser.post(reverse("accounts:logout", args=["acme"]))
    assert AuditEvent.objects.filter(organization=organization).latest("id").action == "auth.sign_out"


def test_a_domain_joiner_is_logged_and_a_stranger_leaves_no_trace(organization, other_organization, generation):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    sign_in(portal_client(), organization, "alice")
    assert list(AuditEvent.objects.values_list("organization__slug", "action").order_by("id")) == [
        ("acme", "member.joined_by_domain"),
        ("acme", "auth.sign_in"),
    ]
    refused = sign_in(portal_client(), other_organization, "bob")
    assert refused.status_code == 403
    assert not AuditEvent.objects.filter(organization=other_organization).exists()
