"""Who is on a browser socket (accounts/socket_auth.py): the session's user, looked up by the first database call
that asks, with the checks Django makes for a page."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import SynchronousOnlyOperation
from django.test import Client
from django.utils.functional import empty

from portal.accounts.socket_auth import SocketAuthMiddlewareStack

pytestmark = pytest.mark.django_db(transaction=True)


async def through_the_stack(session_key: str | None, inner) -> None:
    headers = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode())] if session_key else []
    scope = {"type": "websocket", "path": "/ws/", "headers": headers}

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        pass

    await SocketAuthMiddlewareStack(inner)(scope, receive, send)


def signed_in(django_user_model, name: str = "ada") -> tuple[object, str]:
    user = django_user_model.objects.create_user(name, password="a-password-long-enough")
    client = Client()
    client.force_login(user)
    return user, client.session.session_key


async def test_the_user_is_looked_up_in_the_first_database_call_that_asks(django_user_model):
    user, key = await database_sync_to_async(signed_in)(django_user_model)
    seen = {}

    async def consumer(scope, receive, send):
        seen["before"] = scope["user"].__dict__["_wrapped"]  # nothing read yet: no trip of its own
        seen["pk"] = await database_sync_to_async(lambda: scope["user"].pk)()
        seen["authenticated"] = scope["user"].is_authenticated  # now known, on the event loop too

    await through_the_stack(key, consumer)
    assert seen["before"] is empty
    assert seen["pk"] == user.pk
    assert seen["authenticated"] is True


async def test_no_session_is_an_anonymous_user(django_user_model):
    seen = {}

    async def consumer(scope, receive, send):
        seen["authenticated"] = await database_sync_to_async(lambda: scope["user"].is_authenticated)()

    await through_the_stack(None, consumer)
    await through_the_stack("no-such-session", consumer)
    assert seen["authenticated"] is False


async def test_a_session_from_before_a_password_change_is_signed_out(django_user_model):
    """As for a page: the session's hash no longer matches the user's, so nobody is signed in and the session
    is flushed."""
    user, key = await database_sync_to_async(signed_in)(django_user_model)

    def change_password():
        user.set_password("another-password-long-enough")
        user.save()

    await database_sync_to_async(change_password)()
    seen = {}

    async def consumer(scope, receive, send):
        seen["authenticated"] = await database_sync_to_async(lambda: scope["user"].is_authenticated)()

    await through_the_stack(key, consumer)
    assert seen["authenticated"] is False
    assert not await database_sync_to_async(Session.objects.filter(session_key=key).exists)()


async def test_reading_the_user_first_on_the_event_loop_fails_loudly(django_user_model):
    """Not a query blocking every socket of the process: Django's error, so the mistake is found in a test."""
    _, key = await database_sync_to_async(signed_in)(django_user_model)
    seen = {}

    async def consumer(scope, receive, send):
        try:
            seen["authenticated"] = scope["user"].is_authenticated
        except SynchronousOnlyOperation:
            seen["refused"] = True

    await through_the_stack(key, consumer)
    assert seen == {"refused": True}
