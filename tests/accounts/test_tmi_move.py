"""Moving an organisation to another TMI server without locking everyone out (issue 14, section 3 item 1;
portal/accounts/moving.py). Two real sandboxes over real sockets play the old and the new TMI server, in both
generations. The new server says `email_verified: true` for everyone, and one of its users (mallory) claims
bob's email: it still vouches for nobody.
"""

from __future__ import annotations

import re
from datetime import time
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.messages import get_messages
from django.core import mail
from social_django.models import UserSocialAuth

from portal.accounts.errors import RELINK_UNKNOWN, SignInError
from portal.accounts.models import TMIConnection
from portal.accounts.pipeline import _relinker
from portal.audit.models import AuditEvent
from portal.exports.models import ExportSchedule, PauseReason
from portal.exports.schedules import export_schedule_create
from portal.organizations.models import Membership, MembershipRelink, Organization, Role
from portal.organizations.services import invitation_create, invitation_token_hash
from portal.tenant_admin.services import organization_branding_update
from portal.tmi import TMIClient, TokenPair
from tests.accounts.flow import portal_client, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = {"alice": "alice@acme.example", "bob": "bob@acme.example", "carol": "carol@acme.example"}
ROLES = {"alice": Role.OWNER, "bob": Role.ADMIN, "carol": Role.MEMBER}


@pytest.fixture
def old_tmi(sandbox_factory, generation):
    return sandbox_factory(generation, seed=None, test_idp_emails=PEOPLE)


@pytest.fixture
def new_tmi(sandbox_factory, generation):
    """The server acme moves to: it vouches for every email, and mallory there claims bob's."""
    return sandbox_factory(
        generation, seed=None, vouches_for_emails=True, test_idp_emails={**PEOPLE, "mallory": PEOPLE["bob"]}
    )


@pytest.fixture
def acme(db, old_tmi):
    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url=old_tmi.base_url)


@pytest.fixture
def people(acme, django_user_model):
    """alice (owner), bob (admin) and carol (member), each signed in through acme's (old) TMI in a browser of
    their own; alice and bob each have a schedule that runs with their own TMI access; acme has its branding."""
    browsers = {}
    for hint, role in ROLES.items():
        invitation_create(organization=acme, email=PEOPLE[hint], role=role)
        browsers[hint] = portal_client()
        assert sign_in(browsers[hint], acme, hint)["Location"] == "/o/acme/"
    users = {hint: django_user_model.objects.get(email=PEOPLE[hint]) for hint in ROLES}
    for hint in ("alice", "bob"):
        export_schedule_create(
            organization=acme,
            actor=users[hint],
            name=f"{hint}'s weekly portfolio",
            kind="portfolio",
            frequency="weekly",
            weekday=0,
            time_of_day=time(7, 0),
            timezone="UTC",
            recipients=[PEOPLE["carol"], PEOPLE[hint]],
        )
    organization_branding_update(organization=acme, actor=users["alice"], name="Acme Ltd", brand_colour="#aa3355")
    mail.outbox.clear()
    return users, browsers


def idp_at(base_url: str) -> str:
    with TMIClient(base_url) as client:
        return client.auth.test_provider().id


def through_tmi(browser, start_response):
    """Follow the portal's redirect to TMI's authorize URL, then TMI's back to the portal's callback."""
    assert start_response.status_code == 302, start_response.content.decode()[:2000]
    tmi = httpx.get(start_response["Location"], follow_redirects=False, timeout=10)
    assert tmi.status_code == 302, tmi.text
    parts = urlsplit(tmi.headers["location"])
    return f"{parts.path}?{parts.query}"


def move_start(browser, new_tmi):
    started = browser.post("/o/acme/admin/tmi/", {"tmi_base_url": new_tmi.base_url})
    assert started.status_code == 302 and started["Location"] == "/o/acme/admin/tmi/move/", started.content[:3000]
    return started


def move_sign_in(browser, new_tmi, hint: str):
    """Press "Sign in with …" on the move page and come back from the new server; returns the callback's answer."""
    start = browser.post("/o/acme/admin/tmi/move/", {"provider": idp_at(new_tmi.base_url), "login_hint": hint})
    return browser.get(through_tmi(browser, start))


def relink_path_for(email: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [email] and "moved to a new TMI server" in m.subject]
    link = re.search(r"https?://\S+/relink/\S+/", message.body).group(0)
    return urlsplit(link).path


