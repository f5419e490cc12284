"""Linking a TMI account to the portal account signed in in this browser: the only way an identity
at a second TMI server joins an existing person.

A TMI identity is (TMI server, provider, subject) and vouches for nothing else: an organisation
chooses its own TMI server, so that server's word (on an email, "verified" or not) must not reach
people outside the organisation. So an identity the portal does not know never joins an existing
user by email; it joins one only when that user, signed in here, pressed "Link this TMI account"
on an organisation's sign-in page. The request rides in that one attempt's OAuth transaction (see
backend.py), so it is spent with the state, and it is checked again when TMI sends the browser back.
Staff and superusers are never linked: a TMI server must not lead to the Django admin.

The TMI account must also report the portal account's email. The portal keeps one email per person
and shows it (and matches export recipients by it) in every organisation they belong to; without
this rule, an account made by one organisation's TMI (which can claim any email) could carry that
email into another organisation by linking an identity there.
"""

from __future__ import annotations

from portal.accounts.errors import (
    LINK_EMAIL_DIFFERS,
    LINK_NO_EMAIL,
    LINK_NOT_FOR_OPERATORS,
    LINK_SIGNED_OUT,
    LINK_STALE,
    SignInError,
)

# In the sign-in attempt (backend.SIGNIN_SESSION_KEY) and then its OAuth transaction: the pk of the
# portal user who asked to link the TMI account about to sign in.
LINK_FIELD = "link_user"


def is_operator(user) -> bool:
    """Staff and superusers run the platform (the Django admin); no TMI server speaks for them."""
    return bool(user.is_staff or user.is_superuser)


def identity_link_refusal(user):
    """Why `user` (the browser's portal user) may not have a TMI account linked, or None if they may."""
    if user is None or not user.is_authenticated or not user.is_active:
        return LINK_SIGNED_OUT
    if is_operator(user):
        return LINK_NOT_FOR_OPERATORS
    if not (user.email or "").strip():
        return LINK_NO_EMAIL
    return None


def identity_link_target(*, requested_by, current_user):
    """The user a link request made by user pk `requested_by` may attach an identity to: the
    browser's current user, still the one who asked and still allowed. Raises SignInError."""
    if current_user is None or not current_user.is_authenticated or current_user.pk != requested_by:
        raise SignInError(LINK_STALE)
    current_user.refresh_from_db(fields=["is_active", "is_staff", "is_superuser", "email"])  # changed since?
    refusal = identity_link_refusal(current_user)
    if refusal is not None:
        raise SignInError(refusal)
    return current_user


def identity_link_email_check(*, user, tmi_email: str) -> None:
    """Raise SignInError unless the TMI account being linked reports `user`'s email."""
    portal_email = (user.email or "").strip().lower()
    if tmi_email.strip().lower() != portal_email:
        raise SignInError(LINK_EMAIL_DIFFERS % {"tmi_email": tmi_email or "-", "portal_email": portal_email})
