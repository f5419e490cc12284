"""Membership services: invitations, accepting them, joining by email domain.

Sign-in (portal/accounts/pipeline.py) first asks `membership_admission_find` whether a person
may enter an organisation, writing nothing, and only then, once the portal user exists, calls
`membership_admit` to make it so. A person who may not enter leaves no trace.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.organizations.models import Invitation, Membership, Organization, Role

INVITATION_LIFETIME = timedelta(days=7)


def invitation_token_hash(token: str) -> str:
    """Invitations keep only this hash: the link sent to the invitee is the one copy of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _email_normalise(email: str) -> str:
    return (email or "").strip().lower()


def email_domain(email: str) -> str:
    _, _, domain = _email_normalise(email).rpartition("@")
    return domain


def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: str = Role.MEMBER,
    invited_by=None,
    lifetime: timedelta = INVITATION_LIFETIME,
) -> tuple[Invitation, str]:
    """A pending invitation and its token (to put in the link; it is not stored)."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization=organization,
        email=_email_normalise(email),
        role=Role(role),
        token_hash=invitation_token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + lifetime,
    )
    invitation.full_clean()
    invitation.save()
    return invitation, token


def invitation_is_pending(invitation: Invitation) -> bool:
    return invitation.accepted_at is None and invitation.expires_at > timezone.now()


def invitation_pending_for_email(*, organization: Organization, email: str) -> Invitation | None:
    """The newest pending invitation to this organisation for this email (case-insensitive)."""
    email = _email_normalise(email)
    if not email:
        return None
    return (
        Invitation.objects.filter(
            organization=organization, email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at")
        .first()
    )


@dataclass(frozen=True)
class Admission:
    """Why a person may enter: already a member, a pending invitation, or their email's domain."""

    kind: str  # "member" | "invitation" | "domain"
    invitation: Invitation | None = None


def membership_admission_find(*, organization: Organization, user, email: str) -> Admission | None:
    """Read-only: may this person (an existing portal user or None) with this email enter?

    Invitations and domains match the email the organisation's TMI server reports; the
    organisation chose that server, so its word on the email is what the organisation trusts.
    """
    if user is not None and Membership.objects.filter(organization=organization, user=user).exists():
        return Admission("member")
    invitation = invitation_pending_for_email(organization=organization, email=email)
    if invitation is not None:
        return Admission("invitation", invitation)
    allowed = {d.strip().lower().lstrip("@") for d in organization.allowed_email_domains or [] if d}
    if email_domain(email) and email_domain(email) in allowed:
        return Admission("domain")
    return None


def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Create the membership the invitation offers and mark it accepted, once."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation_is_pending(invitation):
            raise Invitation.DoesNotExist("the invitation was used or has expired")
        membership, created = Membership.objects.get_or_create(
            organization_id=invitation.organization_id, user=user, defaults={"role": invitation.role}
        )
        # An invitation never lowers the role of someone who is already a member.
        if not created and Role(invitation.role).rank > Role(membership.role).rank:
            membership.role = invitation.role
            membership.save(update_fields=["role"])
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return membership


def membership_auto_join(*, organization: Organization, user) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": Role.MEMBER}
    )
    return membership


def membership_admit(*, organization: Organization, user, admission: Admission) -> Membership:
    """Make an admission found by `membership_admission_find` real for the now-existing user."""
    if admission.kind == "invitation" and admission.invitation is not None:
        return invitation_accept(invitation=admission.invitation, user=user)
    if admission.kind == "domain":
        return membership_auto_join(organization=organization, user=user)
    return Membership.objects.get(organization=organization, user=user)
