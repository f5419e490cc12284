"""A small world for the admin area: acme (owner, admin, member, a target member, an invitation)
and globex (its owner, a member and an invitation) — for pages that need no TMI, on a dead address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import pytest
from django.test import Client

from portal.audit.models import AuditEvent
from portal.organizations.models import Invitation, Membership, Organization, Role
from portal.organizations.services import invitation_create

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
DEAD_TMI = "http://127.0.0.1:9"  # discard port: nothing listens, the refusal is immediate


@dataclass
class World:
    acme: Organization
    globex: Organization
    users: dict
    target: Membership  # an acme member the actions act upon
    invitation: Invitation  # a pending acme invitation
    foreign_membership: Membership  # a globex member
    foreign_invitation: Invitation  # a pending globex invitation
    schedule: object  # an acme report schedule
    foreign_schedule: object  # a globex report schedule


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend=MODEL_BACKEND)
    return client


@pytest.fixture
def world(db, django_user_model) -> World:
    acme = Organization.objects.create(name="Acme", slug="acme", tmi_base_url=DEAD_TMI)
    globex = Organization.objects.create(name="Globex", slug="globex", tmi_base_url=DEAD_TMI)

    def person(name, org, role):
        user = django_user_model.objects.create(username=name, email=f"{name}@example.com")
        membership = Membership.objects.create(organization=org, user=user, role=role)
        return user, membership

    users = {}
    users["owner"], _ = person("alice", acme, Role.OWNER)
    users["admin"], _ = person("bob", acme, Role.ADMIN)
    users["member"], _ = person("dave", acme, Role.MEMBER)
    users["outsider"], _ = person("carol", globex, Role.OWNER)
    _, target = person("erin", acme, Role.MEMBER)
    _, foreign_membership = person("gina", globex, Role.MEMBER)
    invitation, _ = invitation_create(organization=acme, email="new@example.com", invited_by=users["owner"])
    foreign_invitation, _ = invitation_create(
        organization=globex, email="other@example.com", invited_by=users["outsider"]
    )
    schedule = schedule_make(acme, users["owner"], "Weekly portfolio")
    foreign_schedule = schedule_make(globex, users["outsider"], "Globex weekly")
    AuditEvent.objects.all().delete()  # each test starts from an empty activity log
    return World(
        acme, globex, users, target, invitation, foreign_membership, foreign_invitation, schedule, foreign_schedule
    )


def schedule_make(organization, owner, name):
    from portal.exports.schedules import export_schedule_create

    return export_schedule_create(
        organization=organization,
        actor=owner,
        name=name,
        kind="portfolio",
        frequency="weekly",
        weekday=0,
        time_of_day=time(7, 0),
        timezone="UTC",
        recipients=[],
    )  # it runs as its saver, `owner`
