"""Signing out: give the tokens back to TMI as its generation allows, then forget them.

1.8 revokes the refresh token and blacklists the access token (POST /oauth2/revoke, then
/me/logout); 0.217 can only blacklist the access token. TMI being down never stops the local
sign-out: the tokens are deleted here whatever TMI said. Nor does TMI being slow: everything said to
TMI on the way out (a refresh the revocation needs, the revocation itself) shares one deadline of
PORTAL_TMI_SIGNOUT_SECONDS, and nothing is sent twice.
"""

from __future__ import annotations

import logging

from django.conf import settings

from portal.accounts.deadlines import tmi_deadline
from portal.accounts.models import TMIConnection
from portal.accounts.vault import (
    SignInRequired,
    tmi_client_options,
    tmi_connection_ended_announce,
    tmi_tokens_get,
    tmi_tokens_refresh,
)
from portal.audit.services import audit_record
from portal.organizations.models import Organization
from portal.tmi import TMIClient, TMIError, TokenPair

logger = logging.getLogger(__name__)

# An access token this close to expiry is refreshed first, so TMI accepts the revocation call.
REFRESH_MARGIN_SECONDS = 30


def tmi_tokens_revoke_quietly(*, organization: Organization, tokens: TokenPair) -> bool:
    """Best effort: True when TMI confirmed. Only the error's class is logged, never a token."""
    try:
        with (
            tmi_deadline(settings.PORTAL_TMI_SIGNOUT_SECONDS),
            TMIClient(organization.tmi_base_url, **tmi_client_options(organization, max_retries=0)) as client,
        ):
            client.auth.logout(tokens)
    except TMIError as error:
        logger.warning("could not revoke TMI tokens for organisation %s: %s", organization.slug, type(error).__name__)
        return False
    return True


def tmi_connection_end(*, organization: Organization, user, request=None) -> bool:
    """Revoke the member's tokens at TMI and delete them here. False if TMI could not be told."""
    if organization.memberships.filter(user=user).exists():  # not in another organisation's log
        audit_record(organization=organization, action="auth.sign_out", actor=user, target=user.email, request=request)
    connection = TMIConnection.objects.filter(organization=organization, user=user).first()
    if connection is None:
        return True
    revoked = False
    try:
        with tmi_deadline(settings.PORTAL_TMI_SIGNOUT_SECONDS):
            tokens = tmi_tokens_get(organization=organization, user=user)
            if tokens.expires_within(REFRESH_MARGIN_SECONDS) and tokens.refresh_token:
                tokens = tmi_tokens_refresh(connection_id=connection.pk, stale=tokens)
            revoked = tmi_tokens_revoke_quietly(organization=organization, tokens=tokens)
    except (TMIError, SignInRequired) as error:  # TMI already refused these tokens, or is unreachable
        logger.warning(
            "could not refresh TMI tokens to revoke them for organisation %s: %s",
            organization.slug,
            type(error).__name__,
        )
    TMIConnection.objects.filter(pk=connection.pk).delete()
    tmi_connection_ended_announce(organization=organization, user_id=user.pk)
    return revoked
