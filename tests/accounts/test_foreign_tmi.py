"""An organisation's TMI server vouches for nobody outside that organisation (issue 10, item 1).

The attack: the owner of globex points globex at a TMI server they run, invites (or admits by
domain) the email of someone in acme, a staff user or a superuser, and signs in there as that
person with `email_verified: true`. Two real sandboxes over real sockets play acme's TMI and the
attacker's. The portal must make the attacker a new, separate person: their browser then gets
nothing of acme (pages, admin area, exports, the live socket, the Django admin), acme's data is
unchanged, and the victim's TMI tokens are never used.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.files.base import ContentFile
from social_django.models import UserSocialAuth

from portal.accounts.models import TMIConnection
from portal.accounts.vault import tmi_connection_store
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.exports.models import ExportJob, ExportKind, ExportStatus
from portal.organizations.models import Invitation, Membership, Organization, Role
from portal.organizations.services import invitation_create
from portal.sandbox.builtin_idp import identity_for
from portal.sandbox.config import SandboxConfig
from portal.tmi import TokenPair
from tests.accounts.flow import PORTAL_HOST, portal_client, sign_in
from tests.sandbox.helpers import login

pytestmark = pytest.mark.django_db(transaction=True)

# Any ids will do: the gate refuses before the threat model or diagram is looked at.
THREAT_MODEL = "6f1d9c2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f"
DIAGRAM = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CLOSE_NOT_FOUND = 4404


def email_at(generation: str, hint: str) -> str:
    """What the sandbox's test IdP reports for `hint` in this generation."""
    return identity_for(SandboxConfig(generation=generation), hint).email


@pytest.fixture
def acme_tmi(sandbox_factory, generation):
    return sandbox_factory(generation)


@pytest.fixture
def acme(db, acme_tmi):
    return Organization.objects.create(name="Acme", slug="acme", tmi_base_url=acme_tmi.base_url)


def target_member(acme, generation, django_user_model):
    """alice, acme's owner, who signed in at acme's TMI through the portal (identity row and tokens)."""
    invitation_create(organization=acme, email=email_at(generation, "alice"), role=Role.OWNER)
    assert sign_in(portal_client(), acme, "alice").status_code == 302
    return django_user_model.objects.get(memberships__organization=acme)


def target_privileged(acme, django_user_model, *, superuser: bool):
    """A platform operator (Django admin login) who is also acme's owner with tokens at acme's TMI."""
    name = "root" if superuser else "staff"
    make = django_user_model.objects.create_superuser if superuser else django_user_model.objects.create_user
    user = make(
        username=name,
        email=f"{name}@portal.example",
        password="a long operator password",
        **({} if superuser else {"is_staff": True}),
    )
    Membership.objects.create(organization=acme, user=user, role=Role.OWNER)
    tmi_connection_store(
        organization=acme, user=user, tokens=TokenPair(**login(acme.tmi_base_url, name)), provider="tmi", subject=name
    )
    return user


@pytest.fixture
def world(acme, generation, django_user_model, tmp_path, settings):
    """`world(target)`: acme with its target person (member, staff or superuser), an export of
    theirs on disk and an audit row."""
    settings.MEDIA_ROOT = tmp_path / "media"

    def build(target: str):
        if target == "member":
            victim = target_member(acme, generation, django_user_model)
        else:
            victim = target_privileged(acme, django_user_model, superuser=target == "superuser")
        job = ExportJob.objects.create(
            organization=acme,
            kind=ExportKind.PORTFOLIO,
            requested_by=victim,
            status=ExportStatus.SUCCEEDED,
            title="Acme portfolio",
            file_name="acme-portfolio.pdf",
        )
        job.file.save("acme-portfolio.pdf", ContentFile(b"%PDF-1.7 acme's secrets"))
        audit_record(organization=acme, action="organization.branding_changed", actor=victim)
        return victim, job

    return build


def acme_snapshot(acme) -> dict:
    """Everything of acme the attack could change, as plain values."""
    return {
        "memberships": sorted(Membership.objects.filter(organization=acme).values_list("user_id", "role")),
        "connections": sorted(
            (c.pk, c.user_id, c.access_token, c.refresh_token, c.needs_sign_in)
            for c in TMIConnection.objects.filter(organization=acme)
        ),
        "audit": sorted(AuditEvent.objects.filter(organization=acme).values_list("pk", "action", "actor_id")),
        "invitations": sorted(Invitation.objects.filter(organization=acme).values_list("pk", "email", "accepted_at")),
        "exports": sorted(ExportJob.objects.filter(organization=acme).values_list("pk", "status", "requested_by_id")),
        "organization": Organization.objects.filter(pk=acme.pk).values().get(),
    }


def victim_snapshot(victim) -> dict:
    victim.refresh_from_db()
    return {
        "identities": sorted(UserSocialAuth.objects.filter(user=victim).values_list("uid", flat=True)),
        "memberships": sorted(Membership.objects.filter(user=victim).values_list("organization__slug", "role")),
        "connections": sorted(TMIConnection.objects.filter(user=victim).values_list("organization__slug", flat=True)),
        "account": (victim.username, victim.email, victim.is_staff, victim.is_superuser, victim.password),
    }


def live_socket_refusal(browser) -> int | None:
    """The close code the live diagram socket answers the browser's session with (None: accepted)."""
    from portal.asgi import application

    async def connect():
        headers = [
            (b"origin", f"http://{PORTAL_HOST}".encode()),
            (b"host", PORTAL_HOST.encode()),
            (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()),
        ]
        communicator = WebsocketCommunicator(
            application, f"/ws/o/acme/threat-models/{THREAT_MODEL}/diagrams/{DIAGRAM}/live/", headers=headers
        )
        connected, code = await communicator.connect(timeout=5)
        if connected:
            await communicator.disconnect(timeout=5)
            return None
        return code

    return async_to_sync(connect)()


