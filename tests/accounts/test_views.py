"""The sign-in page, sign-out and invitation pages (the round trip itself is in test_signin_flow.py)."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from portal.organizations.models import Organization, Role
from portal.organizations.services import invitation_create, invitation_token_hash
from tests.accounts.flow import idp_of
from tests.sandbox.helpers import add_fault

pytestmark = pytest.mark.django_db(transaction=True)


def providers_fault(organization, providers):
    add_fault(
        organization.tmi_base_url,
        path_prefix="/oauth2/providers",
        method="GET",
        status=200,
        body=json.dumps({"providers": providers}),
        times=10,
    )


def provider(id_, name, icon):
    return {"id": id_, "name": name, "icon": icon, "auth_url": f"/oauth2/authorize?idp={id_}"}


def test_an_unknown_organisation_is_404(db, browser):
    assert browser.get("/o/nope/login/").status_code == 404
    assert browser.post("/o/nope/login/", {"provider": "tmi"}).status_code == 404
    assert browser.post("/o/nope/logout/").status_code == 404


def test_the_page_lists_the_providers_of_the_organisations_tmi(organization, browser, generation):
    page = browser.get("/o/acme/login/")
    assert page.status_code == 200
    html = page.content.decode()
    idp = "tmi" if generation == "1.8" else "test"
    assert "Sign in to Acme" in html
    assert f'name="provider" value="{idp}"' in html
    assert f'src="{organization.tmi_base_url}/static/provider-logos/signin/{idp}.svg"' in html  # made absolute
    assert '<label for="login-hint-' in html and 'name="login_hint"' in html
    pattern = "[a-zA-Z0-9._%+\\-]+" if generation == "1.8" else "[a-zA-Z0-9\\-]{3,20}"
    assert f'pattern="{pattern}"' in html
    assert 'name="csrfmiddlewaretoken"' in html and 'method="post"' in html


def test_the_page_shows_the_organisations_branding(organization, browser):
    organization.brand_colour = "#123abc"
    organization.logo.name = "logos/acme.png"
    organization.save()
    html = browser.get("/o/acme/login/").content.decode()
    assert "--brand: #123abc" in html and 'alt="Acme logo"' in html and "logos/acme.png" in html


def test_a_colour_that_slipped_past_validation_is_not_used(organization, browser):
    Organization.objects.filter(pk=organization.pk).update(brand_colour="red;}")
    html = browser.get("/o/acme/login/").content.decode()
    assert "red;}" not in html and "--brand: #1f6feb" in html


def test_everything_from_tmi_and_the_organisation_is_escaped(organization, browser):
    Organization.objects.filter(pk=organization.pk).update(name="<b>Acme</b>")
    providers_fault(
        organization,
        [
            provider("evil", '<script>alert("x")</script>', "javascript:alert(1)"),
            provider("google", "Google", "https://cdn.example/google.svg"),
            provider("github", "Git<Hub>", "icons/github.svg"),
            provider("test", "Test Provider", "flask-vial"),  # the real 0.217.8: an icon name, not an address
        ],
    )
    html = browser.get("/o/acme/login/?next=%22%3E%3Cscript%3Ealert(1)%3C/script%3E").content.decode()
    assert "<script>" not in html and "<b>Acme</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and "&lt;b&gt;Acme&lt;/b&gt;" in html
    assert "javascript:" not in html  # an icon that is not http(s) is dropped
    assert 'src="https://cdn.example/google.svg"' in html
    assert f'src="{organization.tmi_base_url}/icons/github.svg"' in html
    assert "flask-vial" not in html  # no image TMI cannot serve
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_only_the_organisations_chosen_providers_are_offered(organization, browser):
    providers_fault(organization, [provider("google", "Google", None), provider("github", "GitHub", None)])
    organization.identity_providers = ["github"]
    organization.save()
    html = browser.get("/o/acme/login/").content.decode()
    assert 'value="github"' in html and 'value="google"' not in html
    refused = browser.post("/o/acme/login/", {"provider": "google"})
    assert refused.status_code == 400 and "Choose one of the identity providers listed." in refused.content.decode()


def test_tmi_down_says_so_with_a_way_to_try_again(organization, browser, sandbox):
    sandbox.stop()
    page = browser.get("/o/acme/login/")
    assert page.status_code == 503
    html = page.content.decode()
    assert "is not answering right now" in html and '<a href="/o/acme/login/">Try again</a>' in html


def test_tmi_errors_make_the_same_page(organization, browser):
    add_fault(organization.tmi_base_url, path_prefix="/oauth2/providers", status=500, times=10)
    assert browser.get("/o/acme/login/").status_code == 503
    cache.clear()  # a failure is remembered for a few seconds (tmi_providers_fetch): ask TMI again now
    providers_fault(organization, "not a list")
    assert browser.get("/o/acme/login/").status_code == 503


@pytest.mark.parametrize("hint", ["", "alice@example.com", "<script>", "x" * 255])
def test_a_bad_login_hint_is_refused_with_a_clear_error(organization, browser, hint):
    response = browser.post("/o/acme/login/", {"provider": idp_of(organization), "login_hint": hint})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert" class="field-error"' in html and 'aria-invalid="true"' in html
    assert "<script>" not in html


def test_hint_rules_follow_the_generation(organization, browser, generation):
    # Two letters: fine by 1.8's pattern, too short for 0.217's.
    response = browser.post("/o/acme/login/", {"provider": idp_of(organization), "login_hint": "al"})
    assert response.status_code == (302 if generation == "1.8" else 400)
    dotted = browser.post("/o/acme/login/", {"provider": idp_of(organization), "login_hint": "alice.b"})
    assert dotted.status_code == (302 if generation == "1.8" else 400)


def test_an_unknown_provider_is_refused(organization, browser):
    response = browser.post("/o/acme/login/", {"provider": "nope", "login_hint": "alice"})
    assert response.status_code == 400 and "Choose one of the identity providers listed." in response.content.decode()


def test_sign_in_cannot_be_started_with_get(organization, browser):
    # A GET only shows the page: a third party cannot start a sign-in with a link.
    page = browser.get(f"/o/acme/login/?provider={idp_of(organization)}&login_hint=alice")
    assert page.status_code == 200 and "tmi_signin" not in browser.session


def test_sign_out_is_post_only(organization, browser):
    assert browser.get("/o/acme/logout/").status_code == 405


def test_the_callback_is_get_only(organization, browser):
    assert browser.post("/auth/complete/tmi/").status_code == 405
    assert browser.get("/auth/complete/other/").status_code == 404


# -- invitations ---------------------------------------------------------------------------------
def test_an_invitation_shows_organisation_role_and_expiry(organization, browser):
    _, token = invitation_create(organization=organization, email="zoe@example.com", role=Role.ADMIN)
    page = browser.get(f"/invitations/{token}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "You are invited to Acme" in html and "zoe@example.com" in html and "Admin" in html
    assert "<time datetime=" in html and 'name="csrfmiddlewaretoken"' in html
    assert "tmi_invitation" not in browser.session  # nothing is kept until the person chooses to accept


def test_accepting_keeps_the_token_hash_and_goes_to_sign_in(organization, browser):
    _, token = invitation_create(organization=organization, email="zoe@example.com")
    response = browser.post(f"/invitations/{token}/")
    assert response.status_code == 302 and response["Location"] == "/o/acme/login/"
    assert browser.session["tmi_invitation"] == invitation_token_hash(token)
    assert token not in json.dumps(dict(browser.session))


def test_an_unknown_invitation_is_404(db, browser):
    page = browser.get("/invitations/not-a-token/")
    assert page.status_code == 404 and "We do not know this invitation link" in page.content.decode()
    assert browser.post("/invitations/not-a-token/").status_code == 404


def test_an_expired_invitation_is_410(organization, browser):
    invitation, token = invitation_create(organization=organization, email="zoe@example.com")
    invitation.expires_at = timezone.now() - timedelta(minutes=1)
    invitation.save()
    page = browser.get(f"/invitations/{token}/")
    assert page.status_code == 410 and "has expired" in page.content.decode()
    assert browser.post(f"/invitations/{token}/").status_code == 410 and "tmi_invitation" not in browser.session


def test_a_used_invitation_is_410(organization, browser):
    invitation, token = invitation_create(organization=organization, email="zoe@example.com")
    invitation.accepted_at = timezone.now()
    invitation.save()
    page = browser.get(f"/invitations/{token}/")
    assert page.status_code == 410 and "already been accepted" in page.content.decode()


def test_a_member_whose_tmi_sign_in_was_refused_sees_a_banner_on_every_tenant_page(
    client, organization, member_factory
):
    from portal.accounts.models import TMIConnection

    user = member_factory(organization, "alice", role="owner")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    page = reverse("exports:list", args=[organization.slug])
    assert "Your sign-in at TMI has expired" not in client.get(page).content.decode()
    TMIConnection.objects.filter(user=user).update(needs_sign_in=True)
    body = client.get(page).content.decode()
    assert "Your sign-in at TMI has expired" in body
    assert f'href="/o/{organization.slug}/login/?next=' in body
