from django.urls import path

from portal.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("o/<slug:slug>/", views.portfolio, name="portfolio"),
    path("o/<slug:slug>/refresh/", views.refresh, name="refresh"),
    path("o/<slug:slug>/threat-models/", views.threat_models, name="threat_models"),
    path("o/<slug:slug>/threat-models/<uuid:threat_model_id>/", views.threat_model, name="threat_model"),
]
