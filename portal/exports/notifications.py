"""Emails about exports and TMI access, through Django's email backend (console or file in the demo)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.urls import reverse

from portal.organizations.models import Membership, Role

logger = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def organization_admin_emails(organization) -> list[str]:
    return sorted({m.user.email for m in Membership.objects.select_related("user").filter(
        organization=organization, role__in=[Role.ADMIN, Role.OWNER]) if m.user.email})


def _send(subject: str, body: str, to: list[str]) -> None:
    to = sorted({address for address in to if address})
    if not to:
        return
    try:
        send_mail(subject, body, None, to)
    except Exception:  # a broken mail server must not turn a finished export into a failed one
        logger.exception("could not send %r", subject)


def export_succeeded_notify(*, job) -> None:
    """A scheduled run's recipients get a link (and the PDF itself when it is small)."""
    schedule = job.schedule
    if schedule is None or not schedule.recipients:
        return
    link = _absolute(reverse("exports:job", kwargs={"slug": job.organization.slug, "job_id": job.pk}))
    body = (f"The scheduled export “{schedule.name}” of {job.organization.name} is ready.\n\n"
            f"Open it in the portal (members of {job.organization.name} only): {link}\n\n"
            f"The file is kept until {job.expires_at:%d %B %Y}.\n")
    message = EmailMessage(f"{job.organization.name}: “{schedule.name}” is ready", body, None,
                           sorted(set(schedule.recipients)))
    if job.file and job.size <= settings.EXPORT_ATTACH_MAX_BYTES:
        with job.file.open("rb") as handle:
            message.attach(job.file_name, handle.read(), "application/pdf")
    try:
        message.send()
    except Exception:
        logger.exception("could not send the export email for job %s", job.pk)


def export_failed_notify(*, job) -> None:
    """A failed scheduled run tells its owner and the organisation's admins; a manual export shows
    its reason on its page."""
    schedule = job.schedule
    if schedule is None:
        return
    link = _absolute(reverse("exports:job", kwargs={"slug": job.organization.slug, "job_id": job.pk}))
    _send(f"{job.organization.name}: the scheduled export “{schedule.name}” failed",
          f"The scheduled export “{schedule.name}” could not be made.\n\nWhy: {job.error}\n\nDetails: {link}\n",
          [schedule.owner.email, *organization_admin_emails(job.organization)])


def sign_in_required_notify(*, connection, schedules) -> None:
    """TMI refused to renew a member's access: tell them, and for schedules they own, the admins too."""
    organization = connection.organization
    login = _absolute(reverse("accounts:login", kwargs={"slug": organization.slug}))
    body = (f"Your TMI access for {organization.name} has ended, so the portal can no longer work for you "
            f"in the background.\n\nSign in again here: {login}\n")
    if schedules:
        names = ", ".join(f"“{s.name}”" for s in schedules)
        body += f"\nUntil you do, these scheduled exports wait: {names}. Nothing is lost.\n"
    _send(f"{organization.name}: please sign in to the TMI Portal again", body, [connection.user.email])
    if schedules:
        who = connection.user.get_full_name() or connection.user.email or connection.user.get_username()
        _send(f"{organization.name}: scheduled exports are waiting for {who}",
              f"{who} must sign in to the portal again before these scheduled exports can run: {names}.\n"
              f"Nothing is lost; the schedules resume once they sign in.\n",
              organization_admin_emails(organization))
