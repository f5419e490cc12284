"""The social-auth pipeline for backend "tmi" (settings.SOCIAL_AUTH_PIPELINE), as small steps.

Order matters: the membership decision is taken before anything is written, so a person the
organisation does not admit leaves no user, no membership and no tokens behind.

Who is this? (`user_identify`)
  1. The TMI identity: provider + subject at the organisation's TMI server (UserSocialAuth.uid,
     see backend.tmi_identity_key). Organisations on the same TMI server share it.
  2. Else, only when the browser's portal user pressed "Link this TMI account" for this very
     attempt (linking.py): that user, unless staff or superuser.
  2b. Else, for an owner's move to another TMI server, the owner who started it in this browser; for a
     re-link after a move, the member the re-link was made for (moving.py). `move_apply` and
     `relink_apply` then link the identity and make the move or spend the re-link, in one transaction.
  3. Else a new portal user (only if admitted), with a username of its own.
Never by email: the organisation's TMI server says what it likes about emails (`email_verified`
included), and its word admits people to that organisation only (membership_require), never makes
them someone who already exists.
"""

from __future__ import annotations

import logging
import secrets

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.accounts.errors import (
    ACCOUNT_DISABLED,
    LINK_TAKEN,
    MOVE_GONE,
    MOVE_MOVED_MEANWHILE,
    MOVE_NOT_OWNER,
    OPERATOR_NOT_THROUGH_TMI,
    RELINK_OTHER_PERSON,
    RELINK_PROBLEMS,
    RELINK_USED,
    NotAMember,
    SignInError,
)
from portal.accounts.linking import identity_link_email_check, identity_link_target, is_operator
from portal.accounts.moving import MOVE_DONE_SESSION_KEY, tmi_move_pending_clear, tmi_move_pending_matches
from portal.accounts.signout import tmi_tokens_revoke_quietly
from portal.accounts.vault import tmi_connection_store
from portal.audit.services import audit_record
from portal.organizations.events import admin_change_broadcast
from portal.organizations.invitation_mail import person_label
from portal.organizations.models import Invitation, Membership, MembershipRelink, Role
from portal.organizations.services import (
    OrganizationMovedMeanwhile,
    membership_admission_find,
    membership_admit,
    membership_relink_claim,
    membership_relink_problem,
    membership_relinks_send,
    membership_tmi_access_announce,
    organization_tmi_switch,
)

logger = logging.getLogger(__name__)

INVITATION_SESSION_KEY = "tmi_invitation"  # the sha256 of the invitation token being accepted
USERNAME_BASE_LENGTH = 140  # Django's 150, less room for the suffix


def user_identify(
    backend,
    uid,
    details,
    *args,
    organization=None,
    tokens=None,
    current_user=None,
    link_user=None,
    tmi_move=None,
    relink=None,
    **kwargs,
):
    social = backend.strategy.storage.user.get_social_auth(backend.name, uid)
    found: dict = {}
    try:
        if social is not None and is_operator(social.user):
            # Linked before it became staff (or by an older portal): still no way in through a TMI server.
            raise SignInError(OPERATOR_NOT_THROUGH_TMI)
        if tmi_move is not None:
            user = _mover(backend, organization, tmi_move, current_user)
        elif relink is not None:
            found["relink_id"], user = _relinker(organization, relink, current_user)
        elif link_user is None:
            return {"user": social.user if social else None, "social": social}
        else:
            user = identity_link_target(requested_by=link_user, current_user=current_user)
        if social is not None and social.user_id != user.pk:
            raise SignInError(LINK_TAKEN)
        if social is None:
            identity_link_email_check(user=user, tmi_email=details.get("email") or "")
    except SignInError:
        _give_back(organization, tokens)
        raise
    logger.info("user %s links a TMI identity at organisation %s", user.pk, organization and organization.slug)
    return {"user": user, "social": social, "linked": social is None, **found}


def _mover(backend, organization, move: dict, current_user):
    """The owner finishing their move in this browser: still signed in, still an owner, and the move still
    the one pending in this browser's session (not cancelled, finished or started again)."""
    user = identity_link_target(requested_by=move.get("by"), current_user=current_user)
    if not tmi_move_pending_matches(backend.strategy.request.session, organization=organization, move=move):
        raise SignInError(MOVE_GONE)
    if not Membership.objects.filter(organization_id=organization.pk, user=user, role=Role.OWNER).exists():
        raise SignInError(MOVE_NOT_OWNER)
    return user


def _relinker(organization, token_hash: str, current_user):
    """(re-link id, the member it is for). Only that member: a browser signed in as someone else is refused."""
    relink = (
        MembershipRelink.objects.select_related("membership__user", "membership__organization")
        .filter(token_hash=token_hash, membership__organization_id=organization.pk)
        .first()
    )
    problem = membership_relink_problem(relink)
    if problem:
        raise SignInError(RELINK_PROBLEMS[problem])
    user = relink.membership.user
    if current_user is not None and current_user.is_authenticated and current_user.pk != user.pk:
        raise SignInError(RELINK_OTHER_PERSON % {"email": user.email})
    if is_operator(user):
        raise SignInError(OPERATOR_NOT_THROUGH_TMI)
    if not user.is_active:
        raise SignInError(ACCOUNT_DISABLED)
    return relink.pk, user


