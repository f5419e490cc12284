"""After a move to another TMI server, the People page shows who has not yet linked their account there and
sends them a new link (the old one stops working). On the admin world's dead TMI: no sign-in happens here."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from portal.audit.models import AuditEvent
from portal.organizations.models import Membership, MembershipRelink
from portal.organizations.services import organization_tmi_switch
from tests.tenant_admin.conftest import DEAD_TMI, client_for

pytestmark = pytest.mark.django_db

NEW_DEAD_TMI = "http://127.0.0.1:7"  # also nothing listening: the re-link page says TMI is not answering


@pytest.fixture
def moved(world):
    """acme moved by its owner; everyone else must re-link. Their first links are returned by person."""
    _org, issued = organization_tmi_switch(
        organization=world.acme,
        actor=world.users["owner"],
        tmi_base_url=NEW_DEAD_TMI,
        identity_providers=[],
        kept_user=world.users["owner"],
        expected_base_url=DEAD_TMI,
    )
    return {relink.membership.user.username: token for relink, token in issued}


LINK = re.compile(r"/relink/[A-Za-z0-9_-]{20,}/")  # a link with its token (the "send again" forms have none)


def path_in(body: str) -> str:
    return re.search(r"/relink/[^/\s]+/", body).group(0)


def test_the_people_page_shows_who_must_relink_and_sends_them_a_new_link(world, moved):
    admin = client_for(world.users["admin"])
    page = admin.get("/o/acme/admin/").content.decode()
    assert page.count("must link their account at the new TMI server") == 3  # bob, dave and erin: all but alice
    dave = Membership.objects.get(organization=world.acme, user=world.users["member"])
    first = f"/relink/{moved['dave']}/"
    assert client_for(None).get(first).status_code == 503  # valid: the new server just does not answer

    sent = admin.post(f"/o/acme/admin/members/{dave.pk}/relink/", follow=True)
    shown = sent.content.decode()
    assert "A new link was emailed to dave@example.com; the old one no longer works." in shown
    [email] = mail.outbox
    # Only dave's mailbox holds it: whoever follows it becomes dave, in every organisation he belongs to.
    assert email.to == ["dave@example.com"] and not LINK.search(shown)
    assert client_for(None).get(first).status_code == 404  # the old link stopped working
    assert client_for(None).get(path_in(email.body)).status_code == 503
    row = AuditEvent.objects.get(action="member.relink_sent")
    assert row.actor == world.users["admin"] and row.target == "dave@example.com"


def test_no_new_link_for_someone_who_need_not_relink_or_of_another_organisation(world, moved):
    owner = client_for(world.users["owner"])
    owners = Membership.objects.get(organization=world.acme, user=world.users["owner"])
    refused = owner.post(f"/o/acme/admin/members/{owners.pk}/relink/", follow=True)
    assert "does not need to link their account again" in refused.content.decode()
    assert (
        client_for(world.users["admin"])
        .post(f"/o/acme/admin/members/{world.foreign_membership.pk}/relink/")
        .status_code
        == 404
    )
    assert client_for(world.users["member"]).post(f"/o/acme/admin/members/{owners.pk}/relink/").status_code == 404
    assert not mail.outbox and not AuditEvent.objects.filter(action="member.relink_sent").exists()
    assert MembershipRelink.objects.filter(used_at__isnull=True).count() == 3


def test_a_link_that_could_not_be_emailed_is_not_shown_either(world, moved, settings):
    settings.EMAIL_BACKEND = "tests.tenant_admin.broken_mail.BrokenBackend"
    dave = Membership.objects.get(organization=world.acme, user=world.users["member"])
    page = client_for(world.users["owner"]).post(f"/o/acme/admin/members/{dave.pk}/relink/", follow=True)
    html = page.content.decode()
    assert "The email to dave@example.com could not be sent" in html and not LINK.search(html)
    assert client_for(None).get(f"/relink/{moved['dave']}/").status_code == 404  # replaced all the same
