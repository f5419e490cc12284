"""Linking a TMI account to the portal account signed in in this browser, the one way a second
TMI identity joins an existing person (portal/accounts/linking.py); and what a plain sign-in does
when someone is already signed in. Real sandboxes over real sockets, both TMI generations: acme on
one TMI server, globex on another."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.messages import get_messages
from social_django.models import UserSocialAuth

from portal.accounts.backend import SIGNIN_SESSION_KEY
from portal.accounts.linking import LINK_FIELD
from portal.accounts.models import TMIConnection
from portal.audit.models import AuditEvent
from portal.organizations.models import Membership, Organization, Role
from portal.organizations.services import invitation_create
from portal.sandbox.builtin_idp import identity_for
from portal.sandbox.config import SandboxConfig
from tests.accounts.flow import portal_client, sign_in, start

pytestmark = pytest.mark.django_db(transaction=True)

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def email_at(generation: str, hint: str) -> str:
    return identity_for(SandboxConfig(generation=generation), hint).email


@pytest.fixture
def acme(db, sandbox):
    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url=sandbox.base_url)


@pytest.fixture
def globex(db, sandbox_factory, generation):
    """Globex, on a TMI server of its own, where alice's account is "alice-work" with her usual email,
    has invited that email."""
    alice_email = email_at(generation, "alice")
    server = sandbox_factory(generation, seed=None, test_idp_emails={"alice-work": alice_email})
    globex = Organization.objects.create(name="Globex", slug="globex", tmi_base_url=server.base_url)
    invitation_create(organization=globex, email=alice_email, role=Role.ADMIN)
    return globex


@pytest.fixture
def alice(acme, generation, django_user_model):
    """alice, acme's owner, signed in (through acme's TMI) in `browser`."""
    invitation_create(organization=acme, email=email_at(generation, "alice"), role=Role.OWNER)
    browser = portal_client()
    assert sign_in(browser, acme, "alice")["Location"] == "/o/acme/"
    user = django_user_model.objects.get(username="alice")
    user.browser = browser
    return user


def signed_in_user_id(browser) -> str | None:
    return browser.session.get("_auth_user_id")


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def identities_of(user) -> list[str]:
    return sorted(UserSocialAuth.objects.filter(user=user).values_list("uid", flat=True))


def test_the_sign_in_page_offers_a_signed_in_person_to_link(alice, globex):
    html = alice.browser.get("/o/globex/login/").content.decode()
    assert (
        f"You are signed in to the portal as <strong>Alice (TMI User)</strong> ({alice.email})" in html
        or f"You are signed in to the portal as <strong>Alice (Test User)</strong> ({alice.email})" in html
    )
    assert 'name="link" value="1"' in html and " to this account</span>" in html
    anonymous = portal_client().get("/o/globex/login/").content.decode()
    assert 'name="link"' not in anonymous and "You are signed in" not in anonymous


def test_a_signed_in_member_links_their_account_at_another_tmi(alice, globex, django_user_model):
    done = sign_in(alice.browser, globex, "alice-work", link=True)
    assert done.status_code == 302 and done["Location"] == "/o/globex/"
    assert signed_in_user_id(alice.browser) == str(alice.pk)  # still alice, now in globex too
    assert django_user_model.objects.count() == 1
    assert len(identities_of(alice)) == 2
    assert Membership.objects.get(organization=globex, user=alice).role == Role.ADMIN
    assert TMIConnection.objects.get(organization=globex, user=alice).subject == "alice-work"
    linked = AuditEvent.objects.get(organization=globex, action="auth.identity_linked")
    assert linked.actor == alice and linked.details["subject"] == "alice-work"
    # Later, in a fresh browser, the linked TMI account signs alice in; no link needed any more.
    fresh = portal_client()
    assert sign_in(fresh, globex, "alice-work")["Location"] == "/o/globex/"
    assert signed_in_user_id(fresh) == str(alice.pk)


def test_a_plain_sign_in_as_another_tmi_account_switches_the_browser_to_that_person(
    alice, acme, globex, django_user_model
):
    done = sign_in(alice.browser, globex, "alice-work")  # "Sign in with ...", not "Link"
    assert done["Location"] == "/o/globex/"
    other = django_user_model.objects.exclude(pk=alice.pk).get()
    assert signed_in_user_id(alice.browser) == str(other.pk)  # alice is signed out of this browser
    assert other.username == "alice-work" and len(identities_of(alice)) == 1
    assert not Membership.objects.filter(organization=globex, user=alice).exists()
    assert alice.browser.get("/o/acme/").status_code == 404  # the new person is not in acme
    assert TMIConnection.objects.filter(organization=acme, user=alice).exists()  # alice keeps hers


def test_a_tmi_account_with_another_email_is_not_linked(alice, globex, generation):
    globex.allowed_email_domains = ["tmi.local", "test.tmi"]  # globex would admit alice-home
    globex.save()
    refused = sign_in(alice.browser, globex, "alice-home", link=True)
    assert refused["Location"] == "/o/globex/login/"
    assert (
        f"That TMI account's email is {email_at(generation, 'alice-home')}, not {alice.email} as on your portal account"
    ) in " ".join(message_texts(refused))
    assert signed_in_user_id(alice.browser) == str(alice.pk) and len(identities_of(alice)) == 1
    assert not Membership.objects.filter(organization=globex).exists()
    assert not TMIConnection.objects.filter(organization=globex).exists()


def test_an_account_without_email_is_not_offered_a_link(globex, django_user_model):
    nameless = django_user_model.objects.create_user(username="nameless")
    browser = portal_client()
    browser.force_login(nameless, backend=MODEL_BACKEND)
    html = browser.get("/o/globex/login/").content.decode()
    assert "has no email address" in html and 'name="link"' not in html
    attempt = start(browser, globex, "alice-work", link=True, to_tmi=False)
    assert attempt.start["Location"] == "/o/globex/login/"
    assert any("has no email address" in m for m in message_texts(attempt.start))


def test_a_plain_sign_in_at_an_organisation_on_the_same_tmi_keeps_the_person(alice, acme, django_user_model):
    # The demo's case: organisations sharing one TMI server share the identity, so no link is needed.
    same_server = Organization.objects.create(
        name="Initech", slug="initech", tmi_base_url=acme.tmi_base_url, allowed_email_domains=["tmi.local", "test.tmi"]
    )
    assert sign_in(alice.browser, same_server, "alice")["Location"] == "/o/initech/"
    assert signed_in_user_id(alice.browser) == str(alice.pk) and django_user_model.objects.count() == 1
    assert Membership.objects.filter(user=alice).count() == 2 and len(identities_of(alice)) == 1


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_staff_and_superusers_cannot_link(globex, django_user_model, flag):
    operator = django_user_model.objects.create_user(username="operator", email="op@portal.example", **{flag: True})
    browser = portal_client()
    browser.force_login(operator, backend=MODEL_BACKEND)
    html = browser.get("/o/globex/login/").content.decode()
    assert "Staff and superuser accounts cannot be linked" in html and 'name="link"' not in html
    attempt = start(browser, globex, "alice-work", link=True, to_tmi=False)
    assert attempt.start.status_code == 302 and attempt.start["Location"] == "/o/globex/login/"
    assert any("Staff and superuser accounts cannot be linked" in m for m in message_texts(attempt.start))
    assert SIGNIN_SESSION_KEY not in browser.session  # TMI was never asked
    assert signed_in_user_id(browser) == str(operator.pk)
    assert not UserSocialAuth.objects.exists() and not TMIConnection.objects.exists()


def test_link_pressed_while_signed_out_is_refused(globex):
    browser = portal_client()
    attempt = start(browser, globex, "alice-work", link=True, to_tmi=False)
    assert attempt.start["Location"] == "/o/globex/login/"
    assert any("not signed in to the portal" in m for m in message_texts(attempt.start))
    assert SIGNIN_SESSION_KEY not in browser.session and not UserSocialAuth.objects.exists()


def test_a_link_request_belongs_to_its_own_attempt_only(alice, globex, django_user_model):
    start(alice.browser, globex, "alice-work", link=True)  # pressed "Link", then left TMI's page
    plain = start(alice.browser, globex, "alice-home")  # then "Sign in with ...", another attempt
    globex.allowed_email_domains = ["tmi.local", "test.tmi"]
    globex.save()
    assert alice.browser.get(plain.callback_path)["Location"] == "/o/globex/"
    home = django_user_model.objects.get(username="alice-home")
    assert signed_in_user_id(alice.browser) == str(home.pk)
    assert len(identities_of(alice)) == 1 and len(identities_of(home)) == 1  # nothing was linked to alice


def test_a_link_request_is_spent_with_its_attempt(alice, globex, django_user_model):
    attempt = start(alice.browser, globex, "alice-work", link=True)
    assert alice.browser.get(attempt.callback_path)["Location"] == "/o/globex/"
    replay = alice.browser.get(attempt.callback_path)
    assert replay["Location"] == "/o/globex/login/"
    assert any("expired or was started in another browser" in m for m in message_texts(replay))
    globex.allowed_email_domains = ["tmi.local", "test.tmi"]
    globex.save()
    sign_in(alice.browser, globex, "alice-home")  # a later plain sign-in in the same browser links nothing
    assert len(identities_of(alice)) == 2
    assert signed_in_user_id(alice.browser) == str(django_user_model.objects.get(username="alice-home").pk)


def test_a_forged_link_request_does_nothing(alice, globex, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.com")
    attempt = start(alice.browser, globex, "alice-work")  # a plain attempt...
    session = alice.browser.session
    key = f"tmi_oauth2_state_{attempt.state}"
    session[key] = {**session[key], LINK_FIELD: bob.pk}  # ...whose transaction claims bob asked to link
    session.save()
    refused = alice.browser.get(attempt.callback_path)
    assert refused["Location"] == "/o/globex/login/"
    assert any("no longer matches who is signed in" in m for m in message_texts(refused))
    assert identities_of(bob) == [] and len(identities_of(alice)) == 1
    assert signed_in_user_id(alice.browser) == str(alice.pk)
    assert not TMIConnection.objects.filter(organization=globex).exists()
    assert not Membership.objects.filter(organization=globex).exists()


def test_a_user_made_staff_after_pressing_link_is_refused_and_the_tokens_given_back(alice, globex, monkeypatch):
    from portal.accounts import pipeline

    given_back = []
    revoke = pipeline.tmi_tokens_revoke_quietly
    monkeypatch.setattr(
        pipeline, "tmi_tokens_revoke_quietly", lambda **kwargs: given_back.append(kwargs["tokens"]) or revoke(**kwargs)
    )
    attempt = start(alice.browser, globex, "alice-work", link=True)
    alice.is_staff = True
    alice.save()
    refused = alice.browser.get(attempt.callback_path)
    assert refused["Location"] == "/o/globex/login/"
    assert any("cannot be linked" in m for m in message_texts(refused))
    assert len(identities_of(alice)) == 1 and not TMIConnection.objects.filter(organization=globex).exists()
    assert len(given_back) == 1  # TMI's fresh tokens for nothing: revoked, not dropped
    rejected = httpx.get(
        f"{globex.tmi_base_url}/oauth2/userinfo",
        headers={"Authorization": f"Bearer {given_back[0].access_token}"},
        timeout=10,
    )
    assert rejected.status_code == 401


def test_someone_elses_tmi_account_is_not_linked(alice, globex, generation, django_user_model):
    invitation_create(organization=globex, email=email_at(generation, "bob"))
    assert sign_in(portal_client(), globex, "bob")["Location"] == "/o/globex/"
    bob = django_user_model.objects.get(username="bob")
    refused = sign_in(alice.browser, globex, "bob", link=True)
    assert refused["Location"] == "/o/globex/login/"
    assert any("already belongs to another portal account" in m for m in message_texts(refused))
    assert signed_in_user_id(alice.browser) == str(alice.pk)
    assert len(identities_of(alice)) == 1 and len(identities_of(bob)) == 1
    assert not Membership.objects.filter(organization=globex, user=alice).exists()
