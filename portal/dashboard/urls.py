from django.urls import path

from portal.dashboard import changes_views, views

app_name = "dashboard"

urlpatterns = [
    path("o/<slug:slug>/", views.portfolio, name="portfolio"),
    path("o/<slug:slug>/refresh/", views.refresh, name="refresh"),
    path("o/<slug:slug>/threat-models/", views.threat_models, name="threat_models"),
    path("o/<slug:slug>/threat-models/<uuid:threat_model_id>/", views.threat_model, name="threat_model"),
    path("o/<slug:slug>/changes/", changes_views.changes, name="changes"),
    path("o/<slug:slug>/trends/", changes_views.trends, name="trends"),
]
