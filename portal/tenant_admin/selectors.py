"""Reads for the admin pages: members with their sign-in state, pending invitations, health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from portal.accounts.models import TMIConnection
from portal.audit.models import AuditEvent
from portal.organizations.models import Invitation, Membership, MembershipRelink, Organization, Role


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    name: str
    email: str
    role: Role
    joined_at: datetime
    last_sign_in: datetime | None
    tmi_state: str  # "ok" | "sign_in_again" | "never" | "relink" (must link their account at the new TMI server)


def members_list(*, organization: Organization) -> list[MemberRow]:
    memberships = list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__email", "user__username")
    )
    user_ids = [m.user_id for m in memberships]
    connections = {c.user_id: c for c in TMIConnection.objects.filter(organization=organization, user_id__in=user_ids)}
    relinking = set(
        MembershipRelink.objects.filter(membership__organization=organization, used_at__isnull=True).values_list(
            "membership__user_id", flat=True
        )
    )
    last_sign_ins = dict(
        AuditEvent.objects.filter(organization=organization, action="auth.sign_in", actor_id__in=user_ids)
        .values("actor_id")
        .annotate(last=Max("created_at"))
        .values_list("actor_id", "last")
    )
    rows = []
    for membership in memberships:
        user = membership.user
        connection = connections.get(user.pk)
        state = "never" if connection is None else ("sign_in_again" if connection.needs_sign_in else "ok")
        if user.pk in relinking:
            state = "relink"
        rows.append(
            MemberRow(
                membership,
                user.get_full_name() or (connection.display_name if connection else "") or user.get_username(),
                user.email,
                Role(membership.role),
                membership.created_at,
                last_sign_ins.get(user.pk),
                state,
            )
        )
    rank = {Role.OWNER: 0, Role.ADMIN: 1, Role.MEMBER: 2}
    return sorted(rows, key=lambda row: (rank[row.role], row.email.lower()))


def invitations_pending_list(*, organization: Organization) -> list[Invitation]:
    """Invitations not yet accepted, expired ones included (they can be sent again or withdrawn)."""
    return list(
        Invitation.objects.filter(organization=organization, accepted_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def membership_get(*, organization: Organization, membership_id: int) -> Membership:
    """Raises Membership.DoesNotExist for another organisation's id (views answer 404)."""
    return Membership.objects.select_related("user").get(organization=organization, pk=membership_id)


def members_needing_sign_in(*, organization: Organization) -> list[Membership]:
    user_ids = TMIConnection.objects.filter(organization=organization, needs_sign_in=True).values("user_id")
    return list(Membership.objects.filter(organization=organization, user_id__in=user_ids).select_related("user"))


def schedule_owners_needing_sign_in(*, organization: Organization) -> list[tuple[object, object]]:
    """(schedule, owner) for this organisation's report schedules that cannot run until the owner signs in again."""
    from portal.exports.selectors import export_schedule_blocked, export_schedules_list

    return [
        (schedule, schedule.owner)
        for schedule in export_schedules_list(organization=organization)
        if export_schedule_blocked(schedule=schedule)
    ]
