from django.urls import path

from portal.live import views

app_name = "live"

urlpatterns = [
    path(
        "o/<slug:slug>/threat-models/<uuid:threat_model_id>/diagrams/<uuid:diagram_id>/live/",
        views.diagram,
        name="diagram",
    ),
]
