"""The organisation's TMI service account (1.8's client credentials, set by an owner in the tenant admin): what
scheduled exports may run as, and what the portfolio sync reads with when it is configured."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from portal.accounts.vault import tmi_client_options
from portal.organizations.models import Organization
from portal.tmi import TMIClient, TokenAuth, TokenPair


class ClientCredentialsMissing(Exception):
    """The organisation has no client id and secret for TMI."""


def tmi_service_account_configured(organization: Organization) -> bool:
    return bool(organization.tmi_client_id and organization.tmi_client_secret)


@contextlib.contextmanager
def tmi_service_client(organization: Organization, *, background: bool = False) -> Iterator[TMIClient]:
    """A client acting as the organisation's TMI service account. The client-credentials grant gives no
    refresh token, so renewing a token means asking for a new one with the same id and secret."""
    client_id, secret = organization.tmi_client_id, organization.tmi_client_secret
    if not client_id or not secret:
        raise ClientCredentialsMissing(organization.slug)

    def grant(stale: TokenPair | None = None) -> TokenPair:
        with TMIClient(organization.tmi_base_url, **tmi_client_options(organization)) as anonymous:
            return anonymous.auth.client_credentials(client_id, secret)

    auth = TokenAuth(grant(), refresh=grant, renews_without_refresh_token=True)
    options = tmi_client_options(organization, background=background)
    with TMIClient(organization.tmi_base_url, auth=auth, **options) as client:
        yield client
