"""The social-auth pipeline for backend "tmi" (settings.SOCIAL_AUTH_PIPELINE), as small steps.

Order matters: the membership decision is taken before anything is written, so a person the
organisation does not admit leaves no user, no membership and no tokens behind.

Who is this? (`user_identify`)
  1. The TMI identity: provider + subject at the organisation's TMI server (UserSocialAuth.uid,
     see backend.tmi_identity_key). Organisations on the same TMI server share it.
  2. Else the portal user this browser is already signed in as, when the new identity carries
     that user's email: signing in to a second organisation (perhaps on another TMI server) adds
     that identity to the same person. A different email is a different person (a shared
     computer): the identity is never attached to whoever happens to be signed in.
  3. Else an existing user with the same email, but only when TMI vouches for the email
     (`email_verified` in the access token TMI just issued to us). TMI's test IdPs never do,
     and userinfo does not say, so test identities are never linked by email.
  4. Else a new portal user (only if admitted).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging

from django.contrib.auth import get_user_model
from django.utils.translation import gettext

from portal.accounts.errors import ACCOUNT_DISABLED, NotAMember, SignInError
from portal.accounts.signout import tmi_tokens_revoke_quietly
from portal.accounts.vault import tmi_connection_store
from portal.audit.services import audit_record
from portal.organizations.events import admin_change_broadcast
from portal.organizations.models import Invitation
from portal.organizations.services import membership_admission_find, membership_admit

logger = logging.getLogger(__name__)

INVITATION_SESSION_KEY = "tmi_invitation"  # the sha256 of the invitation token being accepted


def access_token_claims(access_token: str) -> dict:
    """The claims of a JWT that TMI handed us directly over our own connection (so not re-verified)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _verified_email(details: dict, tokens) -> str:
    email = (details.get("email") or "").lower()
    if not email or tokens is None:
        return ""
    claims = access_token_claims(tokens.access_token)
    return email if claims.get("email_verified") is True and str(claims.get("email", "")).lower() == email else ""


def _same_email(user, details: dict) -> bool:
    email = (details.get("email") or "").strip().lower()
    return bool(email) and email == (user.email or "").strip().lower()


def user_identify(backend, uid, details, *args, tokens=None, current_user=None, **kwargs):
    social = backend.strategy.storage.user.get_social_auth(backend.name, uid)
    if social is not None:
        return {"user": social.user, "social": social}
    if current_user is not None and current_user.is_authenticated and _same_email(current_user, details):
        return {"user": current_user, "social": None}
    email = _verified_email(details, tokens)
    if email:
        users = list(get_user_model().objects.filter(email__iexact=email, is_active=True)[:2])
        if len(users) == 1:  # two accounts with one email: ambiguous, link neither
            return {"user": users[0], "social": None}
    return {"user": None, "social": None}


def _invitation_email_in_session(backend, organization) -> str:
    token_hash = backend.strategy.session_get(INVITATION_SESSION_KEY)
    if not token_hash:
        return ""
    invitation = Invitation.objects.filter(token_hash=token_hash, organization=organization).first()
    return invitation.email if invitation else ""


def _give_back(organization, tokens) -> None:
    """The person signed in at TMI for nothing: revoke the fresh tokens rather than drop them."""
    if tokens is not None:
        tmi_tokens_revoke_quietly(organization=organization, tokens=tokens)


def membership_require(backend, details, organization, *args, user=None, tokens=None, **kwargs):
    """Stop here (403 page) unless a membership, a pending invitation or the email's domain admits."""
    email = details.get("email") or ""
    if user is not None and not user.is_active:
        _give_back(organization, tokens)
        raise SignInError(ACCOUNT_DISABLED)
    admission = membership_admission_find(organization=organization, user=user, email=email)
    if admission is None:
        _give_back(organization, tokens)
        raise NotAMember(email=email, invitation_email=_invitation_email_in_session(backend, organization))
    return {"admission": admission}


def membership_grant(backend, organization, admission, *args, user=None, **kwargs):
    membership_admit(organization=organization, user=user, admission=admission)
    request = backend.strategy.request
    if admission.kind == "invitation":
        backend.strategy.session_pop(INVITATION_SESSION_KEY)
        logger.info("invitation %s accepted by user %s", admission.invitation.pk, user.pk)
        audit_record(organization=organization, action="member.invitation_accepted", actor=user, request=request,
                     target=admission.invitation.email, details={"role": admission.invitation.role})
    elif admission.kind == "domain":
        audit_record(organization=organization, action="member.joined_by_domain", actor=user, request=request,
                     target=user.email)
    if admission.kind in ("invitation", "domain"):
        admin_change_broadcast(organization=organization, section="members", actor=user, summary=gettext("joined"))


def tokens_store(organization, tokens, response, *args, user=None, backend=None, **kwargs):
    tmi_connection_store(organization=organization, user=user, tokens=tokens, provider=response["provider"],
                         subject=response["subject"], email=response.get("email") or "",
                         display_name=response.get("display_name") or "")
    audit_record(organization=organization, action="auth.sign_in", actor=user,
                 request=backend.strategy.request if backend is not None else None,
                 target=response.get("email") or user.email, details={"provider": response["provider"]})