def relink(browser, path: str, new_tmi, hint: str):
    assert browser.get(path).status_code == 200
    start = browser.post(path, {"provider": idp_at(new_tmi.base_url), "login_hint": hint})
    return browser.get(through_tmi(browser, start))


def signed_in_as(browser) -> str | None:
    return browser.session.get("_auth_user_id")


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def acme_snapshot(acme) -> dict:
    """What a move must not lose or change (the address, tokens and re-links aside)."""
    organization = Organization.objects.get(pk=acme.pk)
    return {
        "memberships": sorted(Membership.objects.filter(organization=acme).values_list("pk", "user_id", "role")),
        "schedules": sorted(
            ExportSchedule.objects.filter(organization=acme).values_list("pk", "name", "owner_id", "recipients")
        ),
        "branding": (organization.name, organization.brand_colour),
        "audit": sorted(AuditEvent.objects.filter(organization=acme).values_list("pk", "action", "actor_id")),
    }


def works_at(base_url: str, access_token: str) -> str:
    """The subject the server at `base_url` says the token is for (raises if it refuses it)."""
    with TMIClient(base_url, auth=TokenPair(access_token=access_token)) as client:
        return client.auth.userinfo().provider_id


def test_after_a_move_the_owner_and_two_members_are_back_in_and_nothing_is_lost(
    acme, people, old_tmi, new_tmi, django_user_model
):
    users, browsers = people
    before = acme_snapshot(acme)
    old_tokens = set(TMIConnection.objects.filter(organization=acme).values_list("access_token", flat=True))
    assert len(old_tokens) == 3

    # The owner moves acme, signing in at the new server in the same browser.
    move_start(browsers["alice"], new_tmi)
    page = browsers["alice"].get("/o/acme/admin/tmi/move/").content.decode()
    assert new_tmi.base_url in page and "The 2 other members are each emailed a link" in page
    assert Organization.objects.get(pk=acme.pk).tmi_base_url == old_tmi.base_url  # nothing yet
    done = move_sign_in(browsers["alice"], new_tmi, "alice")
    assert done.status_code == 302 and done["Location"] == "/o/acme/admin/tmi/move/", message_texts(done)
    result = browsers["alice"].get("/o/acme/admin/tmi/move/").content.decode()
    assert "The organisation has moved" in result and f"{PEOPLE['bob']}: emailed" in result
    assert signed_in_as(browsers["alice"]) == str(users["alice"].pk)
    assert Organization.objects.get(pk=acme.pk).tmi_base_url == new_tmi.base_url

    # Every old-server token is gone; the owner's new ones are the new server's.
    connections = list(TMIConnection.objects.filter(organization=acme))
    assert [c.user_id for c in connections] == [users["alice"].pk]
    assert works_at(new_tmi.base_url, connections[0].access_token) == "alice"
    assert not old_tokens & {c.access_token for c in connections}

    # bob's schedule waits for him, and the list says why; alice's runs on.
    schedules = {s.owner_id: s for s in ExportSchedule.objects.filter(organization=acme)}
    assert schedules[users["bob"].pk].paused and schedules[users["bob"].pk].pause_reason == PauseReason.RELINK
    assert not schedules[users["alice"].pk].paused
    listing = browsers["alice"].get("/o/acme/admin/schedules/").content.decode()
    assert "has not yet linked their account at the organisation&#x27;s new TMI server" in listing
    assert "must link their account at the new TMI server" in browsers["alice"].get("/o/acme/admin/").content.decode()

    # Signing in at the new server without the link admits nobody: bob's identity there is unknown.
    assert sign_in(portal_client(), acme, "bob").status_code == 403

    # bob and carol follow their links, each in a fresh browser, and are themselves again.
    for hint in ("bob", "carol"):
        browser = portal_client()
        back = relink(browser, relink_path_for(PEOPLE[hint]), new_tmi, hint)
        assert back.status_code == 302 and back["Location"] == "/o/acme/", message_texts(back)
        assert signed_in_as(browser) == str(users[hint].pk)
        assert browser.get("/o/acme/exports/").status_code == 200
        connection = TMIConnection.objects.get(organization=acme, user=users[hint])
        assert works_at(new_tmi.base_url, connection.access_token) == hint
        # Later, a plain sign-in at the new server is them.
        fresh = portal_client()
        assert sign_in(fresh, acme, hint)["Location"] == "/o/acme/" and signed_in_as(fresh) == str(users[hint].pk)
    bobs = ExportSchedule.objects.get(organization=acme, owner=users["bob"])
    assert not bobs.paused and bobs.pause_reason == ""

    # A stranger at the new server with bob's email, verified, gets nothing.
    people_before = django_user_model.objects.count()
    stranger = portal_client()
    refused = sign_in(stranger, acme, "mallory")
    assert refused.status_code == 403 and signed_in_as(stranger) is None
    assert django_user_model.objects.count() == people_before
    assert not UserSocialAuth.objects.filter(uid__endswith="#tmi:mallory").exists()
    assert not UserSocialAuth.objects.filter(uid__endswith=":mallory").exists()

    # Nothing lost: the same memberships and roles, schedules, branding and every earlier audit row.
    after = acme_snapshot(acme)
    assert after["memberships"] == before["memberships"]
    assert after["schedules"] == before["schedules"]
    assert after["branding"] == before["branding"] == ("Acme Ltd", "#aa3355")
    assert set(before["audit"]) <= set(after["audit"])
    moved = AuditEvent.objects.get(organization=acme, action="organization.tmi_moved")
    assert moved.actor == users["alice"] and moved.details["from"] == old_tmi.base_url
    assert sorted(moved.details["members_to_relink"]) == [PEOPLE["bob"], PEOPLE["carol"]]
    relinked = AuditEvent.objects.filter(organization=acme, action="member.relinked")
    assert sorted(relinked.values_list("actor_id", flat=True)) == sorted([users["bob"].pk, users["carol"].pk])
    assert AuditEvent.objects.filter(organization=acme, action="schedule.resumed_automatically").count() == 1


