"""The social-auth pipeline for backend "tmi" (settings.SOCIAL_AUTH_PIPELINE), as small steps.

Order matters: the membership decision is taken before anything is written, so a person the
organisation does not admit leaves no user, no membership and no tokens behind.

Who is this? (`user_identify`)
  1. The TMI identity: provider + subject at the organisation's TMI server (UserSocialAuth.uid,
     see backend.tmi_identity_key). Organisations on the same TMI server share it.
  2. Else, only when the browser's portal user pressed "Link this TMI account" for this very
     attempt (linking.py): that user, unless staff or superuser.
  3. Else a new portal user (only if admitted), with a username of its own.
Never by email: the organisation's TMI server says what it likes about emails (`email_verified`
included), and its word admits people to that organisation only (membership_require), never makes
them someone who already exists.
"""

from __future__ import annotations

import logging
import secrets

from django.contrib.auth import get_user_model
from django.utils.translation import gettext

from portal.accounts.errors import (
    ACCOUNT_DISABLED,
    LINK_TAKEN,
    OPERATOR_NOT_THROUGH_TMI,
    NotAMember,
    SignInError,
)
from portal.accounts.linking import identity_link_email_check, identity_link_target, is_operator
from portal.accounts.signout import tmi_tokens_revoke_quietly
from portal.accounts.vault import tmi_connection_store
from portal.audit.services import audit_record
from portal.organizations.events import admin_change_broadcast
from portal.organizations.models import Invitation
from portal.organizations.services import membership_admission_find, membership_admit

logger = logging.getLogger(__name__)

INVITATION_SESSION_KEY = "tmi_invitation"  # the sha256 of the invitation token being accepted
USERNAME_BASE_LENGTH = 140  # Django's 150, less room for the suffix


def user_identify(
    backend, uid, details, *args, organization=None, tokens=None, current_user=None, link_user=None, **kwargs
):
    social = backend.strategy.storage.user.get_social_auth(backend.name, uid)
    try:
        if social is not None and is_operator(social.user):
            # Linked before it became staff (or by an older portal): still no way in through a TMI server.
            raise SignInError(OPERATOR_NOT_THROUGH_TMI)
        if link_user is None:
            return {"user": social.user if social else None, "social": social}
        user = identity_link_target(requested_by=link_user, current_user=current_user)
        if social is not None and social.user_id != user.pk:
            raise SignInError(LINK_TAKEN)
        if social is None:
            identity_link_email_check(user=user, tmi_email=details.get("email") or "")
    except SignInError:
        _give_back(organization, tokens)
        raise
    logger.info("user %s links a TMI identity at organisation %s", user.pk, organization and organization.slug)
    return {"user": user, "social": social, "linked": social is None}


def username_pick(backend, details, *args, user=None, **kwargs):
    """A new person's username: their TMI subject if no portal user has it (in any case), else the
    subject with a random suffix. Two TMI servers may both have an "alice"; neither becomes the other."""
    if user is not None:
        return None
    storage = backend.strategy.storage.user
    base = storage.clean_username(details.get("username") or "")[:USERNAME_BASE_LENGTH] or "tmi-user"
    username = base
    while get_user_model().objects.filter(username__iexact=username).exists():
        username = f"{base}-{secrets.token_hex(4)}"
    return {"username": username}


def _invitation_email_in_session(backend, organization) -> str:
    token_hash = backend.strategy.session_get(INVITATION_SESSION_KEY)
    if not token_hash:
        return ""
    invitation = Invitation.objects.filter(token_hash=token_hash, organization=organization).first()
    return invitation.email if invitation else ""


def _give_back(organization, tokens) -> None:
    """The person signed in at TMI for nothing: revoke the fresh tokens rather than drop them."""
    if tokens is not None and organization is not None:
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
        audit_record(
            organization=organization,
            action="member.invitation_accepted",
            actor=user,
            request=request,
            target=admission.invitation.email,
            details={"role": admission.invitation.role},
        )
    elif admission.kind == "domain":
        audit_record(
            organization=organization, action="member.joined_by_domain", actor=user, request=request, target=user.email
        )
    if admission.kind in ("invitation", "domain"):
        admin_change_broadcast(organization=organization, section="members", actor=user, summary=gettext("joined"))


def tokens_store(organization, tokens, response, *args, user=None, backend=None, linked=False, **kwargs):
    tmi_connection_store(
        organization=organization,
        user=user,
        tokens=tokens,
        provider=response["provider"],
        subject=response["subject"],
        email=response.get("email") or "",
        display_name=response.get("display_name") or "",
    )
    request = backend.strategy.request if backend is not None else None
    target = response.get("email") or user.email
    if linked:
        audit_record(
            organization=organization,
            action="auth.identity_linked",
            actor=user,
            request=request,
            target=target,
            details={"provider": response["provider"], "subject": response["subject"]},
        )
    audit_record(
        organization=organization,
        action="auth.sign_in",
        actor=user,
        request=request,
        target=target,
        details={"provider": response["provider"]},
    )