def acme_urls(job) -> list[str]:
    return [
        "/o/acme/",
        "/o/acme/threat-models/",
        f"/o/acme/threat-models/{THREAT_MODEL}/",
        f"/o/acme/threat-models/{THREAT_MODEL}/diagrams/{DIAGRAM}/live/",
        "/o/acme/admin/",
        "/o/acme/admin/audit/",
        "/o/acme/admin/audit.csv",
        "/o/acme/admin/tmi/",
        "/o/acme/admin/schedules/",
        "/o/acme/exports/",
        f"/o/acme/exports/{job.pk}/",
        f"/o/acme/exports/{job.pk}/status/",
        f"/o/acme/exports/{job.pk}/download/",
    ]


@pytest.mark.parametrize(
    "target, admission",
    [
        ("member", "invitation"),
        ("member", "domain"),
        ("superuser", "invitation"),
        ("superuser", "domain"),
        ("staff", "invitation"),
    ],
)
def test_a_tmi_server_run_by_another_organisation_cannot_sign_in_as_acmes_people(
    world, acme, acme_tmi, sandbox_factory, generation, django_user_model, target, admission
):
    victim, job = world(target)
    # The victim's own browser reaches what the attacker's must not (so a 404 below means something).
    own = portal_client()
    own.force_login(victim, backend="django.contrib.auth.backends.ModelBackend")
    for url in ("/o/acme/admin/", f"/o/acme/exports/{job.pk}/download/", "/o/acme/admin/audit.csv"):
        assert own.get(url).status_code == 200, url
    assert own.get("/admin/").status_code == (200 if target != "member" else 302)
    # The attacker's TMI says whatever it likes: the victim's email, verified.
    evil_tmi = sandbox_factory(generation, seed=None, vouches_for_emails=True, test_idp_emails={"alice": victim.email})
    mallory = django_user_model.objects.create_user(username="mallory", email="mallory@globex.example")
    globex = Organization.objects.create(name="Globex", slug="globex", tmi_base_url=evil_tmi.base_url)
    Membership.objects.create(organization=globex, user=mallory, role=Role.OWNER)
    if admission == "invitation":
        invitation_create(organization=globex, email=victim.email, role=Role.OWNER, invited_by=mallory)
    else:
        globex.allowed_email_domains = [victim.email.rpartition("@")[2]]
        globex.save()
    acme_before, victim_before = acme_snapshot(acme), victim_snapshot(victim)
    users_before = set(django_user_model.objects.values_list("pk", flat=True))

    attacker = portal_client()
    done = sign_in(attacker, globex, "alice")

    # The attacker is let into globex, as a new person of their own.
    assert done.status_code == 302 and done["Location"] == "/o/globex/", done.content[:300]
    who = django_user_model.objects.get(pk=attacker.session["_auth_user_id"])
    assert who.pk != victim.pk and who.pk not in users_before, "the foreign TMI's identity became the victim"
    assert who.username != victim.username and not who.is_staff and not who.is_superuser
    assert list(Membership.objects.filter(user=who).values_list("organization__slug", flat=True)) == ["globex"]

    acme_calls_before = len(acme_tmi.state.seen_subjects)
    for url in acme_urls(job):
        response = attacker.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert b"acme's secrets" not in response.content and victim.email.encode() not in response.content, url
    admin = attacker.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")
    assert live_socket_refusal(attacker) == CLOSE_NOT_FOUND
    assert len(acme_tmi.state.seen_subjects) == acme_calls_before  # nobody used the victim's tokens at acme's TMI

    assert acme_snapshot(acme) == acme_before
    assert victim_snapshot(victim) == victim_before
    assert not AuditEvent.objects.filter(actor=victim).exclude(organization=acme).exists()


def test_an_account_made_by_a_foreign_tmi_cannot_carry_its_email_into_acme(
    world, acme, sandbox_factory, generation, django_user_model
):
    """Second step: the attacker, now a portal account with alice's email (the foreign TMI said so),
    also has an account of their own at acme's TMI, which acme admits by domain. Linking it would
    make them a member of acme shown (and matched, for export recipients) as alice."""
    victim, _ = world("member")
    evil_tmi = sandbox_factory(generation, seed=None, vouches_for_emails=True, test_idp_emails={"alice": victim.email})
    globex = Organization.objects.create(
        name="Globex",
        slug="globex",
        tmi_base_url=evil_tmi.base_url,
        allowed_email_domains=[victim.email.rpartition("@")[2]],
    )
    acme.allowed_email_domains = [victim.email.rpartition("@")[2]]
    acme.save()
    attacker = portal_client()
    assert sign_in(attacker, globex, "alice")["Location"] == "/o/globex/"
    fake = django_user_model.objects.get(pk=attacker.session["_auth_user_id"])
    assert fake.pk != victim.pk and fake.email == victim.email
    acme_before = acme_snapshot(acme)

    refused = sign_in(attacker, acme, "mallory", link=True)

    assert refused.status_code == 302 and refused["Location"] == "/o/acme/login/"
    assert not Membership.objects.filter(organization=acme, user=fake).exists()
    assert UserSocialAuth.objects.filter(user=fake).count() == 1  # only the foreign TMI's identity
    assert acme_snapshot(acme) == acme_before
    assert attacker.get("/o/acme/").status_code == 404
