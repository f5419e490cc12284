import pytest
from django.contrib.auth.models import AnonymousUser

from portal.organizations.access import (
    OrganizationNotFound,
    aorganization_access_resolve,
    organization_access_resolve,
)
from portal.organizations.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_user(django_user_model):
    def make(username: str):
        return django_user_model.objects.create_user(username=username, email=f"{username}@example.com")

    return make


@pytest.fixture
def organization(db):
    from portal.organizations.models import Organization

    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url="http://127.0.0.1:8080")


@pytest.fixture
def other_organization(db):
    from portal.organizations.models import Organization

    return Organization.objects.create(name="Globex", slug="globex", tmi_base_url="http://127.0.0.1:8081")


@pytest.fixture
def member_of(make_user):
    def make(organization, role: Role, username: str):
        user = make_user(username)
        organization.memberships.create(user=user, role=role)
        return user

    return make


def test_a_member_resolves_to_the_organisation_and_role(organization, member_of):
    alice = member_of(organization, Role.ADMIN, "alice")
    access = organization_access_resolve(slug="acme", user=alice)
    assert access.organization == organization
    assert access.role is Role.ADMIN
    assert access.allows(Role.MEMBER) and access.allows(Role.ADMIN) and not access.allows(Role.OWNER)


@pytest.mark.parametrize("slug", ["globex", "nope"])
def test_a_foreign_or_unknown_organisation_is_not_found(organization, other_organization, member_of, slug):
    alice = member_of(organization, Role.OWNER, "alice")
    with pytest.raises(OrganizationNotFound):
        organization_access_resolve(slug=slug, user=alice)


def test_anonymous_users_resolve_nothing(organization):
    with pytest.raises(OrganizationNotFound):
        organization_access_resolve(slug="acme", user=AnonymousUser())


def test_too_low_a_role_looks_the_same_as_no_organisation(organization, member_of):
    bob = member_of(organization, Role.MEMBER, "bob")
    with pytest.raises(OrganizationNotFound):
        organization_access_resolve(slug="acme", user=bob, minimum_role=Role.ADMIN)


def test_one_user_may_belong_to_several_organisations(organization, other_organization, member_of):
    carol = member_of(organization, Role.MEMBER, "carol")
    other_organization.memberships.create(user=carol, role=Role.OWNER)
    assert organization_access_resolve(slug="acme", user=carol).role is Role.MEMBER
    assert organization_access_resolve(slug="globex", user=carol).role is Role.OWNER


@pytest.mark.django_db(transaction=True)
async def test_the_async_twin_resolves_for_consumers(organization, member_of):
    from channels.db import database_sync_to_async

    dave = await database_sync_to_async(member_of)(organization, Role.OWNER, "dave")
    access = await aorganization_access_resolve(slug="acme", user=dave)
    assert access.role is Role.OWNER
