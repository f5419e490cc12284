"""Discovery and signing in and out, against the running sandbox of each generation (PROTOCOL.md 1, 3, 9)."""

from __future__ import annotations

import threading

import httpx
import pytest

from portal.tmi import RefreshFailed, ServerConfig, TMIClient, TokenAuth, TokenPair, Unauthorized, profile_for
from tests.tmi.helpers import CLIENT_CALLBACK, authorize_redirect, sign_in


def test_discovery_reports_the_generation(anonymous, sandbox):
    info = anonymous.discovery()
    generation = sandbox.config.generation
    assert info.generation == generation and info.status == "ok"
    assert info.version == {"1.8": "1.8.22", "0.217": "0.217.1"}[generation]
    assert info.build.startswith(info.version)
    assert anonymous.server == info


def test_config_exists_only_at_1_8(anonymous, generation):
    if generation == "1.8":
        assert isinstance(anonymous.config(), ServerConfig)
    else:  # the real 0.217.8 has no /config: an anonymous request for a path it lacks is 401 there
        with pytest.raises(Unauthorized):
            anonymous.config()


def test_test_provider_has_the_generations_id(anonymous, generation):
    provider = anonymous.auth.test_provider()
    assert provider.id == profile_for(generation).test_idp
    assert "?idp=" in provider.auth_url


def test_the_whole_oauth_flow(anonymous, sandbox, generation):
    profile = profile_for(generation)
    # authorize URL -> GET without following -> Location carries code and the same state
    code, state, verifier = authorize_redirect(anonymous, "alice", state="state-123")
    assert state == "state-123" and code.startswith("test_auth_code_")
    tokens = anonymous.auth.exchange_code(code, verifier, redirect_uri=CLIENT_CALLBACK, idp=profile.test_idp)
    assert tokens.token_type == profile.token_type and tokens.expires_in == 3600 and tokens.refresh_token

    with TMIClient(sandbox.base_url, auth=tokens) as client:
        info = client.auth.userinfo()
        me = client.auth.me()
        assert info.provider_id == me.provider_id == "alice"
        assert info.provider == profile.test_idp
        assert me.email == {"1.8": "alice@tmi.local", "0.217": "alice@test.tmi"}[generation]

    # refresh rotates; the old refresh token is then refused
    fresh = anonymous.auth.refresh(tokens.refresh_token)
    assert fresh.refresh_token != tokens.refresh_token and fresh.access_token != tokens.access_token
    with pytest.raises(RefreshFailed) as reused:
        anonymous.auth.refresh(tokens.refresh_token)
    assert reused.value.status_code == 400
    assert profile.refresh_failure in reused.value.error

    # logout: the access token stops working (and at 1.8 the refresh token is revoked too)
    anonymous.auth.logout(fresh)
    with TMIClient(sandbox.base_url, auth=fresh.access_token) as client, pytest.raises(Unauthorized):
        client.auth.me()
    if generation == "1.8":
        with pytest.raises(RefreshFailed):
            anonymous.auth.refresh(fresh.refresh_token)


def test_exchanging_a_code_twice_fails(anonymous, generation):
    code, _, verifier = authorize_redirect(anonymous, "bob")
    idp = profile_for(generation).test_idp
    anonymous.auth.exchange_code(code, verifier, redirect_uri=CLIENT_CALLBACK, idp=idp)
    with pytest.raises(Exception) as caught:
        anonymous.auth.exchange_code(code, verifier, redirect_uri=CLIENT_CALLBACK, idp=idp)
    assert getattr(caught.value, "status_code", None) == 400


def test_revoke_at_1_8_takes_a_refresh_token(anonymous, alice_tokens, generation):
    anonymous.auth.revoke(
        alice_tokens.refresh_token, token_type_hint="refresh_token", access_token=alice_tokens.access_token
    )
    if generation == "1.8":
        with pytest.raises(RefreshFailed):
            anonymous.auth.refresh(alice_tokens.refresh_token)
    else:  # 0.217 can only blacklist the access token it is called with (PROTOCOL.md 9.2)
        with TMIClient(anonymous.base_url, auth=alice_tokens.access_token) as client, pytest.raises(Unauthorized):
            client.auth.me()


def _count_refreshes(counter: list[str]):
    def hook(request: httpx.Request) -> None:
        if request.url.path == "/oauth2/refresh":
            counter.append(request.url.path)

    return hook


def test_an_access_token_the_server_calls_expired_is_refreshed(sandbox, alice_tokens, control):
    stored: list[TokenPair] = []
    calls: list[str] = []
    with TMIClient(
        sandbox.base_url,
        auth=alice_tokens,
        on_refresh=stored.append,
        event_hooks={"request": [_count_refreshes(calls)]},
    ) as client:
        control.post("/_sandbox/clock", json={"advance_seconds": 3700}).raise_for_status()
        # The client's clock still thinks the token is fresh: the server's 401 triggers the refresh.
        assert client.auth.me().provider_id == "alice"
        assert len(calls) == 1 and stored and client.tokens == stored[-1]
        assert client.tokens.access_token != alice_tokens.access_token


def test_a_short_lived_token_is_refreshed_before_it_expires(sandbox_factory, generation):
    sandbox = sandbox_factory(generation, access_token_seconds=30)
    with TMIClient(sandbox.base_url) as anonymous:
        tokens = sign_in(anonymous, "carol")
    assert tokens.expires_in == 30
    calls: list[str] = []
    with TMIClient(
        sandbox.base_url, auth=tokens, refresh_skew=60, event_hooks={"request": [_count_refreshes(calls)]}
    ) as client:
        client.auth.me()
        assert len(calls) == 1 and client.tokens.refresh_token != tokens.refresh_token


def test_a_reused_refresh_token_surfaces_as_refresh_failed(sandbox, alice_tokens, anonymous, control):
    anonymous.auth.refresh(alice_tokens.refresh_token)  # someone else used it first
    control.post("/_sandbox/clock", json={"advance_seconds": 3700}).raise_for_status()
    with TMIClient(sandbox.base_url, auth=alice_tokens) as client, pytest.raises(RefreshFailed):
        client.auth.me()


def test_concurrent_requests_refresh_once_against_the_sandbox(sandbox, alice_tokens, control):
    calls: list[str] = []
    auth = TokenAuth(alice_tokens)
    with TMIClient(sandbox.base_url, auth=auth, event_hooks={"request": [_count_refreshes(calls)]}) as client:
        control.post("/_sandbox/clock", json={"advance_seconds": 3700}).raise_for_status()
        errors: list[BaseException] = []

        def fetch():
            try:
                client.auth.me()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=fetch) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and len(calls) == 1 and auth.refresh_count == 1
