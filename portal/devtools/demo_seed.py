"""The demo's organisations and members, seeded into the portal's database.

Two tenants on the demo sandbox: `acme` (alice owner, bob member) and `globex` (carol owner).
Each member is the portal user the sign-in pipeline finds when that person signs in at the
sandbox's test IdP. The pipeline (portal/accounts/pipeline.py) knows people by their TMI identity,
social-auth's UserSocialAuth row for backend "tmi" keyed by `tmi_identity_key` (server URL,
provider, subject), and never by the test IdP's unverified email; so each seeded user gets that
row, plus username = the login hint and email = what TMI reports for it in the sandbox's
generation (alice@tmi.local at 1.8, alice@test.tmi at 0.217).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from social_django.models import UserSocialAuth

from portal.accounts.backend import TMIOAuth2, tmi_identity_key
from portal.organizations.models import Membership, Organization, Role
from portal.sandbox.builtin_idp import Identity, identity_for
from portal.sandbox.config import SandboxConfig


@dataclass(frozen=True)
class DemoOrganization:
    slug: str
    name: str
    brand_colour: str
    members: tuple[tuple[str, Role], ...]  # (login hint, role)


DEMO_ORGANIZATIONS: tuple[DemoOrganization, ...] = (
    DemoOrganization("acme", "Acme", "#1f6feb", (("alice", Role.OWNER), ("bob", Role.MEMBER))),
    DemoOrganization("globex", "Globex", "#8250df", (("carol", Role.OWNER),)),
)


def demo_identity(*, hint: str, tmi_version: str) -> Identity:
    """Who the sandbox's test IdP says `hint` is; the sandbox is the one source of it."""
    return identity_for(SandboxConfig(generation=tmi_version), hint)


@transaction.atomic
def demo_seed(*, tmi_url: str, tmi_version: str = "1.8") -> list[Organization]:
    """Create or update the demo organisations, users and memberships, on the TMI server at `tmi_url`
    (the demo's sandbox, or with `demo --tmi-url` a real one whose test IdP issues the same identities,
    PROTOCOL.md 3.3). Running it again changes nothing but what differs (the URL, the generation's
    emails), and duplicates nothing."""
    user_model = get_user_model()
    organizations = []
    for demo in DEMO_ORGANIZATIONS:
        organization, _ = Organization.objects.update_or_create(
            slug=demo.slug,
            defaults={"name": demo.name, "tmi_base_url": tmi_url, "brand_colour": demo.brand_colour},
        )
        organization.full_clean()
        for hint, role in demo.members:
            identity = demo_identity(hint=hint, tmi_version=tmi_version)
            user, created = user_model.objects.get_or_create(username=hint)
            user.email = identity.email
            if created:
                # Demo people sign in through TMI only; a portal password would be a second way in.
                user.set_unusable_password()
            user.save()
            Membership.objects.update_or_create(organization=organization, user=user, defaults={"role": role})
            # Organisations on one TMI server share the key: one row per person, however many join.
            UserSocialAuth.objects.update_or_create(
                provider=TMIOAuth2.name,
                uid=tmi_identity_key(organization, identity.provider, identity.provider_id),
                defaults={"user": user},
            )
        organizations.append(organization)
    return organizations


def demo_sign_in_hint(*, portal_url: str) -> str:
    """Where to go and whom to sign in as, for the demo's banner."""
    acme, globex = DEMO_ORGANIZATIONS
    people = " or ".join(f"{hint} ({Role(role).label.lower()})" for hint, role in acme.members)
    others = " or ".join(hint for hint, _ in globex.members)
    return (
        f"Open {portal_url}/o/{acme.slug}/ and sign in with the test provider and login hint {people};\n"
        f"    {portal_url}/o/{globex.slug}/ with {others}"
    )
