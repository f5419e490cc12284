"""userinfo, profile, logout and revocation of both generations (PROTOCOL.md 3.7-3.11, 9.2)."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.helpers import advance_clock, bearer, login


@pytest.fixture
def alice(sandbox):
    return login(sandbox.base_url, "alice")


def profile_path(generation: str) -> str:
    return "/users/me" if generation == "0.217" else "/me"


def test_userinfo_shape(sandbox, generation, alice):
    info = httpx.get(f"{sandbox.base_url}/oauth2/userinfo", headers=bearer(alice)).json()
    if generation == "1.8":
        assert info == {"sub": "alice", "email": "alice@tmi.local", "name": "Alice (TMI User)", "idp": "tmi"}
    else:
        assert info == {
            "principal_type": "user",
            "provider": "test",
            "provider_id": "alice",
            "display_name": "Alice (Test User)",
            "email": "alice@test.tmi",
            "is_admin": False,
        }


def test_profile_paths_differ_by_generation(sandbox, generation, alice):
    own = httpx.get(f"{sandbox.base_url}{profile_path(generation)}", headers=bearer(alice))
    assert own.status_code == 200
    assert own.json()["provider_id"] == "alice"
    other = "/users/me" if generation == "1.8" else "/me"
    assert httpx.get(f"{sandbox.base_url}{other}", headers=bearer(alice)).status_code == 404


def test_1_8_profile_has_roles_and_groups(sandbox_factory):
    server = sandbox_factory("1.8", seed=None)
    me = httpx.get(f"{server.base_url}/me", headers=bearer(login(server.base_url, "carol"))).json()
    assert me["is_admin"] is False and me["is_security_reviewer"] is False
    assert me["groups"] == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}])
def test_missing_or_bad_token_is_401_without_www_authenticate(sandbox, generation, headers):
    response = httpx.get(f"{sandbox.base_url}{profile_path(generation)}", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.json()["error_description"] == "Authentication required"
    assert "www-authenticate" not in response.headers


def test_bearer_scheme_case(sandbox, generation, alice):
    lower = {"Authorization": f"bearer {alice['access_token']}"}
    response = httpx.get(f"{sandbox.base_url}{profile_path(generation)}", headers=lower)
    assert response.status_code == (200 if generation == "1.8" else 401)


def test_access_cookie_only_at_1_8(sandbox, generation, alice):
    response = httpx.get(
        f"{sandbox.base_url}{profile_path(generation)}", cookies={"tmi_access_token": alice["access_token"]}
    )
    assert response.status_code == (200 if generation == "1.8" else 401)


def test_access_token_expires_when_the_clock_moves(sandbox, generation, alice):
    url = f"{sandbox.base_url}{profile_path(generation)}"
    assert httpx.get(url, headers=bearer(alice)).status_code == 200
    advance_clock(sandbox.base_url, 3601)
    assert httpx.get(url, headers=bearer(alice)).status_code == 401


def test_short_access_token_lifetime(sandbox_factory, generation):
    server = sandbox_factory(generation, seed=None, access_token_seconds=5)
    tokens = login(server.base_url, "dave")
    assert tokens["expires_in"] == 5
    advance_clock(server.base_url, 5)
    assert httpx.get(f"{server.base_url}/oauth2/userinfo", headers=bearer(tokens)).status_code == 401


# -- 1.8 logout and RFC 7009 revocation ----------------------------------------------------
@pytest.fixture
def server18(sandbox_factory):
    return sandbox_factory("1.8", seed=None)


def test_1_8_logout_blacklists_only_the_access_token(server18):
    tokens = login(server18.base_url, "alice")
    response = httpx.post(f"{server18.base_url}/me/logout", headers=bearer(tokens))
    assert response.status_code == 204
    assert any(c.startswith("tmi_access_token=") for c in response.headers.get_list("set-cookie"))
    assert httpx.get(f"{server18.base_url}/me", headers=bearer(tokens)).status_code == 401
    refreshed = httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        ({}, "Missing or invalid authentication"),
        ({"Authorization": "Bearer nope"}, "Invalid token"),
    ],
)
def test_1_8_logout_errors(server18, headers, description):
    response = httpx.post(f"{server18.base_url}/me/logout", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "error_description": description}


def test_1_8_revoke_requires_client_authentication(server18):
    response = httpx.post(f"{server18.base_url}/oauth2/revoke", json={"token": "x"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Client authentication failed"}


def test_1_8_revoke_refresh_token(server18):
    caller, victim = login(server18.base_url, "bob"), login(server18.base_url, "alice")
    response = httpx.post(
        f"{server18.base_url}/oauth2/revoke",
        headers=bearer(caller),
        json={"token": victim["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert response.status_code == 200 and response.json() == {}
    assert (
        httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": victim["refresh_token"]}).status_code
        == 400
    )
    assert httpx.get(f"{server18.base_url}/me", headers=bearer(victim)).status_code == 200


def test_1_8_revoke_without_hint_tries_both(server18):
    caller, victim = login(server18.base_url, "bob"), login(server18.base_url, "alice")
    for token in (victim["access_token"], victim["refresh_token"]):
        response = httpx.post(f"{server18.base_url}/oauth2/revoke", headers=bearer(caller), data={"token": token})
        assert response.status_code == 200
    assert httpx.get(f"{server18.base_url}/me", headers=bearer(victim)).status_code == 401
    assert (
        httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": victim["refresh_token"]}).status_code
        == 400
    )


def test_1_8_revoke_unknown_token_is_still_200(server18):
    caller = login(server18.base_url, "bob")
    response = httpx.post(f"{server18.base_url}/oauth2/revoke", headers=bearer(caller), json={"token": "unknown"})
    assert response.status_code == 200 and response.json() == {}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"token": "x", "token_type_hint": "id_token"}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_1_8_revoke_bad_requests(server18, body, error):
    caller = login(server18.base_url, "bob")
    response = httpx.post(f"{server18.base_url}/oauth2/revoke", headers=bearer(caller), json=body)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_1_8_revoke_rejects_unknown_fields(server18):
    caller = login(server18.base_url, "bob")
    as_form = httpx.post(
        f"{server18.base_url}/oauth2/revoke", headers=bearer(caller), data={"token": "x", "extra": "1"}
    )
    as_json = httpx.post(
        f"{server18.base_url}/oauth2/revoke", headers=bearer(caller), json={"token": "x", "extra": "1"}
    )
    assert (as_form.status_code, as_form.json()["error"]) == (400, "invalid_request")
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_input")


# -- 0.217 logout = revoke ---------------------------------------------------------------------
@pytest.fixture
def server0217(sandbox_factory):
    return sandbox_factory("0.217", seed=None)


def test_0_217_revoke_logs_out(server0217):
    tokens = login(server0217.base_url, "alice")
    response = httpx.post(f"{server0217.base_url}/oauth2/revoke", headers=bearer(tokens), json={})
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out successfully"}
    assert httpx.get(f"{server0217.base_url}/users/me", headers=bearer(tokens)).status_code == 401
    # no /me/logout at 0.217: a path it lacks, and the revoked token no longer signs in, so 401 (404 with a token)
    assert httpx.post(f"{server0217.base_url}/me/logout", headers=bearer(tokens)).status_code == 401
    fresh = login(server0217.base_url, "alice")
    assert httpx.post(f"{server0217.base_url}/me/logout", headers=bearer(fresh)).status_code == 404


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({}, 400, {"error": "Missing Authorization header"}),
        ({"Authorization": "Bearer nope"}, 401, {"error": "Invalid token"}),
    ],
)
def test_0_217_revoke_errors(server0217, headers, status, body):
    response = httpx.post(f"{server0217.base_url}/oauth2/revoke", headers=headers, json={})
    assert response.status_code == status
    assert response.json() == body
