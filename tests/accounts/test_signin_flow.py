"""The whole sign-in and sign-out round trip against the real sandbox, in both TMI generations."""

import json
import logging
from urllib.parse import urlencode

import httpx
import pytest
from django.contrib.messages import get_messages
from social_django.models import UserSocialAuth

from portal.accounts.models import TMIConnection
from portal.organizations.models import Membership, Organization, Role
from portal.organizations.services import invitation_create
from portal.tmi import TMIClient
from tests.accounts.flow import portal_client, sign_in, start
from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db(transaction=True)


def email_of(organization, hint):
    with TMIClient(organization.tmi_base_url) as client:
        domain = "tmi.local" if client.discovery().generation == "1.8" else "test.tmi"
    return f"{hint}@{domain}"


def messages_on(client, url):
    page = client.get(url)
    assert page.status_code in (200, 503)  # 503: the page says TMI is down, and still shows the message
    return page.content.decode()


@pytest.fixture
def alice(organization):
    """The organisation admits the test IdP's email domains, so alice (and anyone) joins on sign-in."""
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    return "alice"


def test_a_member_signs_in_and_lands_on_the_portfolio(organization, browser, django_user_model):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    done = sign_in(browser, organization, "alice")
    assert done.status_code == 302 and done["Location"] == "/o/acme/"
    user = django_user_model.objects.get(memberships__organization=organization)
    assert browser.session["_auth_user_id"] == str(user.pk)
    connection = TMIConnection.objects.get(organization=organization, user=user)
    assert connection.subject == "alice" and connection.email == email_of(organization, "alice")
    assert connection.provider in ("tmi", "test") and connection.access_token and connection.refresh_token
    with TMIClient(organization.tmi_base_url, auth=connection.access_token) as client:
        assert client.auth.userinfo().provider_id == "alice"  # the stored token works at TMI


def test_signing_in_again_finds_the_same_user_by_tmi_identity(organization, django_user_model):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    sign_in(portal_client(), organization, "alice")
    sign_in(portal_client(), organization, "alice")
    assert django_user_model.objects.count() == 1
    social = UserSocialAuth.objects.get()
    assert social.provider == "tmi" and social.uid.endswith(":alice")
    assert TMIConnection.objects.count() == 1


def test_next_inside_the_organisation_is_honoured(organization, browser):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    done = sign_in(browser, organization, "alice", next_url="/o/acme/threat-models/?status=open")
    assert done["Location"] == "/o/acme/threat-models/?status=open"


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/o/acme/",
        "//evil.example/o/acme/",
        "/\\evil.example/",
        "http://localhost:8000@evil.example/",
        "/o/globex/",
        "/admin/",
        "javascript:alert(1)",
        "/o/acme/../../admin/",
        "/o/acme/login/",
    ],
)
def test_open_redirects_are_refused(organization, browser, evil):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    done = sign_in(browser, organization, "alice", next_url=evil)
    assert done.status_code == 302 and done["Location"] == "/o/acme/"


def test_a_non_member_gets_a_clear_page_and_nothing_is_created(organization, browser, django_user_model):
    done = sign_in(browser, organization, "mallory")
    assert done.status_code == 403
    page = done.content.decode()
    assert "You are not a member of Acme" in page and "invitation" in page
    assert email_of(organization, "mallory") in page
    assert "_auth_user_id" not in browser.session
    assert not django_user_model.objects.exists() and not Membership.objects.exists()
    assert not TMIConnection.objects.exists() and not UserSocialAuth.objects.exists()


def test_a_pending_invitation_is_accepted_on_sign_in(organization, browser, django_user_model):
    invitation, token = invitation_create(
        organization=organization, email=email_of(organization, "zoe"), role=Role.ADMIN, invited_by=None
    )
    page = browser.get(f"/invitations/{token}/")
    assert page.status_code == 200 and "Acme" in page.content.decode()
    accept = browser.post(f"/invitations/{token}/")
    assert accept["Location"] == "/o/acme/login/"
    done = sign_in(browser, organization, "zoe")
    assert done.status_code == 302 and done["Location"] == "/o/acme/"
    zoe = django_user_model.objects.get(username="zoe")
    assert Membership.objects.get(organization=organization, user=zoe).role == Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert "tmi_invitation" not in browser.session
    assert browser.get(f"/invitations/{token}/").status_code == 410  # used


