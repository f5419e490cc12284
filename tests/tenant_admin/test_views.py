"""The admin pages as people use them: messages in words, bad input kept and explained, links shown once."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from portal.organizations.models import Invitation, Membership, Organization, Role
from tests.tenant_admin.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def image_bytes(fmt: str, size=(40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def url(name, *args):
    return reverse(f"tenant_admin:{name}", args=["acme", *args])


def test_an_invitation_link_is_shown_once_and_emailed(world):
    client = client_for(world.users["admin"])
    done = client.post(url("invite"), {"email": "zoe@example.com", "role": "member"})
    assert done.status_code == 302
    first = client.get(url("members")).content.decode()
    link = mail.outbox[0].body.split("\n")[3]
    assert link.startswith("http://testserver/invitations/") and f'value="{link}"' in first
    assert "We emailed this link" in first
    assert link not in client.get(url("members")).content.decode()  # only once


def test_a_bad_email_is_explained_and_nothing_is_sent(world):
    page = client_for(world.users["admin"]).post(url("invite"), {"email": "not an email", "role": "member"})
    assert page.status_code == 400 and "Enter a valid email address." in page.content.decode()
    assert 'value="not an email"' in page.content.decode()  # what was typed is kept
    assert not mail.outbox and Invitation.objects.filter(organization=world.acme).count() == 1


def test_bad_domains_are_explained_and_kept(world):
    page = client_for(world.users["admin"]).post(url("domains"), {"domains": "example.org\nnot a domain!"})
    html = page.content.decode()
    assert page.status_code == 400 and "These are not email domains" in html and "not a domain!" in html
    assert Organization.objects.get(pk=world.acme.pk).allowed_email_domains == []
    client_for(world.users["admin"]).post(url("domains"), {"domains": "@Example.org, acme.test"})
    assert Organization.objects.get(pk=world.acme.pk).allowed_email_domains == ["acme.test", "example.org"]


def test_the_last_owner_rule_is_explained(world):
    client = client_for(world.users["owner"])
    own = Membership.objects.get(organization=world.acme, user=world.users["owner"])
    page = client.post(url("member_role", own.pk), {"role": "member"}, follow=True)
    assert "is the last owner" in page.content.decode()
    assert Membership.objects.get(pk=own.pk).role == Role.OWNER


def test_an_admin_cannot_make_an_owner_and_is_told_why(world):
    page = client_for(world.users["admin"]).post(url("member_role", world.target.pk), {"role": "owner"}, follow=True)
    assert "Only an owner may make someone an owner" in page.content.decode()
    assert Membership.objects.get(pk=world.target.pk).role == Role.MEMBER


def test_the_members_page_lists_people_with_their_tmi_state(world):
    html = client_for(world.users["admin"]).get(url("members")).content.decode()
    for email in ("alice@example.com", "bob@example.com", "dave@example.com", "erin@example.com"):
        assert f'data-member="{email}"' in html
    assert "carol@example.com" not in html and "gina@example.com" not in html
    assert "never signed in" in html and "new@example.com" in html  # the pending invitation


def test_an_invitation_whose_inviter_is_gone_is_listed(world):
    """Made in Django admin, or its inviter's account deleted: no inviter to name, and the page still works."""
    Invitation.objects.filter(pk=world.invitation.pk).update(invited_by=None)
    page = client_for(world.users["admin"]).get(url("members"))
    assert page.status_code == 200
    row = page.content.decode().split("new@example.com", 1)[1].split("</tr>", 1)[0]
    assert '<td data-label="Invited by">—</td>' in row


def test_a_png_logo_is_stored_under_a_name_of_our_own(world):
    upload = SimpleUploadedFile("../../evil name.png", image_bytes("PNG"), content_type="image/png")
    done = client_for(world.users["admin"]).post(
        url("branding"), {"name": "Acme Ltd", "brand_colour": "#AA3300", "logo": upload}
    )
    assert done.status_code == 302
    org = Organization.objects.get(pk=world.acme.pk)
    assert org.name == "Acme Ltd" and org.brand_colour == "#aa3300"
    assert org.logo.name.startswith("logos/acme-") and org.logo.name.endswith(".png") and "evil" not in org.logo.name
    # The pages use it.
    html = client_for(world.users["admin"]).get(url("branding")).content.decode()
    assert org.logo.url in html and "--brand: #aa3300" in html
    # Anyone may fetch it (the sign-in page shows it), as the image it is.
    served = client_for(None).get(org.logo.url)
    assert org.logo.url.startswith("/media/logos/") and served.status_code == 200
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"
    # What is served is the stored file: the upload, re-encoded (test_branding_logos.py has the rules).
    assert served.content == org.logo.open("rb").read()
    assert Image.open(io.BytesIO(served.content)).size == (40, 40)


