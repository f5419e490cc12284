"""The move itself (organizations.services.organization_tmi_switch): what changes, what goes, who must re-link;
and the platform operator's move in Django admin, the repair path when no owner can sign in at the old server.
No TMI is called here: the sign-in flows are in tests/accounts/test_tmi_move.py."""

from __future__ import annotations

from datetime import time

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_connection_store
from portal.audit.models import AuditEvent
from portal.exports.models import ExportSchedule, PauseReason
from portal.exports.schedules import export_schedule_create
from portal.organizations.models import Membership, MembershipRelink, Organization, Role
from portal.organizations.services import (
    OrganizationMovedMeanwhile,
    membership_relink_claim,
    membership_relink_pending,
    membership_relink_problem,
    membership_relinks_send,
    organization_tmi_switch,
)
from portal.tmi import TokenPair
from tests.organizations.admin_forms import organization_admin_form

OLD = "https://tmi.initech.test"
NEW = "https://tmi-new.initech.test"


@pytest.fixture
def initech(db, django_user_model):
    """Initech on OLD: olga (owner), adam (admin, with a schedule), mia (member); everyone holds tokens."""
    org = Organization.objects.create(
        name="Initech", slug="initech", tmi_base_url=OLD, tmi_client_id="cc-id", tmi_client_secret="cc-secret"
    )
    people = {}
    for name, role in (("olga", Role.OWNER), ("adam", Role.ADMIN), ("mia", Role.MEMBER)):
        user = django_user_model.objects.create(username=name, email=f"{name}@initech.test")
        Membership.objects.create(organization=org, user=user, role=role)
        tmi_connection_store(
            organization=org,
            user=user,
            provider="tmi",
            subject=name,
            tokens=TokenPair(access_token=f"old-{name}", refresh_token=f"old-r-{name}", expires_in=3600),
        )
        people[name] = user
    export_schedule_create(
        organization=org,
        actor=people["adam"],
        name="Adam's weekly",
        kind="portfolio",
        frequency="weekly",
        weekday=0,
        time_of_day=time(7, 0),
        timezone="UTC",
        recipients=["mia@initech.test"],
    )
    return org, people


@pytest.mark.django_db(transaction=True)
def test_a_move_keeps_the_owner_who_linked_and_asks_everyone_else_to_relink(initech):
    org, people = initech
    moved, issued = organization_tmi_switch(
        organization=org,
        actor=people["olga"],
        tmi_base_url=NEW + "/",
        identity_providers=["tmi"],
        kept_user=people["olga"],
    )
    assert moved.tmi_base_url == NEW and moved.identity_providers == ["tmi"]
    assert (moved.tmi_client_id, moved.tmi_client_secret) == ("", "")  # the old server's secret goes too
    assert not TMIConnection.objects.filter(organization=org).exists()  # old-server tokens are never reused
    assert sorted(relink.membership.user.username for relink, _token in issued) == ["adam", "mia"]
    assert not membership_relink_pending(organization_id=org.pk, user_id=people["olga"].pk)
    assert membership_relink_pending(organization_id=org.pk, user_id=people["adam"].pk)
    schedule = ExportSchedule.objects.get(organization=org)
    assert schedule.paused and schedule.pause_reason == PauseReason.RELINK
    moved_row = AuditEvent.objects.get(organization=org, action="organization.tmi_moved")
    assert moved_row.details["client_credentials_removed"] is True and moved_row.details["from"] == OLD
    assert "cc-secret" not in str(moved_row.details)

    def relink_mails():
        return [m for m in mail.outbox if "moved to a new TMI server" in m.subject]

    # The owners were told that adam's schedule paused; the re-links are sent by the caller, once committed.
    assert [m.to for m in mail.outbox] == [["olga@initech.test"]] and "Adam's weekly" in mail.outbox[0].body
    sent = membership_relinks_send(issued, actor=people["olga"])
    assert all(s.emailed for s in sent)
    assert sorted(m.to[0] for m in relink_mails()) == ["adam@initech.test", "mia@initech.test"]
    assert NEW in relink_mails()[0].body and "/relink/" in relink_mails()[0].body
    # Single use: a second claim of the same re-link gets nothing; a claim for someone else neither.
    adams = MembershipRelink.objects.get(membership__user=people["adam"])
    assert membership_relink_claim(relink_id=adams.pk, user_id=people["mia"].pk) is None
    assert membership_relink_claim(relink_id=adams.pk, user_id=people["adam"].pk) is not None
    assert membership_relink_claim(relink_id=adams.pk, user_id=people["adam"].pk) is None


@pytest.mark.django_db(transaction=True)
def test_a_move_from_an_address_that_changed_meanwhile_changes_nothing(initech):
    org, people = initech
    with pytest.raises(OrganizationMovedMeanwhile):
        organization_tmi_switch(
            organization=org,
            actor=people["olga"],
            tmi_base_url=NEW,
            identity_providers=[],
            kept_user=people["olga"],
            expected_base_url="https://somewhere-else.test",
        )
    assert Organization.objects.get(pk=org.pk).tmi_base_url == OLD
    assert TMIConnection.objects.filter(organization=org).count() == 3
    assert not MembershipRelink.objects.exists() and not ExportSchedule.objects.get().paused


@pytest.mark.django_db
def test_a_relink_goes_stale_when_the_organisation_moves_again_and_expires(initech):
    org, people = initech
    _moved, issued = organization_tmi_switch(
        organization=org, actor=people["olga"], tmi_base_url=NEW, identity_providers=[], kept_user=people["olga"]
    )
    relink = MembershipRelink.objects.get(membership__user=people["mia"])
    assert membership_relink_problem(relink) == ""
    Organization.objects.filter(pk=org.pk).update(tmi_base_url="https://third.initech.test")
    assert membership_relink_problem(MembershipRelink.objects.get(pk=relink.pk)) == "stale"
    Organization.objects.filter(pk=org.pk).update(tmi_base_url=NEW)
    MembershipRelink.objects.filter(pk=relink.pk).update(expires_at=timezone.now())
    assert membership_relink_problem(MembershipRelink.objects.get(pk=relink.pk)) == "expired"
    assert membership_relink_problem(None) == "unknown"


@pytest.mark.django_db
def test_an_operator_moving_it_in_django_admin_asks_every_member_to_relink(initech, admin_client):
    org, people = initech
    memberships = list(Membership.objects.filter(organization=org).order_by("pk"))
    form = organization_admin_form(
        tmi_base_url=NEW,
        tmi_client_id="cc-id",
        **{"memberships-TOTAL_FORMS": str(len(memberships)), "memberships-INITIAL_FORMS": str(len(memberships))},
    )
    for i, membership in enumerate(memberships):
        form.update(
            {
                f"memberships-{i}-id": str(membership.pk),
                f"memberships-{i}-organization": str(org.pk),
                f"memberships-{i}-user": str(membership.user_id),
                f"memberships-{i}-role": membership.role,
            }
        )
    done = admin_client.post(reverse("admin:organizations_organization_change", args=[org.pk]), form, follow=True)
    assert done.status_code == 200, done.content.decode()[:3000]
    assert "3 member(s) were sent a link" in done.content.decode()
    org.refresh_from_db()
    assert org.tmi_base_url == NEW and not org.tmi_client_secret
    assert not TMIConnection.objects.filter(organization=org).exists()
    assert MembershipRelink.objects.filter(membership__organization=org, used_at__isnull=True).count() == 3
    relinks = [m.to[0] for m in mail.outbox if "moved to a new TMI server" in m.subject]
    assert sorted(relinks) == ["adam@initech.test", "mia@initech.test", "olga@initech.test"]
