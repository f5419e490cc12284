"""Every admin URL and action × owner, admin, member, anonymous and a member of another organisation.

Owners and admins get the page (200) or the action done (302 back to the page); members and other
organisations' members get 404 (tenants cannot be discovered); anonymous visitors are sent to sign in.
Another organisation's ids inside acme's admin answer 404 and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.organizations.models import Invitation, Membership, MembershipRelink, Organization
from tests.tenant_admin.conftest import client_for


@dataclass(frozen=True)
class Action:
    method: str
    admin_status: int  # for owners and admins
    data: dict | Callable = field(default_factory=dict)  # or world -> dict
    target: str | None = None  # "membership" | "invitation" | "schedule": the URL takes that id
    owner_only: bool = False  # admins get 404 too (moving the organisation to another TMI server)


MATRIX: dict[str, Action] = {
    "members": Action("get", 200),
    "invite": Action("post", 302, {"email": "zoe@example.com", "role": "member"}),
    "invitation_resend": Action("post", 302, target="invitation"),
    "invitation_revoke": Action("post", 302, target="invitation"),
    "member_role": Action("post", 302, {"role": "admin"}, target="membership"),
    "member_remove": Action("post", 302, target="membership"),
    "domains": Action("post", 302, {"domains": "example.org"}),
    "connection": Action("get", 200),
    "connection_save": Action("post", 302, {"tmi_base_url": "http://127.0.0.1:9", "identity_providers": ["tmi"]}),
    "connection_test": Action("post", 200, {"tmi_base_url": "http://127.0.0.1:9"}),
    "tmi_move": Action("get", 302, owner_only=True),  # no move under way: back to the TMI connection page
    "tmi_move_cancel": Action("post", 302, owner_only=True),
    "member_relink": Action("post", 302, target="membership"),  # refused in words: they need no new link
    "credentials": Action("post", 302, {"client_id": "portal-jobs", "client_secret": "s3cret"}),
    "credentials_clear": Action("post", 302, {"clear": "1"}),
    "branding": Action("get", 200),
    "branding_save": Action("post", 302, {"name": "Acme Ltd", "brand_colour": "#123456"}),
    "audit": Action("get", 200),
    "audit_csv": Action("get", 200),
    "health": Action("get", 200),
    "schedules": Action("get", 200),
    "schedule_create": Action("get", 200),
    "schedule_create_save": Action("post", 302, lambda world: schedule_form(world, "Daily summary")),
    "schedule_edit": Action("get", 200, target="schedule"),
    "schedule_edit_save": Action("post", 302, lambda world: schedule_form(world, "Renamed"), target="schedule"),
    "schedule_pause": Action("post", 302, {"paused": "1"}, target="schedule"),
    "schedule_run": Action("post", 302, target="schedule"),
    "schedule_delete": Action("post", 302, target="schedule"),
    "schedule_runs": Action("get", 200, target="schedule"),
}
URL_NAME = {
    "connection_save": "connection",
    "credentials_clear": "credentials",
    "branding_save": "branding",
    "schedule_create_save": "schedule_create",
    "schedule_edit_save": "schedule_edit",
}
TARGETS = {
    "membership": ("target", "foreign_membership"),
    "invitation": ("invitation", "foreign_invitation"),
    "schedule": ("schedule", "foreign_schedule"),
}


def schedule_form(world, name: str) -> dict:
    return {
        "name": name,
        "kind": "portfolio",
        "frequency": "daily",
        "time_of_day": "08:00",
        "timezone": "Europe/Berlin",
        "run_as": "owner",
        "owner": world.users["owner"].pk,
    }


def data_of(world, name: str) -> dict:
    data = MATRIX[name].data
    return data(world) if callable(data) else data


def url_of(world, name: str, slug: str = "acme", *, foreign: bool = False) -> str:
    action = MATRIX[name]
    args: list = [slug]
    if action.target:
        args.append(getattr(world, TARGETS[action.target][1 if foreign else 0]).pk)
    return reverse(f"tenant_admin:{URL_NAME.get(name, name)}", args=args)


def request(world, user, name: str):
    action = MATRIX[name]
    client = client_for(user)
    url = url_of(world, name)
    return client.post(url, data_of(world, name)) if action.method == "post" else client.get(url)


def test_every_admin_url_is_in_the_matrix():
    from portal.tenant_admin.urls import urlpatterns

    named = {pattern.name for pattern in urlpatterns} - {"logo"}  # public, tested in test_views
    assert named == {URL_NAME.get(name, name) for name in MATRIX}


@pytest.mark.parametrize("role", ["owner", "admin"])
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_owners_and_admins(world, name, role):
    response = request(world, world.users[role], name)
    expected = 404 if role == "admin" and MATRIX[name].owner_only else MATRIX[name].admin_status
    assert response.status_code == expected, (name, role, response.status_code)
    if response.status_code == 302:
        assert response["Location"].startswith("/o/acme/admin/"), response["Location"]


def _snapshot():
    from portal.exports.models import ExportJob, ExportSchedule

    return (
        sorted(ExportSchedule.objects.values_list("pk", "organization_id", "name", "paused")),
        ExportJob.objects.count(),
        sorted(Membership.objects.values_list("pk", "organization_id", "user_id", "role")),
        sorted(Invitation.objects.values_list("pk", "email", "token_hash", "expires_at")),
        sorted(
            Organization.objects.values_list(
                "pk",
                "name",
                "tmi_base_url",
                "identity_providers",
                "allowed_email_domains",
                "brand_colour",
                "tmi_client_id",
            )
        ),
        AuditEvent.objects.count(),
        sorted(MembershipRelink.objects.values_list("pk", "token_hash", "used_at")),
    )


@pytest.mark.parametrize("who", ["member", "outsider"])
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_members_and_other_organisations_get_404_and_change_nothing(world, name, who):
    before = _snapshot()
    assert request(world, world.users[who], name).status_code == 404, (name, who)
    assert _snapshot() == before


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_anonymous_visitors_are_sent_to_sign_in(world, name):
    before = _snapshot()
    response = request(world, None, name)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login", args=["acme"]) + "?next=")
    assert _snapshot() == before


@pytest.mark.parametrize("name", sorted(name for name, action in MATRIX.items() if action.target))
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_another_organisations_ids_in_our_admin_answer_404_and_change_nothing(world, name, role):
    url = url_of(world, name, foreign=True)
    assert url.startswith("/o/acme/admin/")
    before = _snapshot()
    client = client_for(world.users[role])
    response = client.post(url, data_of(world, name)) if MATRIX[name].method == "post" else client.get(url)
    assert response.status_code == 404
    assert _snapshot() == before


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_acme_admins_cannot_use_globex_admin(world, name):
    """The slug decides the tenant: acme's owner is a stranger at /o/globex/admin/."""
    url = url_of(world, name, "globex", foreign=True)
    before = _snapshot()
    client = client_for(world.users["owner"])
    response = client.post(url, data_of(world, name)) if MATRIX[name].method == "post" else client.get(url)
    assert response.status_code == 404
    assert _snapshot() == before


def test_posts_without_the_csrf_token_are_refused(world):
    client = client_for(world.users["owner"])
    client.handler.enforce_csrf_checks = True
    before = _snapshot()
    response = client.post(reverse("tenant_admin:invite", args=["acme"]), {"email": "x@example.com", "role": "member"})
    assert response.status_code == 403
    assert _snapshot() == before


@pytest.mark.django_db(transaction=True)  # the overview is an async view
@pytest.mark.parametrize(("role", "shown"), [("owner", True), ("admin", True), ("member", False)])
def test_the_top_bar_admin_link_shows_for_owners_and_admins_only(world, role, shown):
    # The overview page answers even with TMI down (a friendly notice inside the same layout).
    from portal.accounts.vault import tmi_connection_store
    from portal.tmi import TokenPair

    tmi_connection_store(
        organization=world.acme,
        user=world.users[role],
        provider="tmi",
        subject=role,
        tokens=TokenPair(access_token="a", refresh_token="r", expires_in=3600),
    )
    page = client_for(world.users[role]).get(reverse("dashboard:portfolio", args=["acme"]))
    assert b"site-nav" in page.content
    assert (b'href="/o/acme/admin/"' in page.content) is shown
