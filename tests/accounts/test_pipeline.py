"""The pipeline steps: who the person is, whether the organisation admits them, keeping the tokens."""

import base64
import json

import httpx
import jwt
import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from social_django.models import UserSocialAuth
from social_django.utils import load_strategy

from portal.accounts.backend import TMIOAuth2
from portal.accounts.errors import (
    LINK_NOT_FOR_OPERATORS,
    LINK_STALE,
    LINK_TAKEN,
    OPERATOR_NOT_THROUGH_TMI,
    NotAMember,
    SignInError,
)
from portal.accounts.models import TMIConnection
from portal.accounts.pipeline import (
    INVITATION_SESSION_KEY,
    membership_grant,
    membership_require,
    tokens_store,
    user_identify,
    username_pick,
)
from portal.organizations.models import Membership, Role
from portal.organizations.services import invitation_create, membership_admission_find
from portal.tmi import TokenPair
from tests.sandbox.helpers import login

pytestmark = pytest.mark.django_db(transaction=True)


def fake_jwt(claims: dict) -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.signature"


@pytest.fixture
def backend():
    request = RequestFactory().get("/auth/complete/tmi/")
    request.session = SessionStore()
    return TMIOAuth2(load_strategy(request), redirect_uri="/auth/complete/tmi/")


@pytest.fixture
def zoe(django_user_model):
    return django_user_model.objects.create(username="zoe", email="zoe@example.com")


def test_the_tmi_identity_finds_its_user(backend, zoe):
    UserSocialAuth.objects.create(user=zoe, provider="tmi", uid="http://tmi#tmi:zoe")
    found = user_identify(backend, "http://tmi#tmi:zoe", {"email": "someone@else"})
    assert found["user"] == zoe and found["social"].uid == "http://tmi#tmi:zoe"


def test_the_identity_wins_over_the_browsers_current_user(backend, zoe, django_user_model):
    UserSocialAuth.objects.create(user=zoe, provider="tmi", uid="http://tmi#tmi:zoe")
    someone = django_user_model.objects.create(username="someone")
    assert user_identify(backend, "http://tmi#tmi:zoe", {}, current_user=someone)["user"] == zoe


def test_a_new_identity_never_joins_the_signed_in_user_unasked(backend, zoe):
    # Was: the same email as the signed-in user joined them. Now only the explicit link step does.
    found = user_identify(backend, "http://other#tmi:zoe", {"email": "Zoe@Example.com"}, current_user=zoe)
    assert found == {"user": None, "social": None}
    anonymous = user_identify(backend, "http://other#tmi:zoe", {}, current_user=AnonymousUser())
    assert anonymous == {"user": None, "social": None}


def test_a_new_identity_joins_the_user_who_asked_to_link_it(backend, zoe):
    found = user_identify(
        backend, "http://other#tmi:zoe-at-work", {"email": "ZOE@example.com"}, current_user=zoe, link_user=zoe.pk
    )
    assert found == {"user": zoe, "social": None, "linked": True}


def test_a_new_identity_with_another_email_is_not_linked(backend, zoe):
    with pytest.raises(SignInError) as raised:
        user_identify(
            backend, "http://other#tmi:zoe", {"email": "zoe@elsewhere.example"}, current_user=zoe, link_user=zoe.pk
        )
    assert "zoe@elsewhere.example" in raised.value.message and "zoe@example.com" in raised.value.message
    with pytest.raises(SignInError):
        user_identify(backend, "http://other#tmi:zoe", {}, current_user=zoe, link_user=zoe.pk)
    assert not UserSocialAuth.objects.exists()


def test_linking_an_identity_that_is_already_yours_is_a_sign_in(backend, zoe):
    UserSocialAuth.objects.create(user=zoe, provider="tmi", uid="http://tmi#tmi:zoe")
    found = user_identify(backend, "http://tmi#tmi:zoe", {}, current_user=zoe, link_user=zoe.pk)
    assert found["user"] == zoe and found["social"].uid == "http://tmi#tmi:zoe" and found["linked"] is False


def test_another_persons_identity_is_never_linked(backend, zoe, django_user_model):
    mallory = django_user_model.objects.create(username="mallory")
    UserSocialAuth.objects.create(user=mallory, provider="tmi", uid="http://tmi#tmi:mallory")
    with pytest.raises(SignInError) as raised:
        user_identify(backend, "http://tmi#tmi:mallory", {}, current_user=zoe, link_user=zoe.pk)
    assert raised.value.message == LINK_TAKEN
    assert UserSocialAuth.objects.get(uid="http://tmi#tmi:mallory").user == mallory


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_staff_and_superusers_are_never_linked(backend, zoe, flag):
    setattr(zoe, flag, True)
    zoe.save()
    with pytest.raises(SignInError) as raised:
        user_identify(backend, "http://other#tmi:zoe", {"email": "zoe@example.com"}, current_user=zoe, link_user=zoe.pk)
    assert raised.value.message == LINK_NOT_FOR_OPERATORS
    assert not UserSocialAuth.objects.exists()


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_an_identity_of_a_user_who_became_staff_signs_nobody_in(backend, zoe, flag):
    UserSocialAuth.objects.create(user=zoe, provider="tmi", uid="http://tmi#tmi:zoe")
    setattr(zoe, flag, True)
    zoe.save()
    with pytest.raises(SignInError) as raised:
        user_identify(backend, "http://tmi#tmi:zoe", {})
    assert raised.value.message == OPERATOR_NOT_THROUGH_TMI