def test_only_logos_in_use_are_served(world, settings):
    (settings.MEDIA_ROOT / "logos").mkdir(parents=True)
    (settings.MEDIA_ROOT / "logos" / "stray.png").write_bytes(image_bytes("PNG"))
    (settings.MEDIA_ROOT / "exports").mkdir(parents=True)
    (settings.MEDIA_ROOT / "exports" / "secret.pdf").write_bytes(b"%PDF")
    anonymous = client_for(None)
    assert anonymous.get("/media/logos/stray.png").status_code == 404
    assert anonymous.get("/media/exports/secret.pdf").status_code == 404
    assert anonymous.get("/media/logos/..%2Fexports%2Fsecret.pdf").status_code == 404


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG is not accepted"),
        ("logo.png", b"GIF89a not really a png", "must be a PNG or JPEG"),
        ("logo.gif", None, "must be a PNG or JPEG"),
        ("huge.png", b"\x89PNG" + b"0" * (600 * 1024), "too large"),
    ],
)
def test_bad_logos_are_refused_in_words_and_nothing_changes(world, filename, content, message):
    if content is None:
        content = image_bytes("GIF")
    page = client_for(world.users["admin"]).post(
        url("branding"), {"name": "Renamed", "brand_colour": "#123456", "logo": SimpleUploadedFile(filename, content)}
    )
    assert page.status_code == 400 and message in page.content.decode()
    org = Organization.objects.get(pk=world.acme.pk)
    assert org.name == "Acme" and not org.logo


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#GGGGGG", '" onload=alert(1)'])
def test_a_bad_colour_is_refused(world, colour):
    page = client_for(world.users["admin"]).post(url("branding"), {"name": "Acme", "brand_colour": colour})
    assert page.status_code == 400
    assert Organization.objects.get(pk=world.acme.pk).brand_colour == "#1f6feb"


def test_client_secret_is_never_shown_back(world):
    client = client_for(world.users["owner"])
    client.post(url("credentials"), {"client_id": "portal-jobs", "client_secret": "hunter2-secret"})
    html = client.get(url("connection")).content.decode()
    assert "hunter2-secret" not in html and 'id="credentials-state">set<' in html and "portal-jobs" in html


def test_health_panel_speaks_plainly(world):
    from portal.accounts.vault import tmi_connection_store
    from portal.tmi import TokenPair

    # The schedule's owner has working TMI access, so nobody needs to sign in again.
    tmi_connection_store(
        organization=world.acme,
        user=world.users["owner"],
        provider="tmi",
        subject="alice",
        tokens=TokenPair(access_token="a", refresh_token="r", expires_in=3600),
    )
    html = client_for(world.users["admin"]).get(url("health")).content.decode()
    assert "Not reachable" in html and "refused" in html
    assert "No heartbeat yet — is the worker running?" in html
    assert "Nobody. Everyone's TMI access is working." in html


def test_health_panel_names_members_who_must_sign_in_again(world):
    from portal.accounts.models import TMIConnection
    from portal.accounts.vault import tmi_connection_store
    from portal.tenant_admin.heartbeat import heartbeat_record
    from portal.tmi import TokenPair

    tmi_connection_store(
        organization=world.acme,
        user=world.users["member"],
        provider="tmi",
        subject="dave",
        tokens=TokenPair(access_token="a", refresh_token="r", expires_in=3600),
    )
    TMIConnection.objects.filter(user=world.users["member"]).update(needs_sign_in=True)
    heartbeat_record(name="worker")
    html = client_for(world.users["admin"]).get(url("health")).content.decode()
    section = html.split('id="health-sign-in"', 1)[1]
    assert "dave@example.com" in section and "Nobody." not in section
    assert "Last seen 0 s ago" in html or "Last seen 1 s ago" in html
