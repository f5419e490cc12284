"""The one resolver: URL slug + signed-in user -> (organisation, role), for views and sockets.

A foreign or unknown organisation, or too low a role, is `OrganizationNotFound` (404), so
tenants cannot be discovered by probing slugs.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.db import database_sync_to_async

from portal.organizations.models import Membership, Organization, Role
from portal.row_reads import row_get


class OrganizationNotFound(Exception):
    pass


@dataclass(frozen=True)
class OrganizationAccess:
    organization: Organization
    membership: Membership

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    def allows(self, minimum: Role) -> bool:
        return self.role.at_least(minimum)


def organization_access_resolve(*, slug: str, user, minimum_role: Role = Role.MEMBER) -> OrganizationAccess:
    if user is None or not user.is_authenticated:
        raise OrganizationNotFound(slug)
    # Two plain row reads, not one ORM join: on every page and socket (see row_reads).
    organization = row_get(Organization, slug=slug)
    membership = None if organization is None else row_get(Membership, organization=organization, user=user)
    if membership is None or not Role(membership.role).at_least(minimum_role):
        raise OrganizationNotFound(slug)
    membership.organization = organization
    return OrganizationAccess(organization=organization, membership=membership)


# Consumers' twin; it closes the worker thread's connection afterwards, as Channels does.
aorganization_access_resolve = database_sync_to_async(organization_access_resolve)


def organization_public_get(*, slug: str) -> Organization:
    """An organisation by slug for pages anyone may see (its sign-in page)."""
    organization = row_get(Organization, slug=slug)
    if organization is None:
        raise OrganizationNotFound(slug)
    return organization
