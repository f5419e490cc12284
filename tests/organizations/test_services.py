"""Membership services: invitations, accepting them, joining by email domain."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.organizations.models import Invitation, Membership, Organization, Role
from portal.organizations.services import (
    invitation_accept,
    invitation_create,
    invitation_token_hash,
    membership_admission_find,
    membership_admit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url="http://127.0.0.1:9")


@pytest.fixture
def inviter(django_user_model):
    return django_user_model.objects.create(username="inviter")


def test_invitation_create_keeps_only_the_token_hash(org, inviter):
    invitation, token = invitation_create(
        organization=org, email=" Zoe@Example.COM ", role=Role.ADMIN, invited_by=inviter
    )
    assert len(token) >= 40
    assert invitation.token_hash == invitation_token_hash(token) != token
    assert not Invitation.objects.filter(token_hash=token).exists()
    assert invitation.email == "zoe@example.com"
    assert invitation.role == Role.ADMIN and invitation.invited_by == inviter and invitation.accepted_at is None
    assert timedelta(days=6) < invitation.expires_at - timezone.now() <= timedelta(days=7)


def test_invitation_create_gives_each_invitation_its_own_token(org, inviter):
    (_, first), (_, second) = (
        invitation_create(organization=org, email="a@example.com", invited_by=inviter) for _ in range(2)
    )
    assert first != second


def test_invitation_create_validates_the_email(org, inviter):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        invitation_create(organization=org, email="not an email", invited_by=inviter)
    assert not Invitation.objects.exists()


def test_an_existing_member_is_admitted(org, django_user_model):
    user = django_user_model.objects.create(username="bob")
    Membership.objects.create(organization=org, user=user, role=Role.MEMBER)
    admission = membership_admission_find(organization=org, user=user, email="bob@elsewhere.test")
    assert admission is not None and admission.kind == "member"


def test_a_pending_invitation_admits_by_email_case_insensitively(org, inviter):
    invitation, _ = invitation_create(organization=org, email="zoe@example.com", invited_by=inviter)
    admission = membership_admission_find(organization=org, user=None, email="ZOE@example.com")
    assert admission.kind == "invitation" and admission.invitation == invitation


@pytest.mark.parametrize("spoil", ["expired", "accepted"])
def test_an_expired_or_used_invitation_does_not_admit(org, inviter, spoil):
    invitation, _ = invitation_create(organization=org, email="zoe@example.com", invited_by=inviter)
    if spoil == "expired":
        invitation.expires_at = timezone.now() - timedelta(seconds=1)
    else:
        invitation.accepted_at = timezone.now()
    invitation.save()
    assert membership_admission_find(organization=org, user=None, email="zoe@example.com") is None


def test_an_invitation_to_another_organisation_does_not_admit(org, inviter):
    other = Organization.objects.create(name="Globex", slug="globex", tmi_base_url="http://127.0.0.1:9")
    invitation_create(organization=other, email="zoe@example.com", invited_by=inviter)
    assert membership_admission_find(organization=org, user=None, email="zoe@example.com") is None


def test_the_email_domain_admits_when_allowed(org):
    org.allowed_email_domains = ["Example.com"]
    org.save()
    assert membership_admission_find(organization=org, user=None, email="zoe@example.COM").kind == "domain"
    # A look-alike domain or a subdomain is not the allowed domain.
    assert membership_admission_find(organization=org, user=None, email="zoe@evilexample.com") is None
    assert membership_admission_find(organization=org, user=None, email="zoe@sub.example.com") is None
    assert membership_admission_find(organization=org, user=None, email="") is None


def test_nobody_else_is_admitted(org):
    assert membership_admission_find(organization=org, user=None, email="zoe@example.com") is None


def test_accepting_an_invitation_creates_the_membership_with_its_role(org, inviter, django_user_model):
    invitation, _ = invitation_create(organization=org, email="zoe@example.com", role=Role.ADMIN, invited_by=inviter)
    zoe = django_user_model.objects.create(username="zoe")
    membership = invitation_accept(invitation=invitation, user=zoe)
    assert (membership.organization, membership.user, membership.role) == (org, zoe, Role.ADMIN)
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    with pytest.raises(Invitation.DoesNotExist):  # used once only
        invitation_accept(invitation=invitation, user=zoe)


def test_an_invitation_never_lowers_a_role(org, inviter, django_user_model):
    zoe = django_user_model.objects.create(username="zoe")
    Membership.objects.create(organization=org, user=zoe, role=Role.OWNER)
    invitation, _ = invitation_create(organization=org, email="zoe@example.com", role=Role.MEMBER, invited_by=inviter)
    assert invitation_accept(invitation=invitation, user=zoe).role == Role.OWNER


def test_admitting_by_domain_creates_a_plain_membership(org, django_user_model):
    org.allowed_email_domains = ["example.com"]
    org.save()
    zoe = django_user_model.objects.create(username="zoe")
    admission = membership_admission_find(organization=org, user=None, email="zoe@example.com")
    membership = membership_admit(organization=org, user=zoe, admission=admission)
    assert membership.role == Role.MEMBER and Membership.objects.filter(organization=org, user=zoe).count() == 1
