"""row_get reads a row as the ORM would: every field equal, converters applied, values bound, never guessed."""

from datetime import UTC, datetime

import pytest
from django.db import connection as db

from portal.accounts.models import TMIConnection
from portal.organizations.models import Membership, Organization, Role
from portal.row_reads import MultipleRows, row_get

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.fixture
def acme(db):
    return Organization.objects.create(
        name="Acme <Ltd>",
        slug="acme",
        tmi_base_url="http://127.0.0.1:8080",
        identity_providers=["tmi", "google"],
        allowed_email_domains=["acme.example"],
    )


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", email="alice@example.com")


@pytest.fixture
def connection(acme, alice):
    return TMIConnection.objects.create(
        organization=acme,
        user=alice,
        tmi_base_url="http://127.0.0.1:8080",
        provider="tmi",
        subject="alice-sub",
        access_token="access-é-secret",
        refresh_token="refresh-secret",
        expires_at=datetime(2026, 12, 5, 12, 30, 15, 123456, tzinfo=UTC),
        refresh_lease_until=None,
    )


def test_each_field_reads_as_the_orm_reads_it(acme, alice, connection):
    acme.memberships.create(user=alice, role=Role.ADMIN)
    read = row_get(Organization, slug="acme")
    assert type(read) is Organization and _fields(read) == _fields(Organization.objects.get(slug="acme"))
    assert read.identity_providers == ["tmi", "google"]  # JSON decoded, not a string
    membership = row_get(Membership, organization=acme, user=alice)
    assert _fields(membership) == _fields(Membership.objects.get(organization=acme, user=alice))
    token_row = row_get(TMIConnection, organization_id=acme.pk, user_id=alice.pk)
    assert _fields(token_row) == _fields(TMIConnection.objects.get(pk=connection.pk))
    # Decrypted and aware, on SQLite as on PostgreSQL: the backend's converters ran, not only the fields'.
    assert token_row.access_token == "access-é-secret"
    assert token_row.expires_at == datetime(2026, 12, 5, 12, 30, 15, 123456, tzinfo=UTC)
    assert token_row.expires_at.tzinfo is not None and token_row.refresh_lease_until is None
    assert token_row._state.adding is False and token_row._state.db == "default"


def test_no_row_is_none_and_values_are_bound_not_spliced(acme, alice):
    assert row_get(Organization, slug="globex") is None
    assert row_get(Organization, slug="acme' OR '1'='1") is None
    assert row_get(Membership, organization=acme, user=alice) is None
    assert Organization.objects.filter(slug="acme").exists()  # nothing dropped or changed by the hostile slug


def test_two_rows_for_a_lookup_are_an_error_not_a_guess(acme, alice, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.com")
    acme.memberships.create(user=alice, role=Role.MEMBER)
    acme.memberships.create(user=bob, role=Role.MEMBER)
    with pytest.raises(MultipleRows, match="2 organizations.Membership rows"):
        row_get(Membership, organization=acme, role=Role.MEMBER)


def test_a_read_is_one_query(acme, alice, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        row_get(Organization, slug="acme")
    sql = captured.captured_queries[0]["sql"]
    assert "JOIN" not in sql and db.ops.quote_name("organizations_organization") in sql
