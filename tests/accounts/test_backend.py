"""The social-auth backend "tmi": the authorize URL it builds and what it reads back from TMI."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from social_django.utils import load_strategy

from portal.accounts.backend import SIGNIN_SESSION_KEY, TMIOAuth2, tmi_identity_key
from portal.accounts.errors import PROVIDER_UNKNOWN, SESSION_LOST, SignInError
from portal.organizations.models import Organization
from portal.tmi import TokenPair
from tests.accounts.flow import idp_of, start
from tests.sandbox.helpers import login

pytestmark = pytest.mark.django_db(transaction=True)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def backend_for(session: dict | None = None) -> TMIOAuth2:
    request = RequestFactory().get("/auth/complete/tmi/", HTTP_HOST="localhost:8000")
    request.session = SessionStore()
    request.session.update(session or {})
    return TMIOAuth2(load_strategy(request), redirect_uri="/auth/complete/tmi/")


def test_the_authorize_url_carries_pkce_state_callback_and_hint(organization, browser):
    attempt = start(browser, organization, "alice", to_tmi=False)
    location = urlsplit(attempt.start["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}" == organization.tmi_base_url
    assert location.path == "/oauth2/authorize"
    assert query["idp"] == idp_of(organization)
    assert query["scope"] == "openid profile email"
    assert query["code_challenge_method"] == "S256"
    assert query["client_callback"] == "http://localhost:8000/auth/complete/tmi/"  # absolute, no query
    assert query["login_hint"] == "alice"
    transaction = browser.session[f"tmi_oauth2_state_{query['state']}"]
    # The verifier stays in the session; only its S256 challenge travels.
    assert query["code_challenge"] == s256(transaction["code_verifier"])
    assert transaction["code_verifier"] not in attempt.start["Location"]
    assert transaction["organization"] == "acme" and transaction["provider"] == query["idp"]
    assert len(query["state"]) >= 32


def test_each_attempt_has_its_own_state_and_verifier(organization, browser):
    first = parse_qs(urlsplit(start(browser, organization, "alice", to_tmi=False).start["Location"]).query)
    second = parse_qs(urlsplit(start(browser, organization, "alice", to_tmi=False).start["Location"]).query)
    assert first["state"] != second["state"] and first["code_challenge"] != second["code_challenge"]


def test_tmi_accepts_the_authorize_url_and_comes_back_to_the_callback(organization, browser):
    attempt = start(browser, organization, "alice")
    callback = urlsplit(attempt.callback_url)
    assert (callback.netloc, callback.path) == ("localhost:8000", "/auth/complete/tmi/")
    assert set(parse_qs(callback.query)) == {"code", "state"}


def test_no_attempt_in_the_session_is_a_lost_session(db):
    with pytest.raises(SignInError) as raised:
        backend_for().auth_url()
    assert raised.value.message == SESSION_LOST


def test_a_provider_the_organisation_does_not_offer_is_refused(organization):
    organization.identity_providers = ["google"]
    organization.save()
    backend = backend_for({SIGNIN_SESSION_KEY: {"organization": "acme", "provider": idp_of(organization)}})
    with pytest.raises(SignInError) as raised:
        backend.auth_url()
    assert raised.value.message == PROVIDER_UNKNOWN


def test_user_data_reads_both_generations_identity_shapes(organization, generation):
    tokens = TokenPair(**login(organization.tmi_base_url, "alice"))
    data = backend_for().user_data(tokens.access_token, organization=organization)
    expected = {
        "1.8": ("tmi", "alice@tmi.local", "Alice (TMI User)"),
        "0.217": ("test", "alice@test.tmi", "Alice (Test User)"),
    }[generation]
    assert (data["provider"], data["email"], data["display_name"]) == expected
    assert data["subject"] == "alice"
    assert tokens.access_token not in repr(data) and tokens.refresh_token not in repr(data)


def test_user_details_and_uid():
    backend = TMIOAuth2()
    details = backend.get_user_details(
        {"subject": "alice-smith", "email": "a@tmi.local", "display_name": "Alice Smith (TMI User)"}
    )
    assert details == {
        "username": "alice-smith",
        "email": "a@tmi.local",
        "fullname": "Alice Smith (TMI User)",
        "first_name": "Alice",
        "last_name": "Smith (TMI User)",
    }
    assert backend.get_user_id(details, {"identity": "key"}) == "key"


def test_social_auth_keeps_no_extra_data():
    response = {"access_token": "secret-a", "refresh_token": "secret-r", "token_type": "bearer"}
    assert TMIOAuth2().extra_data(None, "uid", response, {}, {"access_token": "secret-a"}) == {}


def test_the_identity_key_is_per_tmi_server():
    acme = Organization(slug="acme", tmi_base_url="http://TMI.example:8080/")
    globex = Organization(slug="globex", tmi_base_url="http://tmi.example:8080")
    other = Organization(slug="initech", tmi_base_url="http://other.example")
    assert tmi_identity_key(acme, "tmi", "alice") == tmi_identity_key(globex, "tmi", "alice")
    assert tmi_identity_key(acme, "tmi", "alice") == "http://tmi.example:8080#tmi:alice"
    assert tmi_identity_key(acme, "tmi", "alice") != tmi_identity_key(other, "tmi", "alice")
    assert tmi_identity_key(acme, "tmi", "alice") != tmi_identity_key(acme, "google", "alice")
    long_key = tmi_identity_key(acme, "tmi", "x" * 300)
    assert len(long_key) <= 255 and long_key.startswith("sha256:")


def test_the_session_user_is_read_as_social_auth_reads_it(django_user_model):
    backend = TMIOAuth2()
    alice = django_user_model.objects.create_user(username="alice", email="alice@example.com")
    gone = django_user_model.objects.create_user(username="gone", email="gone@example.com", is_active=False)
    found = backend.get_user(alice.pk)
    assert found == alice and found.username == "alice" and found.date_joined == alice.date_joined
    assert backend.get_user(gone.pk) is None  # an inactive user is signed out, as social-auth's lookup does
    assert backend.get_user(alice.pk + gone.pk + 1) is None
