"""Whose TMI access a report is made with and who receives it, in the same words on the schedule form and
list, in the emails and on the PDF cover. A report holds everything that access can read in TMI, so
everyone who sees one must be able to tell whose access it lends and to whom."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.exports.models import ExportJob, ExportSchedule, RunAs

WEEKDAYS = [
    (0, gettext_lazy("Monday")),
    (1, gettext_lazy("Tuesday")),
    (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")),
    (4, gettext_lazy("Friday")),
    (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
]


def schedule_when(schedule: ExportSchedule) -> str:
    """ "Every week on Monday", "Every month on day 3", "Every day": the list's words for how often."""
    if schedule.frequency == "weekly" and schedule.weekday is not None:
        return _("Every week on %(day)s") % {"day": dict(WEEKDAYS).get(schedule.weekday, schedule.weekday)}
    if schedule.frequency == "monthly" and schedule.day_of_month:
        return _("Every month on day %(day)s") % {"day": schedule.day_of_month}
    return str(schedule.get_frequency_display())


def person_name(user) -> str:
    if user is None:
        return _("a former member")
    return user.get_full_name() or user.email or user.get_username()


def made_with_words(*, service_account: bool, user) -> str:
    """'the TMI access of Alice' / "the organisation's TMI service account"."""
    if service_account:
        return _("the organisation's TMI service account")
    return _("the TMI access of %(person)s") % {"person": person_name(user)}


def sent_to_words(recipients: list[str]) -> str:
    if not recipients:
        return _("nobody by email (the file stays in the portal)")
    return ", ".join(recipients)


def schedule_made_with(schedule: ExportSchedule) -> str:
    return made_with_words(service_account=schedule.run_as == RunAs.CLIENT_CREDENTIALS, user=schedule.owner)


def job_made_with(job: ExportJob) -> str:
    return made_with_words(service_account=job.made_with_service_account, user=job.made_with)


def job_recipients(job: ExportJob) -> list[str]:
    return sorted({user.email for user in job.shared_with.all() if user.email})


def job_provenance(job: ExportJob) -> str:
    """One line for the PDF cover and the emails."""
    line = _("Made with %(access)s") % {"access": job_made_with(job)}
    if job.from_schedule:
        line += " · " + _("Sent to %(recipients)s") % {"recipients": sent_to_words(job_recipients(job))}
    return line
