"""The login flow of both generations: providers, authorize, callback, token, refresh
(PROTOCOL.md 3.1-3.6, 9.2), driven over HTTP with raw httpx."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from tests.sandbox.helpers import CLIENT_CALLBACK, authorize, bearer, code_from_redirect, exchange, login, pkce_pair


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.base_url, timeout=10) as c:
        yield c


@pytest.fixture
def server18(sandbox_factory):
    return sandbox_factory("1.8", seed=None)


@pytest.fixture
def idp(generation):
    return "test" if generation == "0.217" else "tmi"


def authorize_query(**overrides):
    _, challenge = pkce_pair()
    params = {
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "client_callback": CLIENT_CALLBACK,
        "state": "s1",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def location_query(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


# -- providers -------------------------------------------------------------------------
def test_providers_list_the_generation_test_idp(sandbox, client, idp):
    providers = client.get("/oauth2/providers").json()["providers"]
    assert [p["id"] for p in providers] == [idp]
    provider = providers[0]
    assert provider["auth_url"] == f"{sandbox.base_url}/oauth2/authorize?idp={idp}"
    assert provider["token_url"] == f"{sandbox.base_url}/oauth2/token?idp={idp}"
    assert provider["redirect_uri"] == f"{sandbox.base_url}/oauth2/callback"
    assert provider["icon"] and provider["name"] and provider["client_id"]


def test_providers_honour_forwarded_proto(client):
    provider = client.get("/oauth2/providers", headers={"X-Forwarded-Proto": "https", "Host": "tmi.example"}).json()[
        "providers"
    ][0]
    assert provider["auth_url"].startswith("https://tmi.example/oauth2/authorize?idp=")


# -- authorize -------------------------------------------------------------------------
def test_authorize_redirects_straight_to_the_client_callback(client, idp):
    response = client.get("/oauth2/authorize", params=authorize_query(idp=idp, login_hint="alice", state="a/b+c="))
    location = response.headers["location"]
    assert location.startswith(CLIENT_CALLBACK + "?code=test_auth_code_")
    query = location_query(response)
    hint = base64.urlsafe_b64encode(b"alice").decode()
    assert query["code"][0].endswith(f"_hint_{hint}")
    assert location.endswith("&state=a%2Fb%2Bc%3D")  # state is URL-escaped
    assert query["state"] == ["a/b+c="]


def test_authorize_without_hint_has_a_bare_code(client):
    code = location_query(client.get("/oauth2/authorize", params=authorize_query()))["code"][0]
    assert code.removeprefix("test_auth_code_").isdigit()


def test_authorize_defaults_idp_and_generates_a_padded_state(client):
    query = location_query(client.get("/oauth2/authorize", params=authorize_query(state=None)))
    state = query["state"][0]
    assert len(state) == 44 and state.endswith("=")
    assert len(base64.urlsafe_b64decode(state)) == 32


def test_authorize_concatenates_onto_a_callback_with_a_query(client):
    response = client.get("/oauth2/authorize", params=authorize_query(client_callback=CLIENT_CALLBACK + "?org=x"))
    assert response.headers["location"].startswith(CLIENT_CALLBACK + "?org=x?code=test_auth_code_")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": None}, "invalid_input"),
        ({"scope": "profile email"}, "invalid_scope"),
        ({"code_challenge": None}, "invalid_input"),
        ({"code_challenge": "a" * 42}, "invalid_input"),
        ({"code_challenge": "a" * 129}, "invalid_input"),
        ({"code_challenge": "a" * 42 + "~"}, "invalid_request"),  # spec allows ~, TMI's own check does not
        ({"code_challenge_method": None}, "invalid_input"),
        ({"code_challenge_method": "plain"}, "invalid_input"),  # the spec's enum (real 1.8.22 and 0.217.8)
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"state": "has space"}, "invalid_input"),
        ({"state": "a" * 257}, "invalid_input"),
        ({"login_hint": "alice@example.com"}, "invalid_input"),
        ({"client_callback": "ftp://127.0.0.1/x"}, "invalid_input"),
        ({"idp": "9bad"}, "invalid_input"),
    ],
)
def test_authorize_parameter_rules(client, overrides, error):
    response = client.get("/oauth2/authorize", params=authorize_query(**overrides))
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_authorize_unknown_idp(client):
    response = client.get("/oauth2/authorize", params=authorize_query(idp="github"))
    assert response.status_code == 400
    assert response.json() == {"error": "provider github not found"}


def test_login_hint_patterns_differ_by_generation(client, generation):
    response = client.get("/oauth2/authorize", params=authorize_query(login_hint="Alice.B"))
    if generation == "1.8":  # passes 1.8's spec pattern (and later becomes a random user)
        assert response.status_code == 302
    else:  # 0.217's pattern is ^[a-zA-Z0-9-]{3,20}$
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_input"


@pytest.mark.parametrize(
    ("allowlist", "callback", "allowed"),
    [
        (["http://app.example/cb"], "http://app.example/cb", True),
        (["http://app.example/cb"], "http://app.example/cb2", False),
        (["http://app.example/*"], "http://app.example/o/acme/callback", True),
        (["http://app.example/*"], "http://evil.example/cb", False),
        ([], "http://127.0.0.1:8000/callback", False),
    ],
)
def test_client_callback_allowlist_at_1_8(sandbox_factory, allowlist, callback, allowed):
    server = sandbox_factory("1.8", seed=None, client_callback_allowlist=allowlist)
    response = httpx.get(f"{server.base_url}/oauth2/authorize", params=authorize_query(client_callback=callback))
    if allowed:
        assert response.status_code == 302
        assert response.headers["location"].startswith(callback + "?code=")
    else:
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_request",
            "error_description": "client_callback is not in the allowlist",
        }


def test_0_217_has_no_allowlist(sandbox_factory):
    server = sandbox_factory("0.217", seed=None, client_callback_allowlist=[])
    response = httpx.get(
        f"{server.base_url}/oauth2/authorize", params=authorize_query(client_callback="https://anything.example/cb")
    )
    assert response.status_code == 302


def test_without_client_callback_the_server_callback_fails(client):
    response = client.get("/oauth2/authorize", params=authorize_query(client_callback=None))
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert target.path == "/oauth2/callback"
    followed = client.get(f"{target.path}?{target.query}")
    assert followed.status_code == 400
    assert followed.json()["error_description"] == "client_callback URL is required"


# -- callback ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("", {"error": "Missing code or state parameter"}),
        ("?code=x", {"error": "Missing code or state parameter"}),
        ("?code=x&state=unknown", {"error": "Invalid state parameter"}),
        ("?error=access_denied&state=s", {"error": "access_denied"}),
    ],
)
def test_callback_errors(client, query, body):
    response = client.get(f"/oauth2/callback{query}")
    assert response.status_code == 400
    assert response.json() == body


def test_callback_binds_pkce_to_the_provider_code_and_consumes_the_state(client, idp):
    verifier, challenge = pkce_pair()
    client.get(
        "/oauth2/authorize",
        params=authorize_query(
            idp=idp, code_challenge=challenge, client_callback=CLIENT_CALLBACK + "?org=acme", state="real-provider"
        ),
    )
    response = client.get("/oauth2/callback?code=test_auth_code_1_hint_Ym9i&state=real-provider")
    assert response.status_code == 302
    query = location_query(response)
    assert query == {"org": ["acme"], "code": ["test_auth_code_1_hint_Ym9i"], "state": ["real-provider"]}
    assert exchange(client, idp, "test_auth_code_1_hint_Ym9i", verifier).json()["access_token"]
    assert client.get("/oauth2/callback?code=x&state=real-provider").json() == {"error": "Invalid state parameter"}


# -- token -------------------------------------------------------------------------------
def test_login_issues_the_generation_token_shape(sandbox, generation):
    tokens = login(sandbox.base_url, "alice")
    assert tokens["expires_in"] == 3600
    assert tokens["token_type"] == ("Bearer" if generation == "0.217" else "bearer")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "alice"
    assert claims["iss"] == sandbox.base_url and claims["aud"] == [sandbox.base_url]
    assert ("auth_time" in claims) == (generation == "1.8")


@pytest.mark.parametrize(
    ("hint", "sub", "email", "name"),
    [
        ("alice", "alice", "alice@tmi.local", "Alice (TMI User)"),
        ("Alice-Smith", "alice-smith", "alice-smith@tmi.local", "Alice Smith (TMI User)"),
    ],
)
def test_identity_from_hint_at_1_8(sandbox_factory, hint, sub, email, name):
    server = sandbox_factory("1.8", seed=None)
    profile = httpx.get(f"{server.base_url}/me", headers=bearer(login(server.base_url, hint))).json()
    assert (profile["provider"], profile["provider_id"], profile["email"], profile["display_name"]) == (
        "tmi",
        sub,
        email,
        name,
    )


def test_identity_from_hint_at_0_217(sandbox_factory):
    server = sandbox_factory("0.217", seed=None)
    profile = httpx.get(f"{server.base_url}/users/me", headers=bearer(login(server.base_url, "alice"))).json()
    assert profile == {
        "principal_type": "user",
        "provider": "test",
        "provider_id": "alice",
        "display_name": "Alice (Test User)",
        "email": "alice@test.tmi",
        "is_admin": False,
    }


@pytest.mark.parametrize("hint", ["ab", "-alice", "alice-", "a" * 21, "Alice.B"])
def test_invalid_hint_gets_a_random_test_user(sandbox_factory, hint):
    server = sandbox_factory("1.8", seed=None)
    claims = jwt.decode(login(server.base_url, hint)["access_token"], options={"verify_signature": False})
    digits = claims["sub"].removeprefix("testuser-")
    assert len(digits) == 8 and digits.isdigit()
    assert claims["email"] == f"testuser-{digits}@tmi.local"
    assert claims["name"] == f"Test User {digits}"


def test_same_hint_is_the_same_user(sandbox):
    first, second = login(sandbox.base_url, "bob"), login(sandbox.base_url, "bob")
    assert first["access_token"] != second["access_token"]
    bob = [u for u in sandbox.state.users.values() if u.provider_id == "bob"]
    assert len(bob) == 1


def start_login(client, idp, hint="alice"):
    verifier, challenge = pkce_pair()
    return verifier, code_from_redirect(authorize(client, idp, hint, challenge=challenge))


def test_pkce_mismatch_deletes_the_code(client, idp):
    verifier, code = start_login(client, idp)
    wrong = exchange(client, idp, code, pkce_pair()[0])
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_grant", "error_description": "PKCE verification failed"}
    retry = exchange(client, idp, code, verifier)  # no second try with the right verifier
    assert retry.json()["error_description"] == "Authorization code is invalid or expired"


def test_code_is_single_use(client, idp):
    verifier, code = start_login(client, idp)
    assert exchange(client, idp, code, verifier).status_code == 200
    again = exchange(client, idp, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_expires_after_ten_minutes(client, sandbox, idp):
    verifier, code = start_login(client, idp)
    sandbox.state.clock_offset += 601
    assert exchange(client, idp, code, verifier).json()["error"] == "invalid_grant"


def test_unknown_code(client, idp):
    response = exchange(client, idp, "test_auth_code_123", pkce_pair()[0])
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Authorization code is invalid or expired",
    }


def test_verifier_format(client, idp):
    _, code = start_login(client, idp)
    response = exchange(client, idp, code, "short")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "Code verifier format is invalid."}


def test_redirect_uri_must_be_a_url_but_is_otherwise_ignored(client, idp):
    verifier, code = start_login(client, idp)
    body = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    bad = client.post(f"/oauth2/token?idp={idp}", json={**body, "redirect_uri": "not a url"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    good = client.post(f"/oauth2/token?idp={idp}", json={**body, "redirect_uri": "https://elsewhere.example/x"})
    assert good.status_code == 200


def test_missing_fields_1_8(server18):
    response = httpx.post(f"{server18.base_url}/oauth2/token", json={"grant_type": "authorization_code", "code": "x"})
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Missing required fields for authorization_code grant",
    }


def test_missing_fields_0_217(sandbox_factory):
    server = sandbox_factory("0.217", seed=None)
    response = httpx.post(f"{server.base_url}/oauth2/token", json={"grant_type": "authorization_code", "code": "x"})
    assert response.status_code == 400
    assert response.json() == {  # the OpenAPI validator's answer, as the real 0.217.8 gives it
        "error": "invalid_input",
        "error_description": "error in openapi3filter.RequestError: request body has an error: doesn't match "
        'schema: Error at "/redirect_uri": property "redirect_uri" is missing',
        "details": None,
    }


def test_0_217_token_has_only_authorization_code(sandbox_factory):
    server = sandbox_factory("0.217", seed=None)
    response = httpx.post(f"{server.base_url}/oauth2/token", json={"grant_type": "refresh_token", "refresh_token": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_input"


def test_1_8_token_json_is_strict(server18):
    response = httpx.post(f"{server18.base_url}/oauth2/token", json={"grant_type": "authorization_code", "scope": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_input"


def test_1_8_token_takes_a_form(server18):
    with httpx.Client(base_url=server18.base_url) as c:
        verifier, code = start_login(c, "tmi")
        response = c.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": CLIENT_CALLBACK,
            },
        )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_1_8_sets_token_cookies(server18):
    with httpx.Client(base_url=server18.base_url) as c:
        verifier, code = start_login(c, "tmi")
        response = exchange(c, "tmi", code, verifier)
    cookies = response.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith("tmi_access_token="))
    refresh = next(c for c in cookies if c.startswith("tmi_refresh_token="))
    assert "HttpOnly" in access and "SameSite=Lax" in access and "Path=/" in access  # Go's spelling
    assert "HttpOnly" in refresh and "SameSite=Strict" in refresh and "Path=/oauth2" in refresh


def test_1_8_production_build_refuses_the_test_idp(sandbox_factory):
    server = sandbox_factory("1.8", seed=None, build_mode="production")
    with httpx.Client(base_url=server.base_url) as c:
        missing_idp = c.get("/oauth2/authorize", params=authorize_query())
        assert missing_idp.json() == {"error": "Missing required parameter: idp"}
        verifier, code = start_login(c, "tmi")
        response = exchange(c, "tmi", code, verifier)
    assert response.status_code == 403
    assert response.json()["error"] == "unsupported_grant_type"


def test_1_8_unknown_client_credentials_are_refused(server18):
    response = httpx.post(
        f"{server18.base_url}/oauth2/token",
        json={"grant_type": "client_credentials", "client_id": "tmi_cc_x", "client_secret": "s"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_1_8_unsupported_grant(server18):
    response = httpx.post(f"{server18.base_url}/oauth2/token", json={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json() == {  # the OpenAPI validator's enum, as the real 1.8.22 answers
        "error": "invalid_input",
        "error_description": "error in openapi3filter.RequestError: request body has an error: doesn't match "
        'schema: Error at "/grant_type": value is not one of the allowed values '
        '["authorization_code","client_credentials","refresh_token"]',
    }


# -- refresh -----------------------------------------------------------------------------
def test_refresh_rotates_and_rejects_reuse(sandbox, generation):
    tokens = login(sandbox.base_url, "alice")
    rotated = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    assert httpx.get(f"{sandbox.base_url}/oauth2/userinfo", headers=bearer(rotated.json())).status_code == 200
    reused = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 400
    if generation == "1.8":
        assert reused.json() == {
            "error": "invalid_grant",
            "error_description": "The refresh token is invalid or expired.",
        }
    else:
        assert reused.json()["error"].startswith("Failed to refresh token: ")


def test_refresh_without_a_token(sandbox, generation):
    response = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={})
    assert response.status_code == 400
    if generation == "1.8":
        assert response.json() == {"error": "Missing refresh_token"}
    else:  # the real 0.217.8: its OpenAPI validator; a used or unknown token is its Redis miss
        assert response.json()["error"] == "invalid_input"
        assert 'property "refresh_token" is missing' in response.json()["error_description"]
        unknown = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": "nope"})
        assert unknown.json() == {"error": "Failed to refresh token: invalid refresh token: redis: nil"}


def test_1_8_refresh_from_the_cookie_and_by_grant(server18):
    tokens = login(server18.base_url, "alice")
    by_cookie = httpx.post(
        f"{server18.base_url}/oauth2/refresh", cookies={"tmi_refresh_token": tokens["refresh_token"]}
    )
    assert by_cookie.status_code == 200
    by_grant = httpx.post(
        f"{server18.base_url}/oauth2/token",
        json={"grant_type": "refresh_token", "refresh_token": by_cookie.json()["refresh_token"]},
    )
    assert by_grant.status_code == 200
    claims = [
        jwt.decode(t["access_token"], options={"verify_signature": False})
        for t in (tokens, by_cookie.json(), by_grant.json())
    ]
    assert len({c["auth_time"] for c in claims}) == 1  # auth_time survives rotation


def test_1_8_session_cap_survives_rotation(sandbox_factory):
    server = sandbox_factory("1.8", seed=None, session_lifetime_days=1)
    refresh = login(server.base_url, "alice")["refresh_token"]
    server.state.clock_offset += 12 * 3600
    refresh = httpx.post(f"{server.base_url}/oauth2/refresh", json={"refresh_token": refresh}).json()["refresh_token"]
    server.state.clock_offset += 13 * 3600  # the new token is 13 h old, but the session is 25 h old
    response = httpx.post(f"{server.base_url}/oauth2/refresh", json={"refresh_token": refresh})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_1_8_refresh_token_expires(server18):
    refresh = login(server18.base_url, "alice")["refresh_token"]
    server18.state.clock_offset += 7 * 86400 + 1
    assert httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": refresh}).status_code == 400


def test_0_217_refresh_lives_30_days_without_a_cap(sandbox_factory):
    server = sandbox_factory("0.217", seed=None)
    refresh = login(server.base_url, "alice")["refresh_token"]
    server.state.clock_offset += 29 * 86400
    assert httpx.post(f"{server.base_url}/oauth2/refresh", json={"refresh_token": refresh}).status_code == 200


def test_0_217_production_build_has_no_test_provider(sandbox_factory):
    server = sandbox_factory("0.217", seed=None, build_mode="production")
    with httpx.Client(base_url=server.base_url) as c:
        assert c.get("/oauth2/providers").json() == {"providers": []}
        response = c.get("/oauth2/authorize", params=authorize_query(idp="test"))
        assert response.status_code == 404
        assert response.json() == {"error": "Provider not available"}
        assert c.get("/oauth2/authorize", params=authorize_query()).json() == {
            "error": "Missing required parameter: idp"
        }


def test_1_8_failed_refresh_clears_the_cookies(server18):
    response = httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": "unknown"})
    assert response.status_code == 400
    cleared = [c for c in response.headers.get_list("set-cookie") if "Max-Age=0" in c]
    assert {c.split("=", 1)[0] for c in cleared} == {"tmi_access_token", "tmi_refresh_token"}


def test_0_217_production_token_has_no_test_provider(sandbox_factory):
    server = sandbox_factory("0.217", seed=None, build_mode="production")
    body = {"grant_type": "authorization_code", "code": "x", "redirect_uri": CLIENT_CALLBACK, "code_verifier": "v" * 43}
    response = httpx.post(f"{server.base_url}/oauth2/token?idp=test", json=body)
    assert response.status_code == 404
    assert response.json() == {"error": "Provider not available"}


def test_refresh_has_no_reuse_detection_and_keeps_the_old_access_token(sandbox):
    """Seen on the real 1.8.22 (PROTOCOL.md 12.14, 12.20); 0.217 rotates the same way (9.2)."""
    tokens = login(sandbox.base_url, "alice")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600 and tokens["expires_in"] == 3600
    rotated = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    replayed = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replayed.status_code == 400
    # The replay revoked nothing: the rotated refresh token still works, and so does the first access token.
    again = httpx.post(f"{sandbox.base_url}/oauth2/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
    assert again.status_code == 200, again.text
    assert again.json()["expires_in"] == 3600
    assert httpx.get(f"{sandbox.base_url}/oauth2/userinfo", headers=bearer(tokens)).status_code == 200
    assert httpx.get(f"{sandbox.base_url}/threat_models", headers=bearer(rotated.json())).status_code == 200


def test_1_8_token_cookies_as_go_writes_them(server18):
    """The real 1.8.22: both tokens as cookies with Max-Age (the refresh one for the refresh token's 7 days),
    cleared as `name=; ...; Max-Age=0`."""
    tokens = login(server18.base_url, "alice")
    rotated = httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    cookies = rotated.headers.get_list("set-cookie")
    new = rotated.json()
    assert cookies == [
        f"tmi_access_token={new['access_token']}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax",
        f"tmi_refresh_token={new['refresh_token']}; Path=/oauth2; Max-Age=604800; HttpOnly; SameSite=Strict",
    ]
    refused = httpx.post(f"{server18.base_url}/oauth2/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert "tmi_refresh_token=; Path=/oauth2; Max-Age=0; HttpOnly; SameSite=Strict" in refused.headers.get_list(
        "set-cookie"
    )
