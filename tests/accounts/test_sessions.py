"""The portal's session store: Django's database sessions, read in one plain row read."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_portal_uses_it():
    assert settings.SESSION_ENGINE == "portal.accounts.sessions"


def test_a_saved_session_loads_with_its_data():
    session = SessionStore()
    session["tmi_signin"] = {"organization": "acme", "login_hint": "alice <b>"}
    session.create()
    loaded = SessionStore(session.session_key)
    assert loaded["tmi_signin"] == {"organization": "acme", "login_hint": "alice <b>"}
    assert loaded.session_key == session.session_key


def test_an_expired_session_loads_empty_and_its_key_is_never_reused():
    session = SessionStore()
    session["secret"] = "from before"
    session.create()
    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    loaded = SessionStore(session.session_key)
    assert "secret" not in loaded and dict(loaded.items()) == {}
    loaded["fresh"] = True
    loaded.save()
    assert loaded.session_key != session.session_key  # a fixation attempt gets a new key


@pytest.mark.parametrize("key", ["nosuchkeynosuchkeynosuchkey12345", "' OR '1'='1' --abcdefghijklmnop"])
def test_an_unknown_or_hostile_key_loads_empty(key):
    SessionStore().create()  # a row that a spliced key would match
    loaded = SessionStore(key)
    assert dict(loaded.items()) == {} and loaded.session_key is None


@pytest.mark.django_db(transaction=True)  # the store's thread writes and reads on its own connection
async def test_the_async_load_reads_the_same():
    from asgiref.sync import sync_to_async

    session = SessionStore()
    session["n"] = 1
    await sync_to_async(session.create)()
    loaded = SessionStore(session.session_key)
    assert await loaded.aget("n") == 1