def test_abandoning_a_move_changes_nothing(acme, people, new_tmi):
    users, browsers = people
    owner = browsers["alice"]

    def everything():
        return (
            acme_snapshot(acme),
            Organization.objects.filter(pk=acme.pk).values().get(),
            sorted(TMIConnection.objects.filter(organization=acme).values_list("user_id", "access_token")),
            list(MembershipRelink.objects.all()),
            sorted(UserSocialAuth.objects.values_list("user_id", "uid")),
        )

    before = everything()
    # Started, then cancelled on the move page.
    move_start(owner, new_tmi)
    cancelled = owner.post("/o/acme/admin/tmi/move/cancel/")
    assert cancelled["Location"] == "/o/acme/admin/tmi/"
    assert "The move was cancelled. Nothing was changed." in message_texts(cancelled)
    assert owner.get("/o/acme/admin/tmi/move/")["Location"] == "/o/acme/admin/tmi/"
    # Started again, the owner went to the new server, then cancelled in another tab before TMI sent them back.
    move_start(owner, new_tmi)
    start = owner.post("/o/acme/admin/tmi/move/", {"provider": idp_at(new_tmi.base_url), "login_hint": "alice"})
    callback = through_tmi(owner, start)
    owner.post("/o/acme/admin/tmi/move/cancel/")
    late = owner.get(callback)
    assert late["Location"] == "/o/acme/admin/tmi/move/"
    assert any("Nothing was changed" in text for text in message_texts(late))
    assert everything() == before
    assert not mail.outbox
    assert signed_in_as(owner) == str(users["alice"].pk)


def test_only_an_owner_moves_and_only_to_an_answering_allowed_server(acme, people, new_tmi, settings):
    users, browsers = people
    refused = browsers["bob"].post("/o/acme/admin/tmi/", {"tmi_base_url": new_tmi.base_url})
    assert refused.status_code == 400 and "Only an owner may change the TMI server address." in refused.content.decode()
    assert browsers["bob"].get("/o/acme/admin/tmi/move/").status_code == 404  # admins do not move it
    nothing_there = browsers["alice"].post("/o/acme/admin/tmi/", {"tmi_base_url": "http://127.0.0.1:9"})
    assert nothing_there.status_code == 400 and "The new address cannot be used" in nothing_there.content.decode()
    settings.PORTAL_TMI_ALLOWED_SERVERS = ["public"]  # the operator no longer allows loopback servers
    not_allowed = browsers["alice"].post("/o/acme/admin/tmi/", {"tmi_base_url": new_tmi.base_url})
    assert not_allowed.status_code == 400 and "This address is not allowed here." in not_allowed.content.decode()
    assert Organization.objects.get(pk=acme.pk).tmi_base_url != new_tmi.base_url


