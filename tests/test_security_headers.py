"""Every page carries a Content-Security-Policy that allows no inline script and no inline style but the
nonce'd one, its HTML needs nothing more, and no page a signed-in person sees may be stored by a cache.

The pages are the real ones, reading TMI (the sandbox, both generations) over real sockets. Chromium's
own verdict on the same pages is tests/browser/test_csp.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client, override_settings
from PIL import Image

from portal.exports.jobs import export_job_create
from portal.organizations.services import invitation_create
from tests.dashboard.conftest import MODEL_BACKEND

PAYMENTS = "Customer Payments API"  # seeded: alice owns it, with diagrams


class InlineCode(HTMLParser):
    """What in a page needs 'unsafe-inline': scripts without src, event-handler and style attributes,
    javascript: URLs; and the nonce of each <style>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[str] = []
        self.style_nonces: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src") and attributes.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.style_nonces.append(attributes.get("nonce") or "")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict_page(response, *, form_action: bool = True) -> None:
    path = response.request["PATH_INFO"]
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], path  # no 'unsafe-inline', no 'unsafe-eval', no nonce
    assert "'unsafe-inline'" not in policy["style-src"] and "'self'" in policy["style-src"], path
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert set(policy["connect-src"]) == {"'self'", "ws://testserver"}, path
    if form_action:
        assert policy["form-action"] == ["'self'"], path
    html = response.content.decode()
    page = InlineCode(html)
    assert page.found == [], f"{path} needs inline code: {page.found}"
    nonces = [value[len("'nonce-") : -1] for value in policy["style-src"] if value.startswith("'nonce-")]
    for nonce in page.style_nonces:
        assert nonce and nonce in nonces, f"{path}: a <style> without the response's nonce"


@pytest.fixture
def world(transactional_db, organization, owner, sandbox):
    organization.brand_colour = "#aa3300"
    organization.save()
    alice = owner
    model = next(tm for tm in sandbox.state.threat_models.values() if tm["name"] == PAYMENTS)
    client = Client()
    client.force_login(alice, backend=MODEL_BACKEND)
    return organization, alice, model, client


def signed_in_pages(organization, alice, model) -> list[str]:
    slug = organization.slug
    job = export_job_create(organization=organization, actor=alice, kind="portfolio")
    admin = f"/o/{slug}/admin"
    return [
        "/",
        f"/o/{slug}/",
        f"/o/{slug}/threat-models/",
        f"/o/{slug}/threat-models/{model['id']}/",
        f"/o/{slug}/threat-models/{model['id']}/diagrams/{model['diagrams'][0]['id']}/live/",
        f"/o/{slug}/exports/",
        f"/o/{slug}/exports/{job.pk}/",
        f"{admin}/",
        f"{admin}/tmi/",
        f"{admin}/branding/",
        f"{admin}/audit/",
        f"{admin}/health/",
        f"{admin}/schedules/",
        f"{admin}/schedules/new/",
    ]


def test_every_signed_in_page_has_a_strict_policy_no_inline_code_and_is_never_stored(world):
    organization, alice, model, client = world
    for path in signed_in_pages(organization, alice, model):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict_page(response)
        cache_control = {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}
        assert {"private", "no-store"} <= cache_control, f"{path}: Cache-Control {cache_control}"
        assert "public" not in cache_control


def test_the_brand_colour_is_a_nonced_style_and_a_hostile_one_never_reaches_it(world):
    organization, alice, model, client = world
    response = client.get(f"/o/{organization.slug}/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">body {{ --brand: #aa3300; }}</style>' in response.content.decode()
    # Each response gets a fresh nonce, so an old page's nonce opens nothing.
    again = client.get(f"/o/{organization.slug}/")
    assert nonce not in again.headers["Content-Security-Policy"]


def test_anonymous_pages_have_the_policy_and_may_be_cached_as_usual(organization, sandbox, transactional_db):
    client = Client()
    _, token = invitation_create(organization=organization, email="new@example.com")
    login = client.get(f"/o/{organization.slug}/login/")
    assert login.status_code == 200
    # Sign-in forms are answered with a redirect to TMI and on to its identity provider: no form-action here.
    assert_strict_page(login, form_action=False)
    assert "form-action" not in policy_of(login)
    for path in ("/", f"/invitations/{token}/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict_page(response)
    home = client.get("/")
    assert "no-store" not in home.headers.get("Cache-Control", "")
    invalid = client.get("/invitations/not-a-token/")
    assert invalid.status_code == 404
    assert_strict_page(invalid)


def test_provider_icons_at_tmi_are_allowed_on_the_sign_in_page_only(organization, sandbox, db):
    from django.http import HttpResponse

    from portal.security_headers import sign_in_page_policy

    response = sign_in_page_policy(
        HttpResponse(),
        image_urls=[
            "https://tmi.example.com/static/google.svg",
            "",
            "https://icons.example.org/a.png?x=1",
            "javascript:alert(1)",
        ],
    )
    assert response._csp_update == {"img-src": ["https://icons.example.org", "https://tmi.example.com"]}
    assert response._csp_replace == {"form-action": None}


@pytest.mark.django_db
def test_static_files_and_logos_stay_public_for_a_signed_in_person(client, django_user_model, settings, tmp_path):
    from portal.organizations.models import Organization

    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "logos").mkdir()
    Image.new("RGB", (8, 8), "#aa3300").save(tmp_path / "logos" / "acme.png")
    Organization.objects.create(name="Acme", slug="acme", tmi_base_url="http://127.0.0.1:9", logo="logos/acme.png")
    client.force_login(django_user_model.objects.create(username="alice"), backend=MODEL_BACKEND)
    logo = client.get("/media/logos/acme.png")
    assert logo.status_code == 200
    assert "no-store" not in logo.headers.get("Cache-Control", "") and "private" not in logo.headers.get(
        "Cache-Control", ""
    )


@pytest.mark.django_db
def test_not_found_and_server_error_are_the_products_pages_with_the_policy(client, django_user_model):
    client.force_login(django_user_model.objects.create(username="bob"), backend=MODEL_BACKEND)
    missing = client.get("/o/acme/no-such-page/")
    assert missing.status_code == 404
    text = missing.content.decode()
    assert "We could not find that page" in text and "URLconf" not in text and "urlpatterns" not in text
    assert_strict_page(missing)
    assert "no-store" in missing.headers["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.urls("tests.failing_urls")
@override_settings(DEBUG=False)
def test_a_server_error_shows_the_products_page_with_its_style_nonced():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text and "Traceback" not in text and "RuntimeError" not in text
    assert_strict_page(response)
    assert len(InlineCode(text).style_nonces) == 1  # its own, self-contained look, allowed by the nonce


def test_an_aligned_table_in_a_tmi_note_needs_no_style_attribute(world, sandbox):
    """markdown-it writes column alignment as style attributes, which the policy blocks: they become classes."""
    organization, alice, model, client = world
    model["notes"][0]["content"] = "| threat | score |\n|:--|--:|\n| spoofing | 9 |\n"
    response = client.get(f"/o/{organization.slug}/threat-models/{model['id']}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td class="align-right">9</td>' in html
    assert_strict_page(response)
