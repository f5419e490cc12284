"""Every portal URL, as an anonymous visitor, as a member of another organisation and as each role.

The URL list comes from the resolver: a new URL fails `test_every_url_is_in_the_matrix` until someone
decides who may see it, so nothing is missed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from portal.exports.models import ExportJob
from tests.dashboard.conftest import find_model, sign_in
from tests.tenant_admin.test_access_matrix import MATRIX as ADMIN_MATRIX
from tests.tenant_admin.test_access_matrix import URL_NAME

pytestmark = pytest.mark.django_db(transaction=True)
# The smallest valid PNG: a 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)

ROLES = ("owner", "admin", "member")
# Members of acme by role (each signed in at TMI), and a member of globex only.
ROLE_USERS = {"owner": "alice", "admin": "bob", "member": "dave"}
OUTSIDER = "carol"
SHARED_MODEL = "Identity and SSO Gateway"  # readable by alice, bob and dave (seed role matrix)


@dataclass(frozen=True)
class Expect:
    """Expected status per visitor: `anonymous`, `outsider` (a member of another organisation), and `roles`."""

    method: str
    anonymous: int
    outsider: int
    roles: int | dict[str, int]  # one status for every role, or one per role
    anonymous_to_sign_in: bool = False  # the anonymous answer redirects to acme's sign-in page


TENANT_PAGE = Expect("get", 302, 404, 200, anonymous_to_sign_in=True)
# The matrix's export was asked for by the member: it holds what their TMI access can read, so only they open
# it, whatever the others' roles (issue 10.2).
REQUESTERS_EXPORT = Expect("get", 302, 404, {"owner": 404, "admin": 404, "member": 200}, anonymous_to_sign_in=True)
PUBLIC_PAGE = Expect("get", 200, 200, 200)

MATRIX: dict[str, Expect] = {
    "home": PUBLIC_PAGE,
    "healthz": PUBLIC_PAGE,
    "favicon": Expect("get", 302, 302, 302),  # to the icon's static file, for everyone
    "dashboard:portfolio": TENANT_PAGE,
    "dashboard:threat_models": TENANT_PAGE,
    "dashboard:threat_model": TENANT_PAGE,
    # The register and the spreadsheets: every member, each reading only their own visible models.
    "dashboard:threats": TENANT_PAGE,
    "dashboard:changes": TENANT_PAGE,  # what changed and trends: each member's own visible models
    "dashboard:trends": TENANT_PAGE,
    "dashboard:threats_csv": TENANT_PAGE,
    "dashboard:threats_xlsx": TENANT_PAGE,
    "dashboard:threat_models_csv": TENANT_PAGE,
    "dashboard:threat_models_xlsx": TENANT_PAGE,
    # "Refresh now": asks for a sync of the member's own models, then back to their page.
    "dashboard:refresh": Expect("post", 302, 404, 302, anonymous_to_sign_in=True),
    "accounts:login": PUBLIC_PAGE,  # public by design: the organisation's sign-in page
    "accounts:logout": Expect("post", 302, 302, 302),  # signs the visitor out (only themselves), to sign-in
    "accounts:invitation": PUBLIC_PAGE,  # the link in the invitation email; the token is the secret
    # The link a member is emailed after a move to another TMI server (dave's here): only they, or a browser
    # signed in as nobody, may use it (accounts/moving.py).
    "accounts:relink": Expect("get", 200, 403, {"owner": 403, "admin": 403, "member": 200}),
    "social:complete": Expect("get", 302, 302, 302),  # TMI's callback: without a sign-in under way, a redirect
    # The "TMI is busy" page's continuation: without a sign-in waiting in this browser's session, a redirect.
    "social:continue": Expect("get", 302, 302, 302),
    "admin:index": Expect("get", 302, 302, 302),  # Django admin: platform staff only, to its own login
    "live:diagram": TENANT_PAGE,
    "exports:list": TENANT_PAGE,
    "exports:job": REQUESTERS_EXPORT,
    "exports:status": REQUESTERS_EXPORT,
    "exports:download": REQUESTERS_EXPORT,
    "exports:download_spreadsheet": REQUESTERS_EXPORT,  # a scheduled run's register spreadsheet
    # Without a `kind` nothing is queued: members are sent back to the list with a message.
    "exports:create": Expect("post", 302, 404, 302, anonymous_to_sign_in=True),
    "tenant_admin:logo": Expect("get", 200, 200, 200),  # public: logos show on sign-in pages
}
# The admin area has a matrix of its own, with owner/admin/member distinctions and every action.
ADMIN_NAMES = {f"tenant_admin:{URL_NAME.get(action, action)}" for action in ADMIN_MATRIX}


def url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                if pattern.namespace == "admin":
                    names.add("admin:index")  # one page stands for Django's admin site and its staff gate
                    continue
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                names.add(f"{namespace}{pattern.name}" if pattern.name else f"<unnamed {pattern.pattern}>")

    walk(get_resolver().url_patterns)
    return names


def test_every_url_is_in_a_matrix():
    assert url_names() == set(MATRIX) | ADMIN_NAMES


@pytest.fixture
def world(organization, other_organization, member_factory, sandbox, django_user_model):
    from portal.organizations.services import invitation_create, membership_relink_issue

    users = {role: member_factory(organization, hint, role=role) for role, hint in ROLE_USERS.items()}
    users["outsider"] = member_factory(other_organization, OUTSIDER, role="owner")
    _, token = invitation_create(
        organization=organization, email="new@example.com", role="member", invited_by=users["owner"]
    )
    _, relink_token = membership_relink_issue(membership=organization.memberships.get(user=users["member"]))
    model = find_model(sandbox, SHARED_MODEL)
    tm_id = model["id"]
    job = ExportJob.objects.create(
        organization=organization,
        kind="threat_model",
        threat_model_id=tm_id,
        requested_by=users["member"],
        status="succeeded",
        file_name="report.pdf",
    )
    job.file.save("report.pdf", ContentFile(b"%PDF-1.7 matrix"), save=True)
    job.spreadsheet, job.spreadsheet_name = "csv", "threats.csv"
    job.spreadsheet_file.save("threats.csv", ContentFile(b"Threat\r\n"), save=True)
    organization.logo.save("acme.png", ContentFile(PNG), save=True)
    kwargs = {
        "home": {},
        "healthz": {},
        "favicon": {},
        "admin:index": {},
        "dashboard:portfolio": {"slug": "acme"},
        "dashboard:threat_models": {"slug": "acme"},
        "dashboard:threat_model": {"slug": "acme", "threat_model_id": tm_id},
        "dashboard:changes": {"slug": "acme"},
        "dashboard:trends": {"slug": "acme"},
        "dashboard:refresh": {"slug": "acme"},
        **{
            f"dashboard:{name}": {"slug": "acme"}
            for name in ("threats", "threats_csv", "threats_xlsx", "threat_models_csv", "threat_models_xlsx")
        },
        "accounts:login": {"slug": "acme"},
        "accounts:logout": {"slug": "acme"},
        "accounts:invitation": {"token": token},
        "accounts:relink": {"token": relink_token},
        "social:complete": {"backend": "tmi"},
        "social:continue": {"backend": "tmi"},
        "live:diagram": {"slug": "acme", "threat_model_id": tm_id, "diagram_id": model["diagrams"][0]["id"]},
        "exports:list": {"slug": "acme"},
        "exports:create": {"slug": "acme"},
        **{
            f"exports:{name}": {"slug": "acme", "job_id": job.pk}
            for name in ("job", "status", "download", "download_spreadsheet")
        },
        "tenant_admin:logo": {"name": organization.logo.name.rsplit("/", 1)[-1]},
    }
    return users, {name: reverse(name, kwargs=kw) for name, kw in kwargs.items()}


def visit(user, url: str, method: str):
    client = Client()  # a fresh browser for every visit: signing out must not leak into the next one
    if user is not None:
        sign_in(client, user)
    return getattr(client, method)(url)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_anonymous_visitors(world, name):
    _, urls = world
    expect = MATRIX[name]
    response = visit(None, urls[name], expect.method)
    assert response.status_code == expect.anonymous, (name, response.status_code)
    if expect.anonymous_to_sign_in:
        login = reverse("accounts:login", args=["acme"])
        assert response["Location"].startswith(f"{login}?next="), response["Location"]


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_members_of_another_organisation(world, name):
    users, urls = world
    expect = MATRIX[name]
    assert visit(users["outsider"], urls[name], expect.method).status_code == expect.outsider, name


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_role(world, name, role):
    users, urls = world
    expect = MATRIX[name]
    expected = expect.roles if isinstance(expect.roles, int) else expect.roles[role]
    assert visit(users[role], urls[name], expect.method).status_code == expected, (name, role)


def test_unknown_organisations_look_like_foreign_ones(world):
    users, _ = world
    for name in ("dashboard:portfolio", "dashboard:threat_models"):
        url = reverse(name, kwargs={"slug": "no-such-org"})
        assert visit(users["owner"], url, "get").status_code == 404


def test_an_expired_invitation_is_not_a_page(world, organization):
    from portal.organizations.services import invitation_create

    users, _ = world
    invitation, token = invitation_create(
        organization=organization, email="late@example.com", role="member", invited_by=users["owner"]
    )
    invitation.expires_at = timezone.now() - timedelta(days=1)
    invitation.save(update_fields=["expires_at"])
    assert visit(None, reverse("accounts:invitation", args=[token]), "get").status_code == 410
