"""Report schedule pages at /o/<slug>/admin/schedules/. Thin: the exports part's form, selectors and services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.exports.forms import ExportScheduleForm
from portal.exports.provenance import schedule_made_with, schedule_when, sent_to_words
from portal.exports.selectors import (
    export_jobs_list,
    export_schedule_blocked,
    export_schedule_get,
    export_schedule_next_run,
    export_schedule_runs,
    export_schedules_list,
)
from portal.organizations.gate import organization_view
from portal.organizations.models import Role
from portal.tenant_admin import schedules as services
from portal.tenant_admin.views import _render

RUNS_SHOWN = 50


def _list_url(request) -> str:
    return reverse("tenant_admin:schedules", args=[request.organization.slug])


def _form_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]:
        form.add_error(field if field in form.fields else None, problems)


@require_GET
@organization_view(Role.ADMIN)
def schedules(request, slug):
    rows = [
        (
            schedule,
            export_schedule_blocked(schedule=schedule),
            export_schedule_runs(schedule=schedule).first(),
            schedule_made_with(schedule),
            sent_to_words(schedule.recipients or []),
            schedule_when(schedule),
            export_schedule_next_run(schedule=schedule),
        )
        for schedule in export_schedules_list(organization=request.organization)
    ]
    return _render(request, "tenant_admin/schedules.html", {"rows": rows}, section="schedules")


def _edit(request, schedule=None):
    organization = request.organization
    # Without JavaScript, "Show the fields for this choice" asks again by GET with what was chosen so far.
    chosen = {k: v for k, v in request.GET.items() if k != "csrfmiddlewaretoken"} if request.method == "GET" else {}
    form = ExportScheduleForm(
        request.POST or None, organization=organization, actor=request.user, instance=schedule, initial=chosen
    )
    if request.method == "POST" and form.is_valid():
        try:
            if schedule is None:
                schedule = services.schedule_create(
                    organization=organization, actor=request.user, request=request, **form.schedule_fields()
                )
                messages.success(request, _("The schedule “%(name)s” was created.") % {"name": schedule.name})
            else:
                before = form.current_made_with
                schedule = services.schedule_update(
                    schedule=schedule, actor=request.user, request=request, **form.schedule_fields()
                )
                messages.success(request, _("The schedule “%(name)s” was saved.") % {"name": schedule.name})
                if form.switches_to_actor:
                    messages.warning(
                        request,
                        _("“%(name)s” was made with %(before)s; from now on it is made with %(now)s.")
                        % {"name": schedule.name, "before": before, "now": schedule_made_with(schedule)},
                    )
            return HttpResponseRedirect(_list_url(request))
        except ValidationError as error:
            _form_errors(form, error)
    return _render(
        request,
        "tenant_admin/schedule_form.html",
        {"form": form, "schedule": schedule},
        section="schedules",
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@organization_view(Role.ADMIN)
def schedule_create(request, slug):
    return _edit(request)


@require_http_methods(["GET", "POST"])
@organization_view(Role.ADMIN)
def schedule_edit(request, slug, schedule_id):
    return _edit(request, export_schedule_get(organization=request.organization, schedule_id=schedule_id))


@require_POST
@organization_view(Role.ADMIN)
def schedule_pause(request, slug, schedule_id):
    schedule = export_schedule_get(organization=request.organization, schedule_id=schedule_id)
    paused = request.POST.get("paused") != "0"
    try:
        schedule = services.schedule_pause(schedule=schedule, actor=request.user, paused=paused, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(_list_url(request))
    if paused:
        messages.success(request, _("“%(name)s” is paused.") % {"name": schedule.name})
    else:
        messages.success(
            request,
            _("“%(name)s” runs again, made with %(access)s.")
            % {"name": schedule.name, "access": schedule_made_with(schedule)},
        )
    return HttpResponseRedirect(_list_url(request))


@require_POST
@organization_view(Role.ADMIN)
def schedule_run(request, slug, schedule_id):
    schedule = export_schedule_get(organization=request.organization, schedule_id=schedule_id)
    try:
        services.schedule_run_now(schedule=schedule, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(_list_url(request))
    messages.success(
        request, _("“%(name)s” has started; its file appears in the history when ready.") % {"name": schedule.name}
    )
    return HttpResponseRedirect(reverse("tenant_admin:schedule_runs", args=[slug, schedule.pk]))


@require_POST
@organization_view(Role.ADMIN)
def schedule_delete(request, slug, schedule_id):
    schedule = export_schedule_get(organization=request.organization, schedule_id=schedule_id)
    name = schedule.name
    services.schedule_delete(schedule=schedule, actor=request.user, request=request)
    messages.success(request, _("“%(name)s” was deleted. Its past files stay until they expire.") % {"name": name})
    return HttpResponseRedirect(_list_url(request))


@require_GET
@organization_view(Role.ADMIN)
def schedule_runs(request, slug, schedule_id):
    schedule = export_schedule_get(organization=request.organization, schedule_id=schedule_id)
    # Only the person whose access made a run and its recipients open its file; the others see that it ran.
    openable = set(
        export_jobs_list(
            organization=request.organization, viewer=request.membership, schedule=schedule, limit=None
        ).values_list("pk", flat=True)
    )
    runs = [(job, job.pk in openable) for job in export_schedule_runs(schedule=schedule)[:RUNS_SHOWN]]
    return _render(
        request,
        "tenant_admin/schedule_runs.html",
        {
            "schedule": schedule,
            "runs": runs,
            "made_with": schedule_made_with(schedule),
            "blocked": export_schedule_blocked(schedule=schedule),
        },
        section="schedules",
    )