def test_a_relink_works_once_only_for_its_member_and_only_at_its_organisation(
    acme, people, new_tmi, generation, django_user_model
):
    users, browsers = people
    move_start(browsers["alice"], new_tmi)
    assert move_sign_in(browsers["alice"], new_tmi, "alice")["Location"] == "/o/acme/admin/tmi/move/"
    bobs = relink_path_for(PEOPLE["bob"])

    # Someone else at the new server (another email) with bob's link: refused, nothing linked or spent.
    dave = portal_client()
    refused = relink(dave, bobs, new_tmi, "dave")
    assert refused["Location"] == "/o/acme/login/" and signed_in_as(dave) is None
    assert any("not linked" in text for text in message_texts(refused))
    assert MembershipRelink.objects.get(membership__user=users["bob"]).used_at is None
    # carol, signed in to the portal, opens bob's link: not hers to use.
    carol = portal_client()
    assert relink(carol, relink_path_for(PEOPLE["carol"]), new_tmi, "carol")["Location"] == "/o/acme/"
    page = carol.get(bobs)
    assert page.status_code == 403 and "someone else is signed in" in page.content.decode()
    assert carol.post(bobs, {"provider": idp_at(new_tmi.base_url), "login_hint": "bob"}).status_code == 403
    # bob uses it; then it is spent, for him and anyone else.
    assert relink(portal_client(), bobs, new_tmi, "bob")["Location"] == "/o/acme/"
    again = portal_client().get(bobs)
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert (
        list(UserSocialAuth.objects.filter(user=users["bob"]).values_list("uid", flat=True)).count(
            f"{new_tmi.base_url.lower()}#{idp_at(new_tmi.base_url)}:bob"
        )
        == 1
    )
    assert not django_user_model.objects.filter(username="dave").exists()
    # A re-link names its organisation: at another one the same token is unknown.
    globex = Organization.objects.create(name="Globex", slug="globex", tmi_base_url=new_tmi.base_url)
    token_hash = MembershipRelink.objects.get(membership__user=users["bob"]).token_hash
    with pytest.raises(SignInError) as unknown:
        _relinker(globex, token_hash, None)
    assert unknown.value.message == RELINK_UNKNOWN
    assert portal_client().get("/relink/not-a-token/").status_code == 404
    assert invitation_token_hash("not-a-token") != token_hash


def test_a_member_who_links_their_new_account_while_signed_in_is_back_without_the_email(acme, people, new_tmi):
    """bob is still signed in to the portal in his browser and presses "Link … to this account" at acme's new
    server: as good as his link (his portal session, and a TMI account with his email). The link is spent and
    his schedule runs again."""
    users, browsers = people
    move_start(browsers["alice"], new_tmi)
    assert move_sign_in(browsers["alice"], new_tmi, "alice")["Location"] == "/o/acme/admin/tmi/move/"
    moved = Organization.objects.get(pk=acme.pk)
    back = sign_in(browsers["bob"], moved, "bob", link=True)
    assert back["Location"] == "/o/acme/", message_texts(back)
    assert signed_in_as(browsers["bob"]) == str(users["bob"].pk)
    assert MembershipRelink.objects.get(membership__user=users["bob"]).used_at is not None
    assert not ExportSchedule.objects.get(organization=acme, owner=users["bob"]).paused
    row = AuditEvent.objects.get(organization=acme, action="member.relinked")
    assert row.actor == users["bob"] and row.details["without_link"] is True
    again = portal_client().get(relink_path_for(PEOPLE["bob"]))
    assert again.status_code == 410  # the emailed link is spent too


@pytest.mark.parametrize("generation", ["1.8"])
def test_the_owner_never_sees_the_members_links_even_when_email_fails(acme, people, new_tmi, settings):
    """Whoever follows a member's link becomes that member in every organisation they belong to, so it goes to
    their mailbox only; the move page says whom it could not reach."""
    users, browsers = people
    settings.EMAIL_BACKEND = "tests.tenant_admin.broken_mail.BrokenBackend"
    move_start(browsers["alice"], new_tmi)
    assert move_sign_in(browsers["alice"], new_tmi, "alice")["Location"] == "/o/acme/admin/tmi/move/"
    result = browsers["alice"].get("/o/acme/admin/tmi/move/").content.decode()
    assert f"{PEOPLE['bob']}: <strong>the email could not be sent</strong>" in result
    assert "/relink/" not in result
    assert MembershipRelink.objects.filter(membership__organization=acme, used_at__isnull=True).count() == 2
