"""The token vault against the sandbox: tokens encrypted at rest, one refresh path under a lease."""

import threading

import httpx
import pytest
from django.db import connection as db

from portal.accounts.models import TMIConnection
from portal.accounts.vault import (
    SignInRequired,
    atmi_client,
    tmi_client,
    tmi_client_options,
    tmi_connection_get,
    tmi_tokens_get,
    tmi_tokens_refresh,
    tmi_tokens_refresh_report,
)
from tests.sandbox.helpers import advance_clock

pytestmark = pytest.mark.django_db(transaction=True)


def test_tokens_are_encrypted_at_rest(organization, member_factory):
    alice = member_factory(organization, "alice")
    stored = tmi_tokens_get(organization=organization, user=alice)
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM accounts_tmiconnection")
        raw_access, raw_refresh = cursor.fetchone()
    assert stored.access_token and stored.access_token not in raw_access
    assert stored.refresh_token and stored.refresh_token not in raw_refresh
    assert stored.access_token not in repr(tmi_connection_get(organization=organization, user=alice))


def test_a_member_reads_tmi_through_the_vault(organization, member_factory):
    alice = member_factory(organization, "alice")
    with tmi_client(organization=organization, user=alice) as client:
        names = [tm.name for tm in client.threat_models.iter()]
    assert names  # the seed gives alice access to several models


async def test_the_async_client_reads_tmi_through_the_vault(organization, member_factory):
    from channels.db import database_sync_to_async

    alice = await database_sync_to_async(member_factory)(organization, "alice")
    async with atmi_client(organization=organization, user=alice) as client:
        page = await client.threat_models.list(limit=5)
    assert 0 < len(page.items) <= 5


