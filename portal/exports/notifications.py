"""Emails about exports and TMI access, through Django's email backend (console or file in the demo)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.urls import reverse
from django.utils.translation import gettext as _

from portal.exports.provenance import job_provenance, schedule_made_with, sent_to_words
from portal.organizations.models import Membership, Role

logger = logging.getLogger(__name__)

SPREADSHEET_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def organization_admin_emails(organization) -> list[str]:
    return sorted(
        {
            m.user.email
            for m in Membership.objects.select_related("user").filter(
                organization=organization, role__in=[Role.ADMIN, Role.OWNER]
            )
            if m.user.email
        }
    )


def _send(subject: str, body: str, to: list[str]) -> None:
    to = sorted({address for address in to if address})
    if not to:
        return
    try:
        send_mail(subject, body, None, to)
    except Exception:  # a broken mail server must not turn a finished export into a failed one
        logger.exception("could not send %r", subject)


def _still_members(job, users) -> list[str]:
    members = set(Membership.objects.filter(organization=job.organization).values_list("user_id", flat=True))
    return sorted({user.email for user in users if user.pk in members and user.email})


def export_succeeded_notify(*, job) -> None:
    """A scheduled run's recipients (those it was made for, still members) get a link, and the PDF itself
    when it is small; the email says whose TMI access made it and who else received it."""
    schedule = job.schedule
    to = _still_members(job, job.shared_with.all())
    if schedule is None or not to:
        return
    link = _absolute(reverse("exports:job", kwargs={"slug": job.organization.slug, "job_id": job.pk}))
    body = _(
        "The scheduled export “%(name)s” of %(org)s is ready.\n\n"
        "%(provenance)s. It holds what that TMI access can read, which may be more than you can read "
        "yourself; please do not pass it on.\n\n"
        "Open it in the portal (the people it was sent to only): %(link)s\n\n"
        "The file is kept until %(expires)s.\n"
    ) % {
        "name": schedule.name,
        "org": job.organization.name,
        "provenance": job_provenance(job),
        "link": link,
        "expires": f"{job.expires_at:%d %B %Y}",
    }
    message = EmailMessage(
        _("%(org)s: “%(name)s” is ready") % {"org": job.organization.name, "name": schedule.name}, body, None, to
    )
    if job.file and job.size <= settings.EXPORT_ATTACH_MAX_BYTES:
        with job.file.open("rb") as handle:
            message.attach(job.file_name, handle.read(), "application/pdf")
    if job.spreadsheet_file and job.spreadsheet_size <= settings.EXPORT_ATTACH_MAX_BYTES:
        with job.spreadsheet_file.open("rb") as handle:
            message.attach(job.spreadsheet_name, handle.read(), SPREADSHEET_TYPES.get(job.spreadsheet, ""))
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
    _send(
        f"{job.organization.name}: the scheduled export “{schedule.name}” failed",
        f"The scheduled export “{schedule.name}” could not be made.\n\nWhy: {job.error}\n\n"
        f"{job_provenance(job)}.\n\nDetails: {link}\n",
        [
            job.made_with.email if job.made_with else "",
            schedule.owner.email,
            *organization_admin_emails(job.organization),
        ],
    )


def schedules_paused_notify(*, organization, schedules) -> None:
    """The portal paused schedules whose person can no longer lend their access: tell the owners, in words,
    whose access it was, who received it, why it stopped and how it runs again."""
    from portal.exports.selectors import organization_owner_emails

    link = _absolute(reverse("tenant_admin:schedules", kwargs={"slug": organization.slug}))
    for schedule in schedules:
        body = _(
            "The scheduled report “%(name)s” of %(org)s is paused: %(reason)s.\n\n"
            "It was made with %(access)s and sent to: %(recipients)s.\n\n"
            "It stays paused until an owner or admin resumes or saves it; from then on it is made with that "
            "person's own TMI access. Nothing is lost: %(link)s\n"
        ) % {
            "name": schedule.name,
            "org": organization.name,
            "reason": schedule.get_pause_reason_display(),
            "access": schedule_made_with(schedule),
            "recipients": sent_to_words(schedule.recipients or []),
            "link": link,
        }
        _send(
            _("%(org)s: the scheduled report “%(name)s” is paused") % {"org": organization.name, "name": schedule.name},
            body,
            organization_owner_emails(organization),
        )


def sign_in_required_notify(*, connection, schedules) -> None:
    """TMI refused to renew a member's access: tell them. Their schedules are paused by then, and the owners
    told (export_schedules_check_person)."""
    organization = connection.organization
    login = _absolute(reverse("accounts:login", kwargs={"slug": organization.slug}))
    body = _(
        "Your TMI access for %(org)s has ended, so the portal can no longer work for you in the "
        "background.\n\nSign in again here: %(login)s\n"
    ) % {"org": organization.name, "login": login}
    if schedules:
        names = ", ".join(f"“{s.name}”" for s in schedules)
        body += _(
            "\nThese scheduled exports, made with your TMI access, are paused: %(names)s. After you sign "
            "in, resume them under Admin → Scheduled reports. Nothing is lost.\n"
        ) % {"names": names}
    _send(
        _("%(org)s: please sign in to the TMI Portal again") % {"org": organization.name}, body, [connection.user.email]
    )
