"""An invitation's link and the email that carries it, for every place that invites: the tenant admin area
and the platform's Django admin (where the first owner of a new organisation is invited). Re-links (a member's
way back in after the organisation moved to another TMI server) are sent the same way.

The link holds the only copy of the token (only its hash is stored), so it is emailed and shown once to the
person who invited; if the email cannot be sent, they still have it on screen to pass on.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.organizations.models import Invitation, MembershipRelink, Role

logger = logging.getLogger(__name__)


def invitation_link(token: str, request=None) -> str:
    path = reverse("accounts:invitation", args=[token])
    return request.build_absolute_uri(path) if request is not None else path


def relink_link(token: str, request=None) -> str:
    """Absolute: it goes into an email even when no request is at hand (PORTAL_BASE_URL)."""
    path = reverse("accounts:relink", args=[token])
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def person_label(user) -> str:
    return user.email or user.get_username()


def invitation_email_send(*, invitation: Invitation, link: str, actor) -> bool:
    """Email the link to the invited address; False (and a log line) when it could not be sent."""
    organization = invitation.organization
    subject = _("You are invited to %(org)s on TMI Portal") % {"org": organization.name}
    body = _(
        "%(person)s invites you to join %(org)s on TMI Portal as %(role)s.\n\n"
        "Open this link to accept (it works until %(expires)s UTC):\n%(link)s\n\n"
        "You will sign in through your organisation's TMI server with this email address.\n"
    ) % {
        "person": person_label(actor),
        "org": organization.name,
        "role": Role(invitation.role).label.lower(),
        "expires": invitation.expires_at.strftime("%d %b %Y %H:%M"),
        "link": link,
    }
    try:
        send_mail(subject, body, getattr(settings, "DEFAULT_FROM_EMAIL", None), [invitation.email])
    except Exception:  # noqa: BLE001 - the inviter still has the link on screen to pass on
        logger.warning("could not email invitation %s", invitation.pk, exc_info=True)
        return False
    return True


def relink_email_send(*, relink: MembershipRelink, link: str, actor) -> bool:
    """Email a member their re-link; False (and a log line) when it could not be sent or they have no email."""
    membership = relink.membership
    organization, user = membership.organization, membership.user
    if not user.email:
        return False
    subject = _("%(org)s has moved to a new TMI server: link your account") % {"org": organization.name}
    body = _(
        "%(person)s has moved %(org)s on TMI Portal to a new TMI server:\n%(server)s\n\n"
        "Your portal account, your role (%(role)s), your scheduled reports and your history stay as they are, "
        "but the portal cannot know which account at the new server is yours until you tell it. Open this link "
        "and sign in at the new server with the account for %(email)s (it works once, until %(expires)s UTC):\n"
        "%(link)s\n\n"
        "Until then you cannot sign in to %(org)s, and the scheduled reports that run with your TMI access are "
        "paused; they start again by themselves when you have linked your account. If the link has expired, ask "
        "an admin of %(org)s to send it again.\n"
    ) % {
        "person": person_label(actor) if actor is not None else _("The portal's operator"),
        "org": organization.name,
        "server": relink.tmi_base_url,
        "role": Role(membership.role).label.lower(),
        "email": user.email,
        "expires": relink.expires_at.strftime("%d %b %Y %H:%M"),
        "link": link,
    }
    try:
        send_mail(subject, body, getattr(settings, "DEFAULT_FROM_EMAIL", None), [user.email])
    except Exception:  # noqa: BLE001 - whoever moved or sent it still has the link on screen to pass on
        logger.warning("could not email re-link %s", relink.pk, exc_info=True)
        return False
    return True
