"""Report schedules from the admin area: the exports part's services (which check the role, validate and
write the audit row), plus telling open admin pages after commit."""

from __future__ import annotations

from django.utils.translation import gettext as _

from portal.exports import schedules as export_schedules
from portal.organizations.events import admin_change_broadcast


def _told(schedule, actor, summary: str) -> None:
    admin_change_broadcast(
        organization=schedule.organization, section="schedules", actor=actor, summary=summary % {"name": schedule.name}
    )


def schedule_create(*, organization, actor, request=None, **fields):
    schedule = export_schedules.export_schedule_create(
        organization=organization, actor=actor, request=request, **fields
    )
    _told(schedule, actor, _("created the schedule %(name)s"))
    return schedule


def schedule_update(*, schedule, actor, request=None, **fields):
    schedule = export_schedules.export_schedule_update(schedule=schedule, actor=actor, request=request, **fields)
    _told(schedule, actor, _("changed the schedule %(name)s"))
    return schedule


def schedule_pause(*, schedule, actor, paused: bool, request=None):
    schedule = export_schedules.export_schedule_pause(schedule=schedule, actor=actor, paused=paused, request=request)
    _told(schedule, actor, _("paused the schedule %(name)s") if paused else _("resumed the schedule %(name)s"))
    return schedule


def schedule_run_now(*, schedule, actor, request=None):
    job = export_schedules.export_schedule_run_now(schedule=schedule, actor=actor, request=request)
    _told(schedule, actor, _("started the schedule %(name)s now"))
    return job


def schedule_delete(*, schedule, actor, request=None) -> None:
    name = schedule.name
    organization = schedule.organization
    export_schedules.export_schedule_delete(schedule=schedule, actor=actor, request=request)
    admin_change_broadcast(
        organization=organization,
        section="schedules",
        actor=actor,
        summary=_("deleted the schedule %(name)s") % {"name": name},
    )
