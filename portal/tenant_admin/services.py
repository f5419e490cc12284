"""Every change an owner or admin makes to their organisation.

Each service checks the actor's role itself (not only the view), runs in one transaction, writes
the audit row and, after commit, tells open admin pages (events.py).

Role rules:
- owners and admins invite, change roles, remove people, and edit domains, the TMI connection,
  the client credentials and the branding;
- only owners make someone an owner, change an owner's role, remove an owner, invite an owner,
  or move the organisation to another TMI server address (it decides where every member signs in; a move
  is a flow: organization_tmi_move_check here, then a sign-in at the new server, accounts/moving.py);
- the last owner can be neither removed nor demoted.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import TMIConnection
from portal.audit.services import audit_record
from portal.exports.schedules import export_schedules_check_person
from portal.organizations.events import admin_change_broadcast
from portal.organizations.invitation_mail import invitation_email_send, invitation_link, person_label
from portal.organizations.models import Invitation, Membership, Organization, Role
from portal.organizations.services import (
    INVITATION_LIFETIME,
    RelinkSent,
    invitation_create,
    invitation_token_hash,
    membership_relink_pending,
    membership_relink_send_again,
)


class AdminActionRefused(Exception):
    """A change the rules do not allow; the message is shown to the person as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _actor_role(*, organization: Organization, actor) -> Role:
    membership = Membership.objects.filter(organization=organization, user_id=getattr(actor, "pk", None)).first()
    if membership is None or not Role(membership.role).at_least(Role.ADMIN):
        raise AdminActionRefused(_("Only owners and admins of %(org)s may do that.") % {"org": organization.name})
    return Role(membership.role)


def _require_owner(role: Role, message: str) -> None:
    if role != Role.OWNER:
        raise AdminActionRefused(message)


# -- members ---------------------------------------------------------------------------------------


def _other_owners(membership: Membership) -> int:
    # Locking every owner row makes two owners demoting each other at once wait for one another.
    owners = list(
        Membership.objects.select_for_update().filter(organization_id=membership.organization_id, role=Role.OWNER)
    )
    return sum(1 for owner in owners if owner.pk != membership.pk)


def membership_role_change(
    *, organization: Organization, actor, membership_id: int, role: str, request=None
) -> Membership:
    new_role = Role(role)
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        membership = (
            Membership.objects.select_for_update()
            .select_related("user")
            .get(organization=organization, pk=membership_id)
        )
        old_role = Role(membership.role)
        if old_role == new_role:
            return membership
        if Role.OWNER in (old_role, new_role):
            _require_owner(actor_role, _("Only an owner may make someone an owner or change an owner's role."))
        if old_role == Role.OWNER and _other_owners(membership) == 0:
            raise AdminActionRefused(
                _("%(person)s is the last owner. Make someone else an owner first.")
                % {"person": person_label(membership.user)}
            )
        membership.role = new_role
        membership.save(update_fields=["role"])
        # Schedules that run as them stop lending their access if the new role may not manage schedules.
        export_schedules_check_person(organization=organization, user=membership.user)
        audit_record(
            organization=organization,
            action="member.role_changed",
            actor=actor,
            request=request,
            target=person_label(membership.user),
            details={"from": old_role.value, "to": new_role.value},
        )
        admin_change_broadcast(
            organization=organization,
            section="members",
            actor=actor,
            summary=_("changed the role of %(person)s") % {"person": person_label(membership.user)},
        )
    return membership


def membership_remove(*, organization: Organization, actor, membership_id: int, request=None) -> None:
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        membership = (
            Membership.objects.select_for_update()
            .select_related("user")
            .get(organization=organization, pk=membership_id)
        )
        if membership.role == Role.OWNER:
            _require_owner(actor_role, _("Only an owner may remove an owner."))
            if _other_owners(membership) == 0:
                raise AdminActionRefused(
                    _("%(person)s is the last owner and cannot be removed.") % {"person": person_label(membership.user)}
                )
        person = person_label(membership.user)
        # Their TMI tokens for this organisation go with them.
        TMIConnection.objects.filter(organization=organization, user_id=membership.user_id).delete()
        membership.delete()
        export_schedules_check_person(organization=organization, user=membership.user)  # theirs pause
        audit_record(
            organization=organization,
            action="member.removed",
            actor=actor,
            request=request,
            target=person,
            details={"role": membership.role},
        )
        admin_change_broadcast(
            organization=organization,
            section="members",
            actor=actor,
            summary=_("removed %(person)s") % {"person": person},
        )


