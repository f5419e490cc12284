"""WebSocket routes of this app, mounted by portal/asgi.py."""

websocket_urlpatterns: list = []