def test_an_invitation_for_another_email_is_not_accepted(organization, browser, django_user_model):
    invitation, token = invitation_create(organization=organization, email="zoe@example.com", invited_by=None)
    browser.post(f"/invitations/{token}/")
    done = sign_in(browser, organization, "mallory")
    assert done.status_code == 403
    assert "The invitation you opened was sent to zoe@example.com" in done.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None and not Membership.objects.exists()


def test_the_email_domain_joins_automatically(organization, browser, django_user_model):
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    assert sign_in(browser, organization, "dave").status_code == 302
    membership = Membership.objects.get(organization=organization)
    assert membership.user.username == "dave" and membership.role == Role.MEMBER


def test_one_person_in_two_organisations_on_two_tmi_servers(
    organization, sandbox_factory, generation, browser, django_user_model
):
    # Was: the second TMI's identity joined carol because its email matched hers. Now carol, signed
    # in, links it herself ("Link to carol" on globex's sign-in page).
    organization.allowed_email_domains = ["tmi.local", "test.tmi"]
    organization.save()
    second = sandbox_factory(generation)
    globex = Organization.objects.create(
        name="Globex", slug="globex", tmi_base_url=second.base_url, allowed_email_domains=["tmi.local", "test.tmi"]
    )
    assert sign_in(browser, organization, "carol")["Location"] == "/o/acme/"
    assert sign_in(browser, globex, "carol", link=True)["Location"] == "/o/globex/"
    carol = django_user_model.objects.get()
    assert set(Membership.objects.filter(user=carol).values_list("organization__slug", flat=True)) == {"acme", "globex"}
    connections = TMIConnection.objects.filter(user=carol)
    assert {c.organization.slug for c in connections} == {"acme", "globex"}
    assert len({c.access_token for c in connections}) == 2  # one pair per TMI server
    assert UserSocialAuth.objects.filter(user=carol).count() == 2
    # Later, in a fresh browser, each identity finds the same person.
    assert sign_in(portal_client(), globex, "carol").status_code == 302
    assert django_user_model.objects.count() == 1


# -- every failure ends on the sign-in page with a message ----------------------------------------
def assert_back_on_login(client, response, text):
    assert response.status_code == 302 and response["Location"] == "/o/acme/login/", response.content[:500]
    assert text in messages_on(client, "/o/acme/login/")


