"""Membership services: invitations, accepting them, joining by email domain; moving an organisation to
another TMI server and the re-link each member then needs.

Sign-in (portal/accounts/pipeline.py) first asks `membership_admission_find` whether a person
may enter an organisation, writing nothing, and only then, once the portal user exists, calls
`membership_admit` to make it so. A person who may not enter leaves no trace.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.services import audit_record
from portal.organizations.events import admin_change_broadcast
from portal.organizations.invitation_mail import person_label, relink_email_send, relink_link
from portal.organizations.models import Invitation, Membership, MembershipRelink, Organization, Role

logger = logging.getLogger(__name__)

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


# -- moving to another TMI server --------------------------------------------------------------------------
#
# An identity is (TMI server, provider, subject) (accounts/backend.py), so after a move nobody's identity
# matches, and the new server vouches for no one. The move (organization_tmi_switch) therefore hands every
# member but the one who moved it (who linked their identity at the new server in the same step) a re-link:
# a single-use link bound to their membership. Higher layers are told through registrations, never imports:
# accounts forgets every TMI token of the organisation (they belong to the old server and must never reach
# the new one); exports pauses the schedules of members who must re-link and resumes them when they have.

_switched_listeners: list[Callable[[Organization], None]] = []
_access_listeners: list[Callable[[Organization, int], None]] = []


def organization_tmi_switched_subscribe(listener: Callable[[Organization], None]) -> None:
    """`listener(organization)` runs inside the move's transaction, after the new address is saved."""
    if listener not in _switched_listeners:
        _switched_listeners.append(listener)


def membership_tmi_access_subscribe(listener: Callable[[Organization, int], None]) -> None:
    """`listener(organization, user_id)` runs inside the transaction that made a member need a re-link, or
    that re-linked them."""
    if listener not in _access_listeners:
        _access_listeners.append(listener)


def membership_tmi_access_announce(*, organization: Organization, user_id: int) -> None:
    for listener in list(_access_listeners):
        listener(organization, user_id)


def _address(url: str) -> str:
    return (url or "").strip().rstrip("/")


def membership_relink_issue(*, membership: Membership, sent_by=None) -> tuple[MembershipRelink, str]:
    """A fresh re-link for the membership at its organisation's current server, and its token (for the link;
    not stored). An earlier link of theirs stops working."""
    token = secrets.token_urlsafe(32)
    relink, _created = MembershipRelink.objects.update_or_create(
        membership=membership,
        defaults={
            "tmi_base_url": _address(membership.organization.tmi_base_url),
            "token_hash": invitation_token_hash(token),
            "sent_by": sent_by,
            "expires_at": timezone.now() + INVITATION_LIFETIME,
            "used_at": None,
        },
    )
    return relink, token


def membership_relink_pending(*, organization_id: int, user_id: int) -> bool:
    """Must this member re-link (at the organisation's current server) before anything runs as them?"""
    return MembershipRelink.objects.filter(
        membership__organization_id=organization_id, membership__user_id=user_id, used_at__isnull=True
    ).exists()


def membership_relink_problem(relink: MembershipRelink | None) -> str:
    """Why this re-link cannot be used now: "unknown", "used", "expired", "stale" (the organisation moved
    again), or "" when it can."""
    if relink is None:
        return "unknown"
    if relink.used_at is not None:
        return "used"
    if relink.expires_at <= timezone.now():
        return "expired"
    if _address(relink.tmi_base_url) != _address(relink.membership.organization.tmi_base_url):
        return "stale"
    return ""


def membership_relink_claim(*, relink_id: int, user_id: int) -> MembershipRelink | None:
    """Spend a re-link, once: None when it was used, expired or went stale meanwhile (another browser was
    faster, or the organisation moved again), or is not `user_id`'s. Part of the caller's transaction, if any."""
    with transaction.atomic():
        relink = (
            MembershipRelink.objects.select_for_update()
            .select_related("membership__organization")
            .filter(pk=relink_id, membership__user_id=user_id)
            .first()
        )
        if relink is None or membership_relink_problem(relink):
            return None
        relink.used_at = timezone.now()
        relink.save(update_fields=["used_at"])
    return relink


