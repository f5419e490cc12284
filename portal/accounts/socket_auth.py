"""Who is on a browser socket: the signed-in user of its session, looked up by the first database call that asks.

Channels' AuthMiddleware looks the user up in a trip of its own to the database thread before the consumer
runs; every consumer of ours then makes a second trip straight away, for the organisation access
(portal/organizations/access.py). Here `scope["user"]` is lazy, as Django's own middleware makes
`request.user` for a page, so the session, the user and the membership are read in that one trip: one trip
fewer for every socket that opens.

The user is looked up as a page's is (`django.contrib.auth.get_user`: the backend's user, the session's hash
checked, a session that fails it flushed). Read first on the event loop, it raises Django's
SynchronousOnlyOperation rather than blocking the loop: a consumer reads it in a database call first.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth import get_user
from django.utils.functional import SimpleLazyObject


def _session_user(session):
    return get_user(SimpleNamespace(session=session))


class LazySocketUserMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        if "session" not in scope:
            raise ValueError("LazySocketUserMiddleware needs Channels' SessionMiddleware above it.")
        scope = dict(scope)
        scope["user"] = SimpleLazyObject(functools.partial(_session_user, scope["session"]))
        return await super().__call__(scope, receive, send)


def SocketAuthMiddlewareStack(inner):  # noqa: N802 (named as Channels' AuthMiddlewareStack, which it replaces)
    return CookieMiddleware(SessionMiddleware(LazySocketUserMiddleware(inner)))