# -- invitations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationSent:
    invitation: Invitation
    link: str  # the only copy of the token: shown to the admin once and emailed
    emailed: bool


def invitation_send(*, organization: Organization, actor, email: str, role: str, request=None) -> InvitationSent:
    """Invite by email: a link that expires, emailed and returned (to show once)."""
    role = Role(role)
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        if role == Role.OWNER:
            _require_owner(actor_role, _("Only an owner may invite an owner."))
        email = email.strip().lower()
        if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
            raise AdminActionRefused(_("%(email)s is already a member.") % {"email": email})
        # One pending invitation per address: a new one replaces the old, whose link stops working.
        Invitation.objects.filter(organization=organization, email__iexact=email, accepted_at__isnull=True).delete()
        invitation, token = invitation_create(organization=organization, email=email, role=role, invited_by=actor)
        audit_record(
            organization=organization,
            action="invitation.created",
            actor=actor,
            request=request,
            target=email,
            details={"role": role.value, "expires_at": invitation.expires_at.isoformat()},
        )
        admin_change_broadcast(
            organization=organization,
            section="invitations",
            actor=actor,
            summary=_("invited %(email)s") % {"email": email},
        )
    link = invitation_link(token, request)
    return InvitationSent(invitation, link, invitation_email_send(invitation=invitation, link=link, actor=actor))


def invitation_resend(*, organization: Organization, actor, invitation_id: int, request=None) -> InvitationSent:
    """A fresh link and expiry; the old link stops working (only the new token's hash is kept)."""
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        invitation = Invitation.objects.select_for_update().get(
            organization=organization, pk=invitation_id, accepted_at__isnull=True
        )
        if invitation.role == Role.OWNER:
            _require_owner(actor_role, _("Only an owner may invite an owner."))
        token = secrets.token_urlsafe(32)
        invitation.token_hash = invitation_token_hash(token)
        invitation.expires_at = timezone.now() + INVITATION_LIFETIME
        invitation.invited_by = actor
        invitation.save(update_fields=["token_hash", "expires_at", "invited_by"])
        audit_record(
            organization=organization,
            action="invitation.resent",
            actor=actor,
            request=request,
            target=invitation.email,
            details={"expires_at": invitation.expires_at.isoformat()},
        )
        admin_change_broadcast(
            organization=organization,
            section="invitations",
            actor=actor,
            summary=_("sent the invitation to %(email)s again") % {"email": invitation.email},
        )
    link = invitation_link(token, request)
    return InvitationSent(invitation, link, invitation_email_send(invitation=invitation, link=link, actor=actor))


def invitation_revoke(*, organization: Organization, actor, invitation_id: int, request=None) -> None:
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        invitation = Invitation.objects.select_for_update().get(
            organization=organization, pk=invitation_id, accepted_at__isnull=True
        )
        if invitation.role == Role.OWNER:
            _require_owner(actor_role, _("Only an owner may withdraw an invitation to become owner."))
        email = invitation.email
        invitation.delete()
        audit_record(organization=organization, action="invitation.revoked", actor=actor, request=request, target=email)
        admin_change_broadcast(
            organization=organization,
            section="invitations",
            actor=actor,
            summary=_("withdrew the invitation to %(email)s") % {"email": email},
        )


# -- organisation settings -------------------------------------------------------------------------