@dataclass(frozen=True)
class RelinkSent:
    """A re-link sent. Its link is emailed to the member only, never shown to whoever moved the organisation or
    sent it again: whoever follows it and signs in at the new server becomes that member in every organisation
    they belong to, so only their own mailbox may hold it (unlike an invitation, which makes a new person)."""

    membership: Membership
    emailed: bool


class OrganizationMovedMeanwhile(Exception):
    """The organisation's address is no longer the one the move started from: someone else moved it."""


def _relink_send(relink: MembershipRelink, token: str, *, actor, request=None) -> RelinkSent:
    link = relink_link(token, request)
    return RelinkSent(relink.membership, relink_email_send(relink=relink, link=link, actor=actor))


def organization_tmi_switch(
    *,
    organization: Organization,
    actor,
    tmi_base_url: str,
    identity_providers: list[str],
    kept_user=None,
    expected_base_url: str | None = None,
    request=None,
) -> tuple[Organization, list[tuple[MembershipRelink, str]]]:
    """Move the organisation to the TMI server at `tmi_base_url`. Every member but `kept_user` (the owner
    who linked their identity at the new server in this step; None when an operator moves it in Django
    admin) gets a re-link: returned with its token, for the caller to send (`membership_relinks_send`) once
    its transaction is committed. The stored client credentials are removed
    (the old server's secret must not be sent to the new one), and so, by the registered listener, is every
    member's TMI token. Raises OrganizationMovedMeanwhile when `expected_base_url` is given and is no longer
    the address."""
    new_address = _address(tmi_base_url)
    with transaction.atomic():
        locked = Organization.objects.select_for_update().get(pk=organization.pk)
        old_address = _address(locked.tmi_base_url)
        if expected_base_url is not None and old_address != _address(expected_base_url):
            raise OrganizationMovedMeanwhile(locked.slug)
        had_credentials = bool(locked.tmi_client_id or locked.tmi_client_secret)
        locked.tmi_base_url = new_address
        locked.identity_providers = sorted(set(identity_providers))
        locked.tmi_client_id, locked.tmi_client_secret = "", ""
        locked.full_clean()
        locked.save(update_fields=["tmi_base_url", "identity_providers", "tmi_client_id", "tmi_client_secret"])
        for listener in list(_switched_listeners):
            listener(locked)
        issued = []
        memberships = Membership.objects.filter(organization=locked).select_related("user", "organization")
        for membership in memberships.order_by("pk"):
            if kept_user is not None and membership.user_id == kept_user.pk:
                MembershipRelink.objects.filter(membership=membership).delete()  # linked in this very step
                continue
            membership.organization = locked
            issued.append(membership_relink_issue(membership=membership, sent_by=actor))
        audit_record(
            organization=locked,
            action="organization.tmi_moved",
            actor=actor,
            request=request,
            target=new_address,
            details={
                "from": old_address,
                "to": new_address,
                "identity_providers": locked.identity_providers,
                "moved_by_linking": person_label(kept_user) if kept_user is not None else None,
                "members_to_relink": [person_label(relink.membership.user) for relink, _token in issued],
                "client_credentials_removed": had_credentials,
            },
        )
        for relink, _token in issued:
            membership_tmi_access_announce(organization=locked, user_id=relink.membership.user_id)
        admin_change_broadcast(
            organization=locked,
            section="tmi",
            actor=actor,
            summary=_("moved the organisation to the TMI server at %(url)s") % {"url": new_address},
        )
    logger.info("organisation %s moved to another TMI server; %s members to re-link", locked.slug, len(issued))
    return locked, issued


def membership_relinks_send(issued: list[tuple[MembershipRelink, str]], *, actor, request=None) -> list[RelinkSent]:
    """Email each re-link made by a move (after its transaction committed)."""
    return [_relink_send(relink, token, actor=actor, request=request) for relink, token in issued]


def membership_relink_send_again(*, membership: Membership, actor, request=None) -> RelinkSent:
    """A new link (and expiry) for a member who must re-link; the old link stops working. The caller checks
    who may (tenant_admin/services.py)."""
    with transaction.atomic():
        relink, token = membership_relink_issue(membership=membership, sent_by=actor)
        audit_record(
            organization=membership.organization,
            action="member.relink_sent",
            actor=actor,
            request=request,
            target=person_label(membership.user),
            details={"expires_at": relink.expires_at.isoformat(), "tmi_base_url": relink.tmi_base_url},
        )
    return _relink_send(relink, token, actor=actor, request=request)
