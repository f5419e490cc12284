"""The admin services: role rules, the last owner, invitations, settings, and the audit row each writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.selectors import invitation_by_token_get
from portal.accounts.vault import tmi_connection_store
from portal.audit.models import AuditEvent
from portal.organizations.models import Invitation, Membership, Organization, Role
from portal.organizations.services import invitation_is_pending, membership_admission_find
from portal.tenant_admin import services
from portal.tenant_admin.services import AdminActionRefused
from portal.tmi import TokenPair

pytestmark = pytest.mark.django_db


def membership_of(org, user) -> Membership:
    return Membership.objects.get(organization=org, user=user)


def token_in(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


# -- the last owner and who may do what ------------------------------------------------------------


def test_the_last_owner_cannot_be_demoted(world):
    owner = world.users["owner"]
    with pytest.raises(AdminActionRefused, match="last owner"):
        services.membership_role_change(
            organization=world.acme, actor=owner, membership_id=membership_of(world.acme, owner).pk, role="admin"
        )
    assert membership_of(world.acme, owner).role == Role.OWNER
    assert not AuditEvent.objects.filter(action="member.role_changed").exists()


def test_the_last_owner_cannot_be_removed(world):
    owner = world.users["owner"]
    with pytest.raises(AdminActionRefused, match="last owner"):
        services.membership_remove(
            organization=world.acme, actor=owner, membership_id=membership_of(world.acme, owner).pk
        )
    assert Membership.objects.filter(organization=world.acme, user=owner).exists()


def test_with_a_second_owner_the_first_may_step_down(world):
    owner, admin = world.users["owner"], world.users["admin"]
    services.membership_role_change(
        organization=world.acme, actor=owner, membership_id=membership_of(world.acme, admin).pk, role="owner"
    )
    services.membership_role_change(
        organization=world.acme, actor=owner, membership_id=membership_of(world.acme, owner).pk, role="member"
    )
    assert membership_of(world.acme, owner).role == Role.MEMBER
    assert membership_of(world.acme, admin).role == Role.OWNER
    # ...and now bob is the last owner.
    with pytest.raises(AdminActionRefused, match="last owner"):
        services.membership_remove(
            organization=world.acme, actor=admin, membership_id=membership_of(world.acme, admin).pk
        )


@pytest.mark.parametrize("change", ["make_owner", "demote_owner", "remove_owner", "invite_owner"])
def test_only_owners_touch_ownership(world, change):
    admin, owner = world.users["admin"], world.users["owner"]
    # A second owner, so the last-owner rule is not what refuses.
    second = Membership.objects.create(
        organization=world.acme,
        role=Role.OWNER,
        user=type(owner).objects.create(username="olga", email="olga@example.com"),
    )
    calls = {
        "make_owner": lambda: services.membership_role_change(
            organization=world.acme, actor=admin, membership_id=world.target.pk, role="owner"
        ),
        "demote_owner": lambda: services.membership_role_change(
            organization=world.acme, actor=admin, membership_id=second.pk, role="member"
        ),
        "remove_owner": lambda: services.membership_remove(
            organization=world.acme, actor=admin, membership_id=second.pk
        ),
        "invite_owner": lambda: services.invitation_send(
            organization=world.acme, actor=admin, email="boss@example.com", role="owner"
        ),
    }
    with pytest.raises(AdminActionRefused, match="Only an owner"):
        calls[change]()
    assert Membership.objects.filter(organization=world.acme, role=Role.OWNER).count() == 2
    assert not Invitation.objects.filter(email="boss@example.com").exists()
    assert not AuditEvent.objects.exclude(action__startswith="auth.").exists()


def test_admins_manage_members_and_admins(world):
    admin = world.users["admin"]
    services.membership_role_change(organization=world.acme, actor=admin, membership_id=world.target.pk, role="admin")
    assert Membership.objects.get(pk=world.target.pk).role == Role.ADMIN
    services.membership_remove(organization=world.acme, actor=admin, membership_id=world.target.pk)
    assert not Membership.objects.filter(pk=world.target.pk).exists()


def test_the_service_itself_refuses_plain_members_and_strangers(world):
    for actor in (world.users["member"], world.users["outsider"]):
        with pytest.raises(AdminActionRefused):
            services.membership_role_change(
                organization=world.acme, actor=actor, membership_id=world.target.pk, role="admin"
            )
        with pytest.raises(AdminActionRefused):
            services.invitation_send(organization=world.acme, actor=actor, email="x@example.com", role="member")
        with pytest.raises(AdminActionRefused):
            services.organization_branding_update(
                organization=world.acme, actor=actor, name="Evil", brand_colour="#000000"
            )
    assert Membership.objects.get(pk=world.target.pk).role == Role.MEMBER
    assert Organization.objects.get(pk=world.acme.pk).name == "Acme"


def test_removing_a_member_drops_their_tmi_tokens_here(world):
    user = world.target.user
    tmi_connection_store(
        organization=world.acme,
        user=user,
        provider="tmi",
        subject="erin",
        tokens=TokenPair(access_token="a", refresh_token="r", expires_in=3600),
    )
    services.membership_remove(organization=world.acme, actor=world.users["owner"], membership_id=world.target.pk)
    assert not TMIConnection.objects.filter(organization=world.acme, user=user).exists()


# -- invitations -----------------------------------------------------------------------------------


def test_an_invitation_is_emailed_with_a_link_that_expires(world):
    sent = services.invitation_send(
        organization=world.acme, actor=world.users["owner"], email=" Zoe@Example.com ", role="admin"
    )
    assert sent.emailed and len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["zoe@example.com"] and sent.link in message.body and "Acme" in message.subject
    found = invitation_by_token_get(token=token_in(sent.link))
    assert found == sent.invitation and found.role == Role.ADMIN
    assert timedelta(days=6) < found.expires_at - timezone.now() <= timedelta(days=7)
    # Once expired, the link admits nobody.
    found.expires_at = timezone.now() - timedelta(minutes=1)
    found.save()
    assert not invitation_is_pending(found)
    assert membership_admission_find(organization=world.acme, user=None, email="zoe@example.com") is None


def test_sending_again_gives_a_new_link_and_kills_the_old(world):
    first = services.invitation_send(
        organization=world.acme, actor=world.users["owner"], email="zoe@example.com", role="member"
    )
    Invitation.objects.filter(pk=first.invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    again = services.invitation_resend(
        organization=world.acme, actor=world.users["admin"], invitation_id=first.invitation.pk
    )
    assert invitation_by_token_get(token=token_in(first.link)) is None
    renewed = invitation_by_token_get(token=token_in(again.link))
    assert renewed.pk == first.invitation.pk and invitation_is_pending(renewed)
    assert len(mail.outbox) == 2


def test_withdrawing_an_invitation_kills_its_link(world):
    sent = services.invitation_send(
        organization=world.acme, actor=world.users["owner"], email="zoe@example.com", role="member"
    )
    services.invitation_revoke(organization=world.acme, actor=world.users["admin"], invitation_id=sent.invitation.pk)
    assert invitation_by_token_get(token=token_in(sent.link)) is None


def test_inviting_a_member_is_refused_and_a_new_invitation_replaces_an_old_one(world):
    with pytest.raises(AdminActionRefused, match="already a member"):
        services.invitation_send(
            organization=world.acme, actor=world.users["owner"], email="ERIN@example.com", role="member"
        )
    one = services.invitation_send(
        organization=world.acme, actor=world.users["owner"], email="zoe@example.com", role="member"
    )
    two = services.invitation_send(
        organization=world.acme, actor=world.users["owner"], email="zoe@example.com", role="admin"
    )
    assert list(Invitation.objects.filter(email="zoe@example.com").values_list("pk", flat=True)) == [two.invitation.pk]
    assert invitation_by_token_get(token=token_in(one.link)) is None


def test_a_failing_mail_server_still_gives_the_admin_the_link(world, settings):
    settings.EMAIL_BACKEND = "tests.tenant_admin.broken_mail.BrokenBackend"
    sent = services.invitation_send(
        organization=world.acme, actor=world.users["owner"], email="zoe@example.com", role="member"
    )
    assert not sent.emailed
    assert invitation_by_token_get(token=token_in(sent.link)) == sent.invitation


# -- organisation settings -------------------------------------------------------------------------


def test_the_client_secret_is_encrypted_at_rest_and_can_be_cleared(world):
    services.organization_client_credentials_set(
        organization=world.acme, actor=world.users["admin"], client_id="portal-jobs", client_secret="very-secret-value"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT tmi_client_secret FROM organizations_organization WHERE id = %s", [world.acme.pk])
        raw = cursor.fetchone()[0]
    assert raw and "very-secret-value" not in raw
    assert Organization.objects.get(pk=world.acme.pk).tmi_client_secret == "very-secret-value"
    event = AuditEvent.objects.get(action="organization.credentials_set")
    assert "very-secret-value" not in f"{event.target} {event.details}"
    services.organization_client_credentials_clear(organization=world.acme, actor=world.users["admin"])
    cleared = Organization.objects.get(pk=world.acme.pk)
    assert not cleared.tmi_client_id and not cleared.tmi_client_secret


def test_a_new_tmi_address_is_a_move_for_owners_never_a_plain_save(world):
    """A new address saved as it was locked everyone out (issue 14, section 3 item 1): it is a move now, started
    by an owner and made only once they signed in at the new server (tests/accounts/test_tmi_move.py)."""
    tmi_connection_store(
        organization=world.acme,
        user=world.users["member"],
        provider="tmi",
        subject="dave",
        tokens=TokenPair(access_token="a", refresh_token="r", expires_in=3600),
    )
    with pytest.raises(AdminActionRefused, match="Only an owner"):
        services.organization_tmi_update(
            organization=world.acme,
            actor=world.users["admin"],
            tmi_base_url="https://tmi.example.com",
            identity_providers=[],
        )
    with pytest.raises(AdminActionRefused, match="is a move"):
        services.organization_tmi_update(
            organization=world.acme,
            actor=world.users["owner"],
            tmi_base_url="https://tmi.example.com/",
            identity_providers=["tmi"],
        )
    with pytest.raises(AdminActionRefused, match="Only an owner"):
        services.organization_tmi_move_check(
            organization=world.acme,
            actor=world.users["admin"],
            tmi_base_url="https://tmi.example.com",
            identity_providers=[],
        )
    org = Organization.objects.get(pk=world.acme.pk)
    assert org.tmi_base_url == world.acme.tmi_base_url and org.identity_providers == []
    assert not TMIConnection.objects.get(user=world.users["member"]).needs_sign_in
    # Admins may still choose which providers to offer on the same server.
    services.organization_tmi_update(
        organization=world.acme,
        actor=world.users["admin"],
        tmi_base_url=world.acme.tmi_base_url + "/",
        identity_providers=["tmi", "github"],
    )
    assert Organization.objects.get(pk=world.acme.pk).identity_providers == ["github", "tmi"]
    assert not TMIConnection.objects.get(user=world.users["member"]).needs_sign_in


def test_domains_are_saved_as_given(world):
    services.organization_domains_update(
        organization=world.acme, actor=world.users["admin"], domains=["example.org", "acme.test"]
    )
    assert Organization.objects.get(pk=world.acme.pk).allowed_email_domains == ["example.org", "acme.test"]


# -- every action writes its audit row -------------------------------------------------------------


def _actions(world, request):
    owner, admin = world.users["owner"], world.users["admin"]
    acme = world.acme
    return {
        "invitation.created": lambda: services.invitation_send(
            organization=acme, actor=admin, request=request, email="zoe@example.com", role="member"
        ),
        "invitation.resent": lambda: services.invitation_resend(
            organization=acme, actor=admin, request=request, invitation_id=world.invitation.pk
        ),
        "invitation.revoked": lambda: services.invitation_revoke(
            organization=acme, actor=admin, request=request, invitation_id=world.invitation.pk
        ),
        "member.role_changed": lambda: services.membership_role_change(
            organization=acme, actor=admin, request=request, membership_id=world.target.pk, role="admin"
        ),
        "member.removed": lambda: services.membership_remove(
            organization=acme, actor=admin, request=request, membership_id=world.target.pk
        ),
        "organization.domains_changed": lambda: services.organization_domains_update(
            organization=acme, actor=admin, request=request, domains=["example.org"]
        ),
        "organization.tmi_changed": lambda: services.organization_tmi_update(
            organization=acme,
            actor=owner,
            request=request,
            tmi_base_url=acme.tmi_base_url,
            identity_providers=["tmi"],
        ),
        "organization.credentials_set": lambda: services.organization_client_credentials_set(
            organization=acme, actor=admin, request=request, client_id="id", client_secret="secret"
        ),
        "organization.credentials_cleared": lambda: services.organization_client_credentials_clear(
            organization=acme, actor=admin, request=request
        ),
        "organization.branding_changed": lambda: services.organization_branding_update(
            organization=acme, actor=admin, request=request, name="Acme Ltd", brand_colour="#ABCDEF"
        ),
        "organization.tmi_tested": lambda: services.organization_tmi_test(
            organization=acme, actor=admin, request=request
        ),
    }


ACTIONS = [
    "invitation.created",
    "invitation.resent",
    "invitation.revoked",
    "member.role_changed",
    "member.removed",
    "organization.domains_changed",
    "organization.tmi_changed",
    "organization.credentials_set",
    "organization.credentials_cleared",
    "organization.branding_changed",
    "organization.tmi_tested",
]


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_writes_one_audit_row_with_who_and_from_where(world, action, rf):
    request = rf.post("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="pytest-browser")
    before = AuditEvent.objects.count()
    _actions(world, request)[action]()
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.action == action and event.organization == world.acme
    assert event.actor in (world.users["admin"], world.users["owner"]) and event.actor_label.endswith("@example.com")
    assert event.ip_address == "203.0.113.7" and event.user_agent == "pytest-browser"
