from django.urls import path

from portal.exports import views

app_name = "exports"

urlpatterns = [
    path("o/<slug:slug>/exports/", views.export_list, name="list"),
    path("o/<slug:slug>/exports/new/", views.export_create, name="create"),
    path("o/<slug:slug>/exports/<int:job_id>/", views.export_job, name="job"),
    path("o/<slug:slug>/exports/<int:job_id>/status/", views.export_status, name="status"),
    path("o/<slug:slug>/exports/<int:job_id>/download/", views.export_download, name="download"),
    path(
        "o/<slug:slug>/exports/<int:job_id>/spreadsheet/",
        views.export_spreadsheet_download,
        name="download_spreadsheet",
    ),
]
