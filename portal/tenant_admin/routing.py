"""WebSocket routes of this app, mounted by portal/asgi.py."""

from django.urls import path

from portal.tenant_admin.consumers import AdminEventsConsumer

websocket_urlpatterns: list = [
    path("ws/o/<slug:slug>/admin/events/", AdminEventsConsumer.as_asgi()),
]
