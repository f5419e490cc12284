import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from portal.deployment import serving_secrets_require  # noqa: E402

serving_secrets_require()  # no serving on the public development secrets with DEBUG off

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.accounts.socket_auth import SocketAuthMiddlewareStack  # noqa: E402
from portal.exports.routing import websocket_urlpatterns as exports_sockets  # noqa: E402
from portal.live.routing import websocket_urlpatterns as live_sockets  # noqa: E402
from portal.live.sending import autobahn_settings_printed_later  # noqa: E402
from portal.tenant_admin.routing import websocket_urlpatterns as admin_sockets  # noqa: E402

autobahn_settings_printed_later()

websocket_urlpatterns = [*live_sockets, *exports_sockets, *admin_sockets]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(SocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# What loading made (Django, the apps, the URL conf: some 130,000 objects) lives as long as the server. Frozen, a
# full garbage collection no longer walks it: 35 ms on a development machine, a stall of every live socket in the
# middle of a burst of frames.
gc.freeze()
# Younger-generation collections between two full ones (CPython's default is 10).
FULL_COLLECTION_EVERY = 100
# A full collection walks every live session's objects (90 ms with a thousand open, every socket stalled meanwhile),
# and with the default third threshold (10) it ran seven times while a thousand browsers connected, each time the
# heap had grown by a quarter: 0.7 s of a 13 s connect, and the relay's p99. Ten times rarer, it still runs, so
# cycles that outlive the younger generations are still freed.
gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTION_EVERY)