def _organization_locked(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def organization_domains_update(*, organization: Organization, actor, domains: list[str], request=None) -> Organization:
    with transaction.atomic():
        _actor_role(organization=organization, actor=actor)
        locked = _organization_locked(organization)
        before = list(locked.allowed_email_domains or [])
        locked.allowed_email_domains = list(domains)
        locked.full_clean()
        locked.save(update_fields=["allowed_email_domains"])
        audit_record(
            organization=locked,
            action="organization.domains_changed",
            actor=actor,
            request=request,
            target=", ".join(domains) or _("(none)"),
            details={"from": before, "to": list(domains)},
        )
        admin_change_broadcast(
            organization=locked,
            section="members",
            actor=actor,
            summary=_("changed the email domains that join automatically"),
        )
    return locked


MOVE_IS_A_FLOW = gettext_lazy(
    "A new TMI server address is a move: you sign in at the new server first, and only then is the "
    "address changed. Use Save on the TMI connection page to start it."
)


def organization_tmi_update(
    *, organization: Organization, actor, tmi_base_url: str, identity_providers: list[str], request=None
) -> Organization:
    """Which sign-in options the organisation's TMI server offers here. A new address is not saved here: it
    is a move (organization_tmi_move_check, then accounts/moving.py), or nobody could sign in any more."""
    tmi_base_url = tmi_base_url.strip().rstrip("/")
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        locked = _organization_locked(organization)
        if tmi_base_url != locked.tmi_base_url.rstrip("/"):
            _require_owner(actor_role, _("Only an owner may change the TMI server address."))
            raise AdminActionRefused(str(MOVE_IS_A_FLOW))
        before = {"tmi_base_url": locked.tmi_base_url, "identity_providers": list(locked.identity_providers or [])}
        locked.identity_providers = sorted(set(identity_providers))
        locked.full_clean()
        locked.save(update_fields=["identity_providers"])
        audit_record(
            organization=locked,
            action="organization.tmi_changed",
            actor=actor,
            request=request,
            target=locked.tmi_base_url,
            details={
                "from": before,
                "to": {"tmi_base_url": locked.tmi_base_url, "identity_providers": locked.identity_providers},
            },
        )
        admin_change_broadcast(organization=locked, section="tmi", actor=actor, summary=_("changed the TMI connection"))
    return locked


@dataclass(frozen=True)
class TMIMovePlan:
    """A move checked and ready for the owner to sign in at the new server; nothing is changed yet."""

    tmi_base_url: str
    identity_providers: list[str]  # those asked for that the new server offers; empty offers all of them
    generation: str
    summary: str  # the new server's check, in words
    members_to_relink: int


def organization_tmi_move_check(
    *, organization: Organization, actor, tmi_base_url: str, identity_providers: list[str]
) -> TMIMovePlan:
    """The first step of a move to another TMI server (accounts/moving.py): only owners; the address must be
    allowed by the operator (the form checks PORTAL_TMI_ALLOWED_SERVERS, and every connection does) and
    answer as a TMI server, as Test connection checks it (and within its allowance). Writes nothing."""
    from portal.tenant_admin.connection import rate_limited_report, tmi_server_check, tmi_test_allowance_take

    tmi_base_url = tmi_base_url.strip().rstrip("/")
    actor_role = _actor_role(organization=organization, actor=actor)
    _require_owner(actor_role, _("Only an owner may change the TMI server address."))
    if tmi_base_url == organization.tmi_base_url.rstrip("/"):
        raise AdminActionRefused(_("That is already the organisation's TMI server address."))
    if not tmi_test_allowance_take(organization_id=organization.pk, user_id=actor.pk):
        raise AdminActionRefused(rate_limited_report(tmi_base_url).summary)
    report = tmi_server_check(base_url=tmi_base_url)
    if not report.reachable:
        raise AdminActionRefused(
            _("The new address cannot be used: %(why)s Nothing was changed.") % {"why": report.summary}
        )
    offered = {provider_id for provider_id, _name in report.providers}
    return TMIMovePlan(
        tmi_base_url=tmi_base_url,
        identity_providers=sorted(set(identity_providers) & offered),
        generation=report.generation,
        summary=report.summary,
        members_to_relink=Membership.objects.filter(organization=organization).exclude(user=actor).count(),
    )


def membership_relink_resend(*, organization: Organization, actor, membership_id: int, request=None) -> RelinkSent:
    """Send a member who must re-link after a move a new link (the old one stops working). Owners and
    admins; an owner's only by an owner."""
    with transaction.atomic():
        actor_role = _actor_role(organization=organization, actor=actor)
        membership = Membership.objects.select_related("user", "organization").get(
            organization=organization, pk=membership_id
        )
        if membership.role == Role.OWNER:
            _require_owner(actor_role, _("Only an owner may send an owner a new link."))
        if not membership_relink_pending(organization_id=organization.pk, user_id=membership.user_id):
            raise AdminActionRefused(
                _("%(person)s does not need to link their account again.") % {"person": person_label(membership.user)}
            )
        sent = membership_relink_send_again(membership=membership, actor=actor, request=request)
        admin_change_broadcast(
            organization=organization,
            section="members",
            actor=actor,
            summary=_("sent %(person)s a new link to the new TMI server") % {"person": person_label(membership.user)},
        )
    return sent


def organization_client_credentials_set(
    *, organization: Organization, actor, client_id: str, client_secret: str, request=None
) -> Organization:
    with transaction.atomic():
        _actor_role(organization=organization, actor=actor)
        locked = _organization_locked(organization)
        locked.tmi_client_id = client_id.strip()
        locked.tmi_client_secret = client_secret
        locked.save(update_fields=["tmi_client_id", "tmi_client_secret"])
        # The id is not a secret; the secret never enters the log.
        audit_record(
            organization=locked,
            action="organization.credentials_set",
            actor=actor,
            request=request,
            target=locked.tmi_client_id,
        )
        admin_change_broadcast(
            organization=locked, section="tmi", actor=actor, summary=_("replaced the TMI client credentials")
        )
    return locked


def organization_client_credentials_clear(*, organization: Organization, actor, request=None) -> Organization:
    with transaction.atomic():
        _actor_role(organization=organization, actor=actor)
        locked = _organization_locked(organization)
        previous = locked.tmi_client_id
        locked.tmi_client_id = ""
        locked.tmi_client_secret = ""
        locked.save(update_fields=["tmi_client_id", "tmi_client_secret"])
        audit_record(
            organization=locked,
            action="organization.credentials_cleared",
            actor=actor,
            request=request,
            target=previous,
        )
        admin_change_broadcast(
            organization=locked, section="tmi", actor=actor, summary=_("removed the TMI client credentials")
        )
    return locked


def organization_branding_update(
    *,
    organization: Organization,
    actor,
    name: str,
    brand_colour: str,
    logo=None,
    remove_logo: bool = False,
    request=None,
) -> Organization:
    """`logo` is the re-encoded PNG that BrandingForm made of an upload (organizations/logo_images.py)."""
    with transaction.atomic():
        _actor_role(organization=organization, actor=actor)
        locked = _organization_locked(organization)
        before = {"name": locked.name, "brand_colour": locked.brand_colour, "logo": bool(locked.logo)}
        old_logo = locked.logo.name if locked.logo else ""
        locked.name = name.strip()
        locked.brand_colour = brand_colour.lower()
        if logo is not None:
            # A name of our own: the uploaded file name is the uploader's text.
            locked.logo.save(f"{locked.slug}-{secrets.token_hex(6)}.png", logo, save=False)
        elif remove_logo:
            locked.logo = ""
        locked.full_clean()
        locked.save(update_fields=["name", "brand_colour", "logo"])
        audit_record(
            organization=locked,
            action="organization.branding_changed",
            actor=actor,
            request=request,
            target=locked.name,
            details={
                "from": before,
                "to": {"name": locked.name, "brand_colour": locked.brand_colour, "logo": bool(locked.logo)},
            },
        )
        admin_change_broadcast(organization=locked, section="branding", actor=actor, summary=_("changed the branding"))
        if old_logo and old_logo != (locked.logo.name if locked.logo else ""):
            storage = locked.logo.storage
            transaction.on_commit(lambda: storage.delete(old_logo))
    return locked


def organization_tmi_test(*, organization: Organization, actor, base_url: str = "", request=None):
    """Check a TMI server (the saved one, or an address about to be saved) and log that it was checked.
    Over the minute's allowance nothing is checked or logged: the report says so."""
    from portal.tenant_admin.connection import (
        rate_limited_report,
        tmi_client_credentials_check,
        tmi_conformance_check,
        tmi_server_check,
        tmi_test_allowance_take,
    )

    _actor_role(organization=organization, actor=actor)
    base_url = (base_url or organization.tmi_base_url).strip()
    if not tmi_test_allowance_take(organization_id=organization.pk, user_id=actor.pk):
        return rate_limited_report(base_url)
    report = tmi_server_check(base_url=base_url)
    # The stored credentials and the admin's own TMI token belong to the saved server: try them only there.
    saved_server = base_url.rstrip("/") == organization.tmi_base_url.rstrip("/")
    if report.reachable and organization.tmi_client_id and saved_server:
        report = dataclasses.replace(
            report,
            credentials=tmi_client_credentials_check(
                base_url=base_url, client_id=organization.tmi_client_id, client_secret=organization.tmi_client_secret
            ),
        )
    if report.reachable and saved_server:
        checks, summary = tmi_conformance_check(organization=organization, user=actor, generation=report.generation)
        report = dataclasses.replace(report, checks=checks, checks_summary=summary)
    audit_record(
        organization=organization,
        action="organization.tmi_tested",
        actor=actor,
        request=request,
        target=report.base_url,
        details={
            "reachable": report.reachable,
            "problem": report.problem,
            "generation": report.generation,
            "version": report.version,
            "elapsed_ms": report.elapsed_ms,
            "credentials_work": report.credentials[0] if report.credentials else None,
            "checks_failed": [check.name for check in report.checks if check.outcome == "fail"],
        },
    )
    return report
