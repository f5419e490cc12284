"""An invitation's link and the email that carries it, for every place that invites: the tenant admin area
and the platform's Django admin (where the first owner of a new organisation is invited).

The link holds the only copy of the token (only its hash is stored), so it is emailed and shown once to the
person who invited; if the email cannot be sent, they still have it on screen to pass on.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.organizations.models import Invitation, Role

logger = logging.getLogger(__name__)


def invitation_link(token: str, request=None) -> str:
    path = reverse("accounts:invitation", args=[token])
    return request.build_absolute_uri(path) if request is not None else path


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