def test_denied_consent(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    response = browser.get("/auth/complete/tmi/?" + urlencode({"error": "access_denied", "state": attempt.state}))
    assert_back_on_login(browser, response, "cancelled")
    assert "_auth_user_id" not in browser.session


def test_a_forged_state(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    forged = attempt.callback_path.replace(attempt.state, "forged-state-value")
    assert_back_on_login(browser, browser.get(forged), "expired or was started in another browser")
    assert not TMIConnection.objects.exists()


def test_a_replayed_callback_is_stale(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    assert browser.get(attempt.callback_path)["Location"] == "/o/acme/"
    replay = browser.get(attempt.callback_path)  # the state was spent
    assert_back_on_login(browser, replay, "expired or was started in another browser")


def test_a_callback_after_sign_out_goes_home(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    browser.post("/o/acme/logout/")  # flushes the session: the attempt is forgotten
    response = browser.get(attempt.callback_path)
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_state_older_than_ten_minutes_is_stale(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    session = browser.session
    key = f"tmi_oauth2_state_{attempt.state}"
    session[key] = {**session[key], "timestamp": session[key]["timestamp"] - 601}  # TMI forgets it after 600 s
    session.save()
    assert_back_on_login(browser, browser.get(attempt.callback_path), "expired or was started in another browser")
    assert not TMIConnection.objects.exists()


def test_another_browsers_state_fails(organization, browser, alice):
    victim = portal_client()
    victims_attempt = start(victim, organization, "alice")
    start(browser, organization, "alice")
    response = browser.get(victims_attempt.callback_path)
    assert_back_on_login(browser, response, "expired or was started in another browser")
    assert "_auth_user_id" not in browser.session and not TMIConnection.objects.exists()


def test_a_missing_verifier(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    session = browser.session
    key = f"tmi_oauth2_state_{attempt.state}"
    transaction = session[key]
    transaction.pop("code_verifier")
    session[key] = transaction
    session.save()
    assert_back_on_login(browser, browser.get(attempt.callback_path), "expired or was started in another browser")


def test_an_invalid_or_reused_code(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    response = browser.get(f"/auth/complete/tmi/?code=test_auth_code_1&state={attempt.state}")
    assert_back_on_login(browser, response, "already used or has expired")


def test_a_missing_code(organization, browser, alice):
    attempt = start(browser, organization, "alice")
    response = browser.get(f"/auth/complete/tmi/?state={attempt.state}")
    assert_back_on_login(browser, response, "expired or was started in another browser")


@pytest.mark.parametrize(
    "fault",
    [
        {"path_prefix": "/oauth2/token", "status": 503},
        {"path_prefix": "/oauth2/token", "status": 500},
        {"path_prefix": "/oauth2/userinfo", "status": 502},
    ],
)
def test_tmi_failing_at_the_callback(organization, browser, alice, fault):
    attempt = start(browser, organization, "alice")
    add_fault(organization.tmi_base_url, times=10, **fault)
    assert_back_on_login(browser, browser.get(attempt.callback_path), "not answering")
    assert not TMIConnection.objects.exists()


def test_tmi_timing_out_at_the_callback(organization, browser, alice, settings):
    settings.TMI_TIMEOUT_SECONDS = 0.3
    attempt = start(browser, organization, "alice")
    add_fault(organization.tmi_base_url, path_prefix="/oauth2/token", latency_ms=1500, times=5)
    assert_back_on_login(browser, browser.get(attempt.callback_path), "not answering")


def test_tmi_unreachable_at_the_callback(organization, browser, alice, sandbox):
    attempt = start(browser, organization, "alice")
    sandbox.stop()
    assert_back_on_login(browser, browser.get(attempt.callback_path), "not answering")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/oauth2/token", "this is not json"),
        ("/oauth2/token", '{"token_type": "bearer"}'),
        ("/oauth2/userinfo", '{"email": "x@y.z"}'),
    ],
)
def test_malformed_tmi_answers(organization, browser, alice, path, body):
    attempt = start(browser, organization, "alice")
    add_fault(organization.tmi_base_url, path_prefix=path, status=200, body=body, times=5)
    assert_back_on_login(browser, browser.get(attempt.callback_path), "could not understand")
    assert not TMIConnection.objects.exists()


def test_a_lost_session_goes_home_with_a_message(organization, alice):
    first = portal_client()
    attempt = start(first, organization, "alice")
    stranger = portal_client()  # no session at all: it expired
    response = stranger.get(attempt.callback_path)
    assert response.status_code == 302 and response["Location"] == "/"
    assert any("session has expired" in str(m) for m in get_messages(response.wsgi_request))


def test_tmi_down_when_starting(organization, browser, alice):
    add_fault(organization.tmi_base_url, path_prefix="/oauth2/providers", status=503, times=10)
    response = browser.post("/o/acme/login/", {"provider": "tmi", "login_hint": "alice"})
    assert response.status_code == 503 and "not answering" in response.content.decode()


# -- signing out -------------------------------------------------------------------------------
def test_sign_out_revokes_at_tmi_and_forgets_the_tokens(organization, browser, alice):
    sign_in(browser, organization, "alice")
    connection = TMIConnection.objects.get()
    access = connection.access_token
    response = browser.post("/o/acme/logout/")
    assert response.status_code == 302 and response["Location"] == "/o/acme/login/"
    assert "_auth_user_id" not in browser.session
    assert not TMIConnection.objects.exists()
    assert "signed out" in messages_on(browser, "/o/acme/login/")
    rejected = httpx.get(f"{organization.tmi_base_url}/oauth2/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert rejected.status_code == 401


def test_sign_out_revokes_the_refresh_token_where_tmi_can(organization, browser, alice, generation):
    sign_in(browser, organization, "alice")
    refresh = TMIConnection.objects.get().refresh_token
    browser.post("/o/acme/logout/")
    refused = httpx.post(f"{organization.tmi_base_url}/oauth2/refresh", json={"refresh_token": refresh})
    # 1.8 revokes refresh tokens (RFC 7009); 0.217 cannot, so its refresh token still works.
    assert refused.status_code == (400 if generation == "1.8" else 200)


def test_sign_out_completes_when_tmi_is_down(organization, browser, alice, sandbox):
    sign_in(browser, organization, "alice")
    sandbox.stop()
    response = browser.post("/o/acme/logout/")
    assert response.status_code == 302 and response["Location"] == "/o/acme/login/"
    assert "_auth_user_id" not in browser.session and not TMIConnection.objects.exists()


def test_sign_out_keeps_other_organisations_connections(organization, other_organization, browser, alice):
    other_organization.allowed_email_domains = organization.allowed_email_domains
    other_organization.save()
    sign_in(browser, organization, "alice")
    sign_in(browser, other_organization, "alice")
    browser.post("/o/acme/logout/")
    assert list(TMIConnection.objects.values_list("organization__slug", flat=True)) == ["globex"]


# -- security ----------------------------------------------------------------------------------
LOGGERS = ("", "portal", "social", "django", "httpx", "httpcore")


def test_tokens_never_leave_the_server(organization, alice, caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    browser = portal_client()
    seen = [browser.get("/o/acme/login/?next=/o/acme/threat-models/")]
    attempt = start(browser, organization, "alice", next_url="/o/acme/threat-models/")
    seen += [attempt.start, browser.get(attempt.callback_path)]
    connection = TMIConnection.objects.get()
    tokens = [connection.access_token, connection.refresh_token]
    assert all(tokens)
    seen += [browser.get("/o/acme/login/"), browser.post("/o/acme/logout/"), browser.get("/o/acme/login/")]
    for response in seen:
        exposed = [
            response.content.decode(),
            response.get("Location", ""),
            *(f"{c.key}={c.value}" for c in response.cookies.values()),
        ]
        assert not any(token in text for token in tokens for text in exposed)
    assert not any(token in f"{c.key}={c.value}" for token in tokens for c in browser.cookies.values())
    assert set(browser.cookies) <= {"sessionid", "csrftoken", "messages"}
    leaks = [r for r in caplog.records if any(t in r.getMessage() + repr(r.args) for t in tokens)]
    assert caplog.records and not leaks, [(r.name, r.getMessage()[:300]) for r in leaks]


def test_the_session_and_social_auth_hold_no_token(organization, browser, alice):
    sign_in(browser, organization, "alice")
    connection = TMIConnection.objects.get()
    social = UserSocialAuth.objects.get()
    stored = json.dumps(social.extra_data) + json.dumps(dict(browser.session))
    assert "access_token" not in social.extra_data and "refresh_token" not in social.extra_data
    assert connection.access_token not in stored and connection.refresh_token not in stored


def csrf_sign_in(organization):
    """Sign alice in with a browser whose every POST must carry the CSRF token."""
    browser = portal_client(enforce_csrf_checks=True)
    page = browser.get("/o/acme/login/").content.decode()
    provider = "tmi" if 'name="provider" value="tmi"' in page else "test"
    refused = browser.post("/o/acme/login/", {"provider": provider, "login_hint": "alice"})
    allowed = browser.post(
        "/o/acme/login/",
        {"provider": provider, "login_hint": "alice", "csrfmiddlewaretoken": browser.cookies["csrftoken"].value},
    )
    return browser, refused, allowed


def test_csrf_is_required_to_start_signing_in(organization, alice):
    _, refused, allowed = csrf_sign_in(organization)
    assert refused.status_code == 403
    assert allowed.status_code == 302 and allowed["Location"].startswith(organization.tmi_base_url)


def test_csrf_is_required_to_sign_out(organization, alice):
    browser, _, attempt = csrf_sign_in(organization)
    callback = httpx.get(attempt["Location"], follow_redirects=False).headers["location"]
    assert browser.get(callback.removeprefix("http://localhost:8000")).status_code == 302
    assert browser.post("/o/acme/logout/").status_code == 403
    assert "_auth_user_id" in browser.session and TMIConnection.objects.exists()
    token = browser.cookies["csrftoken"].value  # rotated at sign-in
    assert browser.post("/o/acme/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert "_auth_user_id" not in browser.session and not TMIConnection.objects.exists()


def test_tmi_down_between_the_page_and_the_start(organization, browser, alice, sandbox, monkeypatch):
    from portal.accounts import views
    from portal.accounts.selectors import signin_options_get

    options = signin_options_get(organization=organization)  # the page was shown while TMI was up
    monkeypatch.setattr(views, "signin_options_get", lambda organization: options)
    sandbox.stop()
    response = browser.post("/o/acme/login/", {"provider": options.providers[0].id, "login_hint": "alice"})
    assert response.status_code == 302 and response["Location"] == "/o/acme/login/"
    assert any("not answering" in str(m) for m in get_messages(response.wsgi_request))


def test_a_disabled_account_cannot_sign_in(organization, browser, alice, django_user_model):
    sign_in(portal_client(), organization, "alice")
    django_user_model.objects.update(is_active=False)
    response = sign_in(browser, organization, "alice")
    assert_back_on_login(browser, response, "disabled")
    assert "_auth_user_id" not in browser.session
