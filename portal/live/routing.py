"""WebSocket routes of live diagrams, mounted by portal/asgi.py."""

from django.urls import path

from portal.live.consumers import LiveDiagramConsumer

websocket_urlpatterns = [
    path(
        "ws/o/<slug:slug>/threat-models/<uuid:threat_model_id>/diagrams/<uuid:diagram_id>/live/",
        LiveDiagramConsumer.as_asgi(),
    ),
]
