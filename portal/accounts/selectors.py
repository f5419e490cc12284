"""Reads for signing in: what an organisation's sign-in page offers, and invitations by token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.core.cache import cache

from portal.accounts.hints import HintRule, hint_rule_for
from portal.accounts.vault import tmi_client_options
from portal.organizations.models import Invitation, MembershipRelink, Organization
from portal.organizations.services import invitation_token_hash
from portal.tmi import AddressNotAllowed, APIConnectionError, Provider, TMIClient, TMIError, profile_for


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
    """TMI may send the icon relative to its own URL; only http(s) results are used. An icon *name* (the
    real 0.217.8 sends "flask-vial", a font icon of its own web client) is not an address: asking TMI for
    it drew a broken image and cost a 401 on every view of the sign-in page."""
    if not icon or not _looks_like_an_address(icon):
        return ""
    absolute = urljoin(base_url.rstrip("/") + "/", icon)
    return absolute if urlsplit(absolute).scheme in ("http", "https") else ""


_IMAGE_SUFFIXES = (".svg", ".png", ".gif", ".jpg", ".jpeg", ".webp", ".ico")


def _looks_like_an_address(icon: str) -> bool:
    path = urlsplit(icon).path.lower()
    return "://" in icon or "/" in icon or path.endswith(_IMAGE_SUFFIXES)


def providers_offered(organization: Organization, providers: list[Provider]) -> list[Provider]:
    """The organisation's choice of providers (empty = every provider its TMI lists)."""
    wanted = set(organization.identity_providers or [])
    return [p for p in providers if not wanted or p.id in wanted]


PROVIDERS_FAILURE_SECONDS = 15  # a TMI that failed is asked again after this long, not on every page view


def _providers_cache_key(organization: Organization) -> str:
    # The address is part of the key: a new TMI address is asked at once, never answered from the old one's list.
    address = hashlib.sha256(organization.tmi_base_url.rstrip("/").encode()).hexdigest()[:24]
    return f"tmi-providers:{organization.pk}:{address}"


def _providers_ask(organization: Organization) -> tuple[str, list[Provider]]:
    with TMIClient(organization.tmi_base_url, **tmi_client_options(organization)) as client:
        return client.server_info().generation, client.auth.providers()


def tmi_providers_fetch(organization: Organization) -> tuple[str, list[Provider]]:
    """(generation, the providers the organisation offers) from its TMI; raises TMIError.

    The sign-in page is public, so TMI's answer is kept in Django's cache per organisation and TMI
    address (PORTAL_TMI_PROVIDERS_CACHE_SECONDS), and a failure for a few seconds: anonymous page views
    do not make the portal call TMI each time. The organisation's own choice is applied on each read."""
    key = _providers_cache_key(organization)
    cached = cache.get(key)
    if cached is None:
        try:
            generation, providers = _providers_ask(organization)
        except TMIError as error:
            cache.set(key, {"failed": type(error).__name__}, PROVIDERS_FAILURE_SECONDS)
            raise
        cached = {"generation": generation, "providers": [p.model_dump() for p in providers]}
        cache.set(key, cached, settings.PORTAL_TMI_PROVIDERS_CACHE_SECONDS)
    elif "failed" in cached:
        raise _remembered_failure(cached["failed"])
    providers = [Provider.model_validate(p) for p in cached["providers"]]
    return cached["generation"], providers_offered(organization, providers)


def _remembered_failure(name: str) -> TMIError:
    # The same class as the failure being remembered, where it can be made without arguments.
    if name == AddressNotAllowed.__name__:
        return AddressNotAllowed("the address is not an allowed TMI server (remembered)")
    return APIConnectionError(f"TMI failed a moment ago ({name}); not asked again yet", connected=False)


def signin_options_get(*, organization: Organization) -> SignInOptions:
    generation, providers = tmi_providers_fetch(organization)
    test_idp = profile_for(generation).test_idp
    choices = [
        ProviderChoice(
            id=p.id,
            name=p.name or p.id,
            is_test_idp=p.id == test_idp,
            icon_url=provider_icon_url(organization.tmi_base_url, p.icon),
        )
        for p in providers
    ]
    return SignInOptions(generation=generation, providers=choices, hint_rule=hint_rule_for(generation))


def invitation_by_token_get(*, token: str) -> Invitation | None:
    return Invitation.objects.select_related("organization").filter(token_hash=invitation_token_hash(token)).first()


def relink_by_token_get(*, token: str) -> MembershipRelink | None:
    """A re-link (moving.py) by the token in its link, with its member and organisation."""
    return (
        MembershipRelink.objects.select_related("membership__user", "membership__organization")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )
