"""Reads for signing in: what an organisation's sign-in page offers, and invitations by token."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from portal.accounts.hints import HintRule, hint_rule_for
from portal.accounts.vault import tmi_client_options
from portal.organizations.models import Invitation, Organization
from portal.organizations.services import invitation_token_hash
from portal.tmi import Provider, TMIClient, profile_for


@dataclass(frozen=True)
class ProviderChoice:
    id: str
    name: str
    icon_url: str  # absolute http(s) URL, or "" when TMI sent none we can use
    is_test_idp: bool


@dataclass(frozen=True)
class SignInOptions:
    generation: str
    providers: list[ProviderChoice]
    hint_rule: HintRule


def provider_icon_url(base_url: str, icon: str | None) -> str:
    """TMI may send the icon relative to its own URL; only http(s) results are used."""
    if not icon:
        return ""
    absolute = urljoin(base_url.rstrip("/") + "/", icon)
    return absolute if urlsplit(absolute).scheme in ("http", "https") else ""


def providers_offered(organization: Organization, providers: list[Provider]) -> list[Provider]:
    """The organisation's choice of providers (empty = every provider its TMI lists)."""
    wanted = set(organization.identity_providers or [])
    return [p for p in providers if not wanted or p.id in wanted]


def tmi_providers_fetch(organization: Organization) -> tuple[str, list[Provider]]:
    """(generation, the providers the organisation offers) from its TMI; raises TMIError."""
    with TMIClient(organization.tmi_base_url, **tmi_client_options()) as client:
        generation = client.discovery().generation
        return generation, providers_offered(organization, client.auth.providers())


def signin_options_get(*, organization: Organization) -> SignInOptions:
    generation, providers = tmi_providers_fetch(organization)
    test_idp = profile_for(generation).test_idp
    choices = [ProviderChoice(id=p.id, name=p.name or p.id, is_test_idp=p.id == test_idp,
                              icon_url=provider_icon_url(organization.tmi_base_url, p.icon)) for p in providers]
    return SignInOptions(generation=generation, providers=choices, hint_rule=hint_rule_for(generation))


def invitation_by_token_get(*, token: str) -> Invitation | None:
    return (Invitation.objects.select_related("organization")
            .filter(token_hash=invitation_token_hash(token)).first())