def test_a_link_request_of_someone_else_links_nobody(backend, zoe, django_user_model):
    someone = django_user_model.objects.create(username="someone")
    for current in (someone, AnonymousUser(), None):
        with pytest.raises(SignInError) as raised:
            user_identify(backend, "http://other#tmi:zoe", {}, current_user=current, link_user=zoe.pk)
        assert raised.value.message == LINK_STALE


def test_another_persons_identity_is_never_attached_to_the_signed_in_user(backend, zoe):
    # A shared computer: zoe is still signed in when mallory signs in at TMI.
    found = user_identify(backend, "http://other#tmi:mallory", {"email": "mallory@tmi.local"}, current_user=zoe)
    assert found == {"user": None, "social": None}
    assert user_identify(backend, "http://other#tmi:anon", {}, current_user=zoe) == {"user": None, "social": None}


def test_an_unverified_email_links_nobody(backend, zoe):
    tokens = TokenPair(access_token=fake_jwt({"email": "zoe@example.com"}))
    assert user_identify(backend, "u", {"email": "zoe@example.com"}, tokens=tokens)["user"] is None


def test_a_verified_email_links_nobody(backend, zoe):
    # Was: TMI's `email_verified` linked the one user with that email. A TMI server chosen by one
    # organisation must not vouch for people elsewhere (issue 10).
    tokens = TokenPair(access_token=fake_jwt({"email": "ZOE@example.com", "email_verified": True}))
    assert user_identify(backend, "u", {"email": "zoe@example.com"}, tokens=tokens) == {"user": None, "social": None}


def test_a_tmi_that_vouches_for_the_email_links_nobody(sandbox_factory, generation, backend, zoe):
    server = sandbox_factory(generation, seed=None, vouches_for_emails=True, test_idp_emails={"zoe": zoe.email})
    tokens = TokenPair(**login(server.base_url, "zoe"))
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["email"], claims["email_verified"]) == ("zoe", zoe.email, True)
    assert user_identify(backend, "u", {"email": zoe.email}, tokens=tokens) == {"user": None, "social": None}


def test_a_new_persons_username_never_takes_an_existing_one(backend, zoe, django_user_model):
    django_user_model.objects.create(username="Alice")
    assert username_pick(backend, {"username": "dave"}) == {"username": "dave"}
    for subject in ("zoe", "ZOE", "alice"):
        picked = username_pick(backend, {"username": subject})["username"]
        assert picked.lower().startswith(subject.lower() + "-")
        assert not django_user_model.objects.filter(username__iexact=picked).exists()
    assert username_pick(backend, {"username": "zoe"}, user=zoe) is None  # an existing user keeps theirs
    assert username_pick(backend, {"username": ""})["username"] == "tmi-user"


def test_a_person_without_admission_is_stopped_and_their_tokens_given_back(organization, backend):
    tokens = TokenPair(**login(organization.tmi_base_url, "mallory"))
    with pytest.raises(NotAMember) as raised:
        membership_require(backend, {"email": "mallory@tmi.local"}, organization, tokens=tokens)
    assert raised.value.email == "mallory@tmi.local"
    assert not Membership.objects.exists()
    refused = httpx.get(
        f"{organization.tmi_base_url}/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"}
    )
    assert refused.status_code == 401


def test_the_refusal_names_the_invitation_opened_in_this_browser(organization, backend):
    invitation, _ = invitation_create(organization=organization, email="zoe@example.com")
    backend.strategy.session_set(INVITATION_SESSION_KEY, invitation.token_hash)
    with pytest.raises(NotAMember) as raised:
        membership_require(backend, {"email": "mallory@example.com"}, organization)
    assert raised.value.invitation_email == "zoe@example.com"


def test_a_member_is_admitted(organization, backend, zoe):
    Membership.objects.create(organization=organization, user=zoe, role=Role.ADMIN)
    assert membership_require(backend, {"email": "x@y.z"}, organization, user=zoe)["admission"].kind == "member"


def test_granting_an_invitation_accepts_it_and_forgets_the_session_hint(organization, backend, zoe):
    invitation, _ = invitation_create(organization=organization, email="zoe@example.com", role=Role.ADMIN)
    backend.strategy.session_set(INVITATION_SESSION_KEY, invitation.token_hash)
    admission = membership_admission_find(organization=organization, user=None, email="zoe@example.com")
    membership_grant(backend, organization, admission, user=zoe)
    assert Membership.objects.get(organization=organization, user=zoe).role == Role.ADMIN
    assert backend.strategy.session_get(INVITATION_SESSION_KEY) is None


def test_tokens_go_to_the_vault(organization, zoe):
    tokens = TokenPair(**login(organization.tmi_base_url, "zoe"))
    tokens_store(
        organization,
        tokens,
        {"provider": "tmi", "subject": "zoe", "email": "zoe@tmi.local", "display_name": "Zoe"},
        user=zoe,
    )
    connection = TMIConnection.objects.get(organization=organization, user=zoe)
    assert connection.access_token == tokens.access_token and connection.refresh_token == tokens.refresh_token
    assert (connection.subject, connection.email, connection.display_name) == ("zoe", "zoe@tmi.local", "Zoe")


def test_a_disabled_account_is_stopped(organization, backend, zoe):
    from portal.accounts.errors import ACCOUNT_DISABLED, SignInError

    Membership.objects.create(organization=organization, user=zoe)
    zoe.is_active = False
    zoe.save()
    with pytest.raises(SignInError) as raised:
        membership_require(backend, {"email": "zoe@example.com"}, organization, user=zoe)
    assert raised.value.message == ACCOUNT_DISABLED
