"""Export pages: request an export, watch it, download it. Members of the organisation only."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.exports.jobs import export_job_create
from portal.exports.models import ExportKind, ExportStatus
from portal.exports.selectors import export_job_get, export_job_status_get, export_jobs_list
from portal.organizations.gate import organization_view
from portal.portfolio import spreadsheets

PORTFOLIO_FILTERS = ("q", "status")


@require_POST
@organization_view()
def export_create(request, slug: str):
    kind = request.POST.get("kind", "")
    if kind not in ExportKind.values:
        messages.error(request, _("Choose what to export: one threat model or the portfolio."))
        return redirect("exports:list", slug=slug)
    filters = {key: request.POST.get(key, "").strip() for key in PORTFOLIO_FILTERS if request.POST.get(key, "").strip()}
    try:
        job = export_job_create(
            organization=request.organization,
            actor=request.user,
            kind=kind,
            threat_model_id=request.POST.get("threat_model_id") or None,
            filters=filters if kind == ExportKind.PORTFOLIO else None,
            request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("exports:list", slug=slug)
    return redirect("exports:job", slug=slug, job_id=job.pk)


@require_GET
@organization_view()
def export_list(request, slug: str):
    return render(
        request,
        "exports/list.html",
        {
            "organization": request.organization,
            "nav": "exports",
            "jobs": export_jobs_list(organization=request.organization, viewer=request.membership, limit=100),
        },
    )


@require_GET
@organization_view()
def export_job(request, slug: str, job_id: int):
    job = export_job_get(organization=request.organization, job_id=job_id, viewer=request.membership)
    return render(
        request,
        "exports/job.html",
        {
            "organization": request.organization,
            "job": job,
            "nav": "exports",
            "job_status": export_job_status_get(job=job),
            "status_url": reverse("exports:status", args=[slug, job.pk]),
        },
    )


def _status_json(job) -> dict:
    words = export_job_status_get(job=job)
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": words.label,
        "progress": job.progress,
        "progress_label": words.detail,
        "waiting_for_worker": words.waiting_for_worker,
        "error": job.error,
        "finished": job.is_finished,
        "download_url": reverse("exports:download", args=[job.organization.slug, job.pk])
        if job.status == ExportStatus.SUCCEEDED
        else None,
        "file_name": job.file_name,
        "size": job.size,
    }


@require_GET
@organization_view()
def export_status(request, slug: str, job_id: int):
    job = export_job_get(organization=request.organization, job_id=job_id, viewer=request.membership)
    response = JsonResponse(_status_json(job))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@organization_view()
def export_download(request, slug: str, job_id: int):
    job = export_job_get(organization=request.organization, job_id=job_id, viewer=request.membership)
    if job.status != ExportStatus.SUCCEEDED or not job.file:
        return render(
            request,
            "exports/unavailable.html",
            {"organization": request.organization, "job": job},
            status=410 if job.status == ExportStatus.EXPIRED else 404,
        )
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        return render(
            request, "exports/unavailable.html", {"organization": request.organization, "job": job}, status=404
        )
    response = FileResponse(handle, as_attachment=True, filename=job.file_name, content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


SPREADSHEET_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": spreadsheets.XLSX_CONTENT_TYPE}


@require_GET
@organization_view()
def export_spreadsheet_download(request, slug: str, job_id: int):
    """A scheduled run's register spreadsheet, for the same people as its PDF."""
    job = export_job_get(organization=request.organization, job_id=job_id, viewer=request.membership)
    unavailable = job.status != ExportStatus.SUCCEEDED or not job.spreadsheet_file
    try:
        handle = None if unavailable else job.spreadsheet_file.open("rb")
    except FileNotFoundError:
        handle = None
    if handle is None:
        return render(
            request,
            "exports/unavailable.html",
            {"organization": request.organization, "job": job},
            status=410 if job.status == ExportStatus.EXPIRED else 404,
        )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=job.spreadsheet_name,
        content_type=SPREADSHEET_TYPES.get(job.spreadsheet, "application/octet-stream"),
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
