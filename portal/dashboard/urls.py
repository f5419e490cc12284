from django.urls import path

from portal.dashboard import changes_views, register_views, views

app_name = "dashboard"

urlpatterns = [
    path("o/<slug:slug>/", views.portfolio, name="portfolio"),
    path("o/<slug:slug>/refresh/", views.refresh, name="refresh"),
    path("o/<slug:slug>/threat-models/", views.threat_models, name="threat_models"),
    path("o/<slug:slug>/threat-models/<uuid:threat_model_id>/", views.threat_model, name="threat_model"),
    path("o/<slug:slug>/threats/", register_views.threats, name="threats"),
    path("o/<slug:slug>/threats/export.csv", register_views.threats_csv, name="threats_csv"),
    path("o/<slug:slug>/threats/export.xlsx", register_views.threats_xlsx, name="threats_xlsx"),
    path("o/<slug:slug>/threat-models/export.csv", register_views.threat_models_csv, name="threat_models_csv"),
    path("o/<slug:slug>/threat-models/export.xlsx", register_views.threat_models_xlsx, name="threat_models_xlsx"),
    path("o/<slug:slug>/changes/", changes_views.changes, name="changes"),
    path("o/<slug:slug>/trends/", changes_views.trends, name="trends"),
]