def _identity_link(backend, uid, user, social):
    """The identity row for `user`, made now if new (in the caller's transaction)."""
    if social is not None:
        return social
    try:
        with transaction.atomic():
            return backend.strategy.storage.user.create_social_auth(user, uid, backend.name)
    except IntegrityError:  # linked to someone a moment ago, by another browser
        raise SignInError(LINK_TAKEN) from None


def _connection_store(organization, user, tokens, response) -> None:
    tmi_connection_store(
        organization=organization,
        user=user,
        tokens=tokens,
        provider=response["provider"],
        subject=response["subject"],
        email=response.get("email") or "",
        display_name=response.get("display_name") or "",
    )


def move_apply(backend, uid, organization, tokens, response, *args, user=None, social=None, tmi_move=None, **kwargs):
    """An owner's move (moving.py): link the identity they signed in with at the new server, switch the address
    (everyone else gets a re-link, every old-server token goes) and keep the owner's new tokens: all or
    nothing. The re-links are emailed once it is committed."""
    if tmi_move is None:
        return None
    request = backend.strategy.request
    try:
        with transaction.atomic():
            social = _identity_link(backend, uid, user, social)
            moved, issued = organization_tmi_switch(
                organization=organization,
                actor=user,
                tmi_base_url=tmi_move["tmi_base_url"],
                identity_providers=tmi_move.get("identity_providers") or [],
                kept_user=user,
                expected_base_url=tmi_move["from"],
                request=request,
            )
            _connection_store(moved, user, tokens, response)
    except OrganizationMovedMeanwhile:
        _give_back(organization, tokens)
        raise SignInError(MOVE_MOVED_MEANWHILE) from None
    except SignInError:
        _give_back(organization, tokens)
        raise
    sent = membership_relinks_send(issued, actor=user, request=request)
    session = request.session
    tmi_move_pending_clear(session, organization=organization)
    done = dict(session.get(MOVE_DONE_SESSION_KEY) or {})
    done[organization.slug] = {
        "from": tmi_move["from"],
        "to": moved.tmi_base_url,
        # Whether each was emailed; never the links themselves (organizations/services.py: only the member's
        # mailbox holds one).
        "relinks": [{"person": person_label(s.membership.user), "emailed": s.emailed} for s in sent],
    }
    session[MOVE_DONE_SESSION_KEY] = done
    return {"social": social, "organization": moved}


def relink_apply(
    backend, uid, organization, tokens, response, *args, user=None, social=None, relink_id=None, tmi_move=None, **kwargs
):
    """A member's re-link after a move: spend it (once), link the identity, keep the tokens and tell whoever
    paused work in their name (exports' schedules resume), in one transaction."""
    if relink_id is None:
        if user is not None and tmi_move is None:
            _relinked_otherwise(backend, organization, tokens, response, user)
        return None
    try:
        with transaction.atomic():
            relink = membership_relink_claim(relink_id=relink_id, user_id=user.pk)
            if relink is None:  # another browser was faster, or it expired or went stale meanwhile
                raise SignInError(RELINK_USED)
            social = _identity_link(backend, uid, user, social)
            _relinked(backend, organization, tokens, response, user, tmi_base_url=relink.tmi_base_url)
            admin_change_broadcast(
                organization=organization,
                section="members",
                actor=user,
                summary=gettext("linked their account at the new TMI server"),
            )
    except SignInError:
        _give_back(organization, tokens)
        raise
    return {"social": social}


def _relinked_otherwise(backend, organization, tokens, response, user) -> None:
    """A member who still had to re-link signed in at the organisation's (new) server as themselves without
    the link: with an identity already theirs there (from another organisation on that server), or by
    "Link … to this account" while signed in here. That proves as much as the link; it is spent, and their
    paused work resumes."""
    with transaction.atomic():
        spent = MembershipRelink.objects.filter(
            membership__organization_id=organization.pk, membership__user_id=user.pk, used_at__isnull=True
        ).update(used_at=timezone.now())
        if spent:
            _relinked(
                backend, organization, tokens, response, user, tmi_base_url=organization.tmi_base_url, without_link=True
            )


def _relinked(backend, organization, tokens, response, user, *, tmi_base_url: str, without_link: bool = False) -> None:
    """A member is linked at the organisation's new server: their tokens are stored, the log says so and
    their paused work resumes."""
    _connection_store(organization, user, tokens, response)
    details = {"tmi_base_url": tmi_base_url, "provider": response["provider"], "subject": response["subject"]}
    audit_record(
        organization=organization,
        action="member.relinked",
        actor=user,
        request=backend.strategy.request,
        target=person_label(user),
        details={**details, "without_link": True} if without_link else details,
    )
    membership_tmi_access_announce(organization=organization, user_id=user.pk)


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
    _connection_store(organization, user, tokens, response)
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
