"""What can go wrong while signing in, and what the person is told.

Every failure a person or TMI can cause while signing in is turned into one of these sentences
and a redirect back to the organisation's sign-in page (see signin.py); none becomes a 500.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from social_core.exceptions import AuthCanceled, AuthInputError, AuthSessionError, SocialAuthBaseException

from portal.accounts.tmi_failures import Context, failure_words
from portal.tmi import Failure, TMIError


class SignInError(Exception):
    """A sign-in attempt that cannot go on; `message` is safe to show."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


class NotAMember(Exception):
    """TMI knows the person, but the organisation does not admit them (403 page, nothing created)."""

    def __init__(self, *, email: str, invitation_email: str = "") -> None:
        super().__init__("not a member")
        self.email = email
        self.invitation_email = invitation_email


CANCELLED = _("Signing in was cancelled at TMI. Choose a provider to try again.")
EXPIRED = _("That sign-in attempt expired or was started in another browser. Please sign in again.")
PROVIDER_UNKNOWN = _("That identity provider is not offered for this organisation.")
ACCOUNT_DISABLED = _("This portal account is disabled. Please contact your administrator.")
SESSION_LOST = _("Your sign-in session has expired. Open your organisation's sign-in page and try again.")
# Linking a TMI account to the portal account signed in in this browser (linking.py).
LINK_SIGNED_OUT = _(
    "You are not signed in to the portal, so there is no account to link this TMI account to. "
    "Use a “Sign in with …” button instead."
)
LINK_NOT_FOR_OPERATORS = _(
    "Staff and superuser accounts cannot be linked to a TMI account. To use an "
    "organisation, sign in with your TMI account as a separate portal account."
)
LINK_STALE = _(
    "That link request no longer matches who is signed in to the portal in this browser. "
    "Nothing was linked. Please try again."
)
OPERATOR_NOT_THROUGH_TMI = _(
    "This is a staff or superuser account of the portal, which never signs in through "
    "an organisation's TMI server. Please contact your administrator."
)
LINK_NO_EMAIL = _("Your portal account has no email address, so no TMI account can be linked to it.")
LINK_EMAIL_DIFFERS = _(
    "That TMI account's email is %(tmi_email)s, not %(portal_email)s as on your portal account, "
    "so it was not linked: only a TMI account with your portal account's email can be."
)
LINK_TAKEN = _(
    "That TMI account already belongs to another portal account, so it was not linked to yours. "
    "Sign out first to sign in with it."
)

# Moving the organisation to another TMI server, and re-linking afterwards (moving.py).
MOVE_GONE = _(
    "That move of the organisation to another TMI server was cancelled, finished, or started again in "
    "another browser or by someone else. Nothing was changed."
)
MOVE_NOT_OWNER = _("Only an owner may move the organisation to another TMI server. Nothing was changed.")
MOVE_MOVED_MEANWHILE = _(
    "Someone else changed the organisation's TMI server meanwhile. Nothing was changed; look at the TMI "
    "connection page before you try again."
)
RELINK_UNKNOWN = _("We do not know this link. Check that you copied the whole link, or ask an admin for a new one.")
RELINK_USED = _("This link has already been used: it works once. Sign in as usual, or ask an admin for a new one.")
RELINK_EXPIRED = _("This link has expired. Ask an admin of the organisation to send you a new one.")
RELINK_STALE = _(
    "The organisation has moved to another TMI server since this link was made. Ask an admin for a new one."
)
RELINK_OTHER_PERSON = _(
    "This link is for %(email)s, but someone else is signed in to the portal in this browser. Sign out "
    "first, then open the link again."
)
RELINK_PROBLEMS = {"unknown": RELINK_UNKNOWN, "used": RELINK_USED, "expired": RELINK_EXPIRED, "stale": RELINK_STALE}


def signin_error_message(error: Exception):
    """The sentence for a failed attempt (SignInError carries its own)."""
    if isinstance(error, SignInError):
        return error.message
    if isinstance(error, AuthCanceled):
        return CANCELLED
    if isinstance(error, (AuthSessionError, AuthInputError)):
        return EXPIRED
    if isinstance(error, TMIError):  # TMI's part: the words of its kind of failure (accounts/tmi_failures.py)
        return failure_words(error, Context.SIGN_IN)
    if isinstance(error, SocialAuthBaseException):  # what social-auth could not make sense of
        return failure_words(Failure.MALFORMED, Context.SIGN_IN)
    raise TypeError(f"not a sign-in failure: {type(error).__name__}")


# What the completion wrapper turns into a message; anything else is a bug and may 500.
SIGNIN_FAILURES = (SignInError, SocialAuthBaseException, TMIError)