def test_an_expired_access_token_is_refreshed_and_stored(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    before = tmi_tokens_get(organization=organization, user=alice)
    advance_clock(sandbox.base_url, 3700)  # the access token has expired at TMI
    with tmi_client(organization=organization, user=alice) as client:
        client.threat_models.list(limit=1)
    after = tmi_tokens_get(organization=organization, user=alice)
    assert after.refresh_token != before.refresh_token
    assert TMIConnection.objects.get(user=alice).refreshed_at is not None


def test_racing_refreshes_spend_the_refresh_token_once(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    connection_id = tmi_connection_get(organization=organization, user=alice).pk
    stale = tmi_tokens_get(organization=organization, user=alice)
    results, errors = [], []

    def refresh():
        try:
            results.append(tmi_tokens_refresh(connection_id=connection_id, stale=stale))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len({pair.access_token for pair in results}) == 1  # all four got the one new pair
    assert not TMIConnection.objects.get(pk=connection_id).needs_sign_in
    # The stale refresh token was spent exactly once: TMI now refuses it.
    refused = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": stale.refresh_token})
    assert refused.status_code == 400


def test_a_lease_left_by_a_dead_process_is_taken_over(organization, member_factory, sandbox):
    from datetime import timedelta

    from django.utils import timezone

    alice = member_factory(organization, "alice")
    connection = tmi_connection_get(organization=organization, user=alice)
    stale = tmi_tokens_get(organization=organization, user=alice)
    connection.refresh_lease_until = timezone.now() - timedelta(seconds=1)  # its holder died at TMI
    connection.save(update_fields=["refresh_lease_until"])
    pair, refreshed_here = tmi_tokens_refresh_report(connection_id=connection.pk, stale=stale)
    assert refreshed_here and pair.refresh_token != stale.refresh_token
    assert TMIConnection.objects.get(pk=connection.pk).refresh_lease_until is None


def test_a_refresh_under_way_elsewhere_is_waited_for_never_repeated(organization, member_factory, sandbox):
    from datetime import timedelta

    from django.utils import timezone

    from portal.tmi import RateLimited

    alice = member_factory(organization, "alice")
    connection = tmi_connection_get(organization=organization, user=alice)
    stale = tmi_tokens_get(organization=organization, user=alice)
    connection.refresh_lease_until = timezone.now() + timedelta(seconds=30)  # another process is at TMI
    connection.save(update_fields=["refresh_lease_until"])
    # Beat does not wait: the other one's result is its result.
    pair, refreshed_here = tmi_tokens_refresh_report(connection_id=connection.pk, stale=stale, wait=False)
    assert not refreshed_here and pair.refresh_token == stale.refresh_token
    # A page waits for it, up to its patience, then hears "try again" (429), never "sign in again".
    with pytest.raises(RateLimited) as waited:
        tmi_tokens_refresh(connection_id=connection.pk, stale=stale, patience=0.2)
    assert waited.value.error == "refresh_in_progress"
    assert not TMIConnection.objects.get(pk=connection.pk).needs_sign_in

    def finish_elsewhere():  # the other process stores its new pair and lets the lease go
        import time

        time.sleep(0.3)
        row = TMIConnection.objects.get(pk=connection.pk)
        row.access_token, row.refresh_token, row.refresh_lease_until = "theirs", "their-refresh", None
        row.save(update_fields=["access_token", "refresh_token", "refresh_lease_until"])
        db.close()

    finisher = threading.Thread(target=finish_elsewhere)
    finisher.start()
    pair = tmi_tokens_refresh(connection_id=connection.pk, stale=stale, patience=10)
    finisher.join()
    assert pair.access_token == "theirs"  # their pair, and the refresh token was not spent a second time
    assert httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": stale.refresh_token}).is_success


def test_a_refused_refresh_marks_the_member_for_sign_in(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    stored = tmi_tokens_get(organization=organization, user=alice)
    # Someone spends the refresh token behind the vault's back.
    assert httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": stored.refresh_token}).is_success
    connection_id = tmi_connection_get(organization=organization, user=alice).pk
    with pytest.raises(SignInRequired):
        tmi_tokens_refresh(connection_id=connection_id, stale=stored)
    assert TMIConnection.objects.get(pk=connection_id).needs_sign_in
    with pytest.raises(SignInRequired):
        tmi_tokens_get(organization=organization, user=alice)


def test_a_member_who_never_signed_in_must_sign_in(organization, django_user_model):
    bob = django_user_model.objects.create_user(username="bob")
    with pytest.raises(SignInRequired):
        tmi_tokens_get(organization=organization, user=bob)


def test_every_client_retries_as_the_settings_say(settings):
    settings.TMI_MAX_RETRIES, settings.TMI_RETRY_BASE_SECONDS = 3, 1.5
    policy = tmi_client_options("https://tmi.example")["retry_policy"]
    assert (policy.max_retries, policy.base_delay) == (3, 1.5)
    assert (
        tmi_client_options("https://tmi.example", max_retries=0)["retry_policy"].max_retries == 0
    )  # sign-out: no retry at all


def test_tokens_go_only_to_the_tmi_server_that_issued_them(organization, member_factory, sandbox_factory, generation):
    """A request that loaded the organisation before it moved to another TMI server (accounts/moving.py) must
    not send the new server's tokens to the old one, nor the old server's to the new one: each connection
    remembers its server and the vault refuses it anywhere else, refresh included, before anything is sent."""
    alice = member_factory(organization, "alice")
    assert TMIConnection.objects.get(user=alice).tmi_base_url == organization.tmi_base_url
    elsewhere = sandbox_factory(generation, seed=None)
    stale = type(organization).objects.get(pk=organization.pk)
    stale.tmi_base_url = elsewhere.base_url  # as a process that believes it moved sees it
    with pytest.raises(SignInRequired):
        tmi_connection_get(organization=stale, user=alice)
    with pytest.raises(SignInRequired), tmi_client(organization=stale, user=alice):
        pass
    type(organization).objects.filter(pk=organization.pk).update(tmi_base_url=elsewhere.base_url)
    connection = TMIConnection.objects.get(user=alice)
    with pytest.raises(SignInRequired):
        tmi_tokens_refresh(connection_id=connection.pk)
    assert httpx.get(f"{elsewhere.base_url}/_sandbox/requests", timeout=5).json()["seen"] == {}  # nothing sent
    assert TMIConnection.objects.get(pk=connection.pk).refresh_lease_until is None  # nor the lease kept


def test_a_pair_refreshed_meanwhile_is_returned_and_the_lease_left_free(organization, member_factory, sandbox):
    alice = member_factory(organization, "alice")
    connection = tmi_connection_get(organization=organization, user=alice)
    stale = tmi_tokens_get(organization=organization, user=alice)
    fresh = tmi_tokens_refresh(connection_id=connection.pk, stale=stale)
    spent = dict(sandbox.state.refreshes_by_user)
    # A caller that read the pair before that refresh finds the lease free, and the new pair behind it.
    pair, refreshed_here = tmi_tokens_refresh_report(connection_id=connection.pk, stale=stale)
    assert not refreshed_here and pair.access_token == fresh.access_token
    assert sandbox.state.refreshes_by_user == spent  # nothing sent to TMI
    assert TMIConnection.objects.get(pk=connection.pk).refresh_lease_until is None


def test_refreshes_in_a_run_share_one_client_and_each_pair_works(organization, member_factory, monkeypatch):
    from portal.accounts import vault
    from portal.accounts.vault import tmi_refresh_clients

    members = [member_factory(organization, hint) for hint in ("alice", "bob", "carol")]
    before = {m.pk: tmi_tokens_get(organization=organization, user=m) for m in members}
    built = []
    monkeypatch.setattr(vault, "_refresh_client", lambda org, made=vault._refresh_client: built.append(1) or made(org))
    with tmi_refresh_clients() as clients:
        for member in members:
            connection = tmi_connection_get(organization=organization, user=member)
            pair, refreshed_here = tmi_tokens_refresh_report(
                connection_id=connection.pk, stale=before[member.pk], clients=clients
            )
            assert refreshed_here and pair.refresh_token != before[member.pk].refresh_token
    assert len(built) == 1  # one client (one connection to TMI) for the run, not one per member
    for member in members:  # each stored pair is the member's own and works at TMI
        row = TMIConnection.objects.get(user=member)
        assert row.refresh_lease_until is None and row.refreshed_at is not None
        assert _subject(row.access_token) == _subject(before[member.pk].access_token)
        with tmi_client(organization=organization, user=member) as client:
            assert client.threat_models.list(limit=1) is not None


def _subject(access_token: str) -> str:
    import jwt

    return jwt.decode(access_token, options={"verify_signature": False})["sub"]
