"""App-wide request checks: 404, 405, 406, Content-Type and strict JSON (PROTOCOL.md 2.1-2.3)."""

from __future__ import annotations

import httpx
import pytest

from portal.sandbox import seed
from portal.sandbox.http_rules import accept_ok, allowed_types
from tests.sandbox.helpers import authorize, bearer, pkce_pair

JSON = {"Content-Type": "application/json"}


def test_unknown_route_is_401_without_a_token_and_404_with_one(sandbox, generation):
    """Both real servers (2026-12-04): a path no route serves is 401 without a token, 404 with one; the
    /.well-known/ and /static/ trees and /api/server-info stay 404."""
    anonymous = httpx.get(f"{sandbox.base_url}/no/such/thing")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert httpx.get(f"{sandbox.base_url}/oauth2/nosuch").status_code == 401
    for open_path in ("/.well-known/nosuch", "/api/server-info"):
        assert httpx.get(f"{sandbox.base_url}{open_path}").status_code == 404, open_path
    tokens = sandbox.state.issue_tokens(seed.ensure_user(sandbox.state, "alice"))
    response = httpx.get(f"{sandbox.base_url}/no/such/thing", headers=bearer(tokens))
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["error_description"].startswith("The endpoint 'GET /no/such/thing' is not defined")
    assert ("details" in body) == (generation == "0.217")


def test_trailing_slash_is_a_different_route(sandbox):
    response = httpx.get(f"{sandbox.base_url}/.well-known/openid-configuration/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow_18", "allow_0217"),
    [
        ("DELETE", "/oauth2/token", "POST, OPTIONS", "POST"),
        ("POST", "/", "GET, HEAD, OPTIONS", "GET"),
    ],
)
def test_wrong_method_on_a_public_path(sandbox, generation, method, path, allow_18, allow_0217):
    """1.8.22: 405 with Allow in its order, OPTIONS last. 0.217.8: 400 invalid_input "method not allowed",
    Allow without HEAD."""
    response = httpx.request(method, f"{sandbox.base_url}{path}")
    if generation == "0.217":
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_input", "error_description": "method not allowed", "details": None}
        assert response.headers["allow"] == allow_0217
        return
    assert response.status_code == 405
    assert response.headers["allow"] == allow_18
    assert response.json()["error"] == "method_not_allowed"
    assert method in response.json()["error_description"]


def test_wrong_method_and_head_at_0217(sandbox_factory):
    """The real 0.217.8: a wrong method on a protected path is 401 without a token (Allow still sent) and
    400 with one; HEAD is a wrong method there (its router has none)."""
    server = sandbox_factory("0.217")
    tm = next(iter(server.state.threat_models))
    anonymous = httpx.put(f"{server.base_url}/threat_models")
    assert anonymous.status_code == 401 and anonymous.headers["allow"] == "GET, POST"
    alice = bearer(server.state.issue_tokens(seed.ensure_user(server.state, "alice")))
    wrong = httpx.post(f"{server.base_url}/threat_models/{tm}", headers={**alice, **JSON}, json={})
    assert wrong.status_code == 400 and wrong.json()["error_description"] == "method not allowed"
    assert wrong.headers["allow"] == "GET, DELETE, PATCH, PUT"
    head = httpx.head(f"{server.base_url}/threat_models", headers=alice)
    assert head.status_code == 400 and head.headers["allow"] == "GET, POST"
    assert httpx.head(f"{server.base_url}/threat_models").status_code == 401


def test_trailing_slash_redirects_at_0217_too(sandbox_factory):
    server = sandbox_factory("0.217")
    tm = next(iter(server.state.threat_models))
    for path, target in (("/threat_models/", "/threat_models"), (f"/threat_models/{tm}/", f"/threat_models/{tm}")):
        response = httpx.get(f"{server.base_url}{path}")  # no token needed
        assert response.status_code == 301 and response.headers["location"] == target


def test_wrong_method_wins_over_wrong_content_type(sandbox, generation):
    response = httpx.put(f"{sandbox.base_url}/oauth2/token", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == (400 if generation == "0.217" else 405)
    assert "allow" in response.headers


def test_an_accept_without_json_is_406(sandbox, generation):
    """Both real servers, with their own texts; GET / too (only a browser's Accept, which allows */*,
    gets the HTML page)."""
    text = {
        "1.8": "The requested Accept header media type is not supported by this server.",
        "0.217": "The requested Accept header media type is not supported. Supported types: application/json",
    }[generation]
    for path, accept in (
        ("/oauth2/providers", "application/xml"),
        ("/", "text/html"),
        ("/threat_models", "text/plain"),
    ):
        response = httpx.get(f"{sandbox.base_url}{path}", headers={"Accept": accept})
        assert response.status_code == 406, (path, accept)
        assert response.json()["error"] == "not_acceptable"
        assert response.json()["error_description"] == text


@pytest.mark.parametrize(
    "accept", ["", "application/json", "*/*", "application/*", "text/event-stream", "text/html, application/json;q=0.9"]
)
def test_acceptable_accept_values(accept):
    assert accept_ok(accept)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png, text/plain"])
def test_unacceptable_accept_values(accept):
    assert not accept_ok(accept)


def test_body_without_content_type_is_400(sandbox):
    response = httpx.post(f"{sandbox.base_url}/oauth2/token", content=b'{"grant_type": "x"}')
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"] == "Content-Type header is required for requests with a body"


def test_wrong_content_type_is_415(sandbox, generation):
    response = httpx.post(
        f"{sandbox.base_url}/oauth2/refresh", content=b"refresh_token=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert response.headers["accept"] == "application/json"
    if generation == "0.217":  # the real 0.217.8's gate: its own text and details
        assert response.json()["details"] == {
            "content_type": "text/plain",
            "supported": [
                "application/json",
                "application/json-patch+json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ],
        }
        # a type on its list that the operation does not take is its OpenAPI validator's 400
        form = httpx.post(f"{sandbox.base_url}/oauth2/refresh", data={"refresh_token": "x"})
        assert form.status_code == 400 and form.json()["error"] == "invalid_input"


def test_token_takes_a_form_only_at_1_8(sandbox, generation):
    response = httpx.post(f"{sandbox.base_url}/oauth2/token", data={"grant_type": "password"})
    if generation == "0.217":
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_input"
    else:
        assert response.json() == {"error": "Unsupported grant type: password"}


@pytest.mark.parametrize("raw", [b'{"grant_type": "a", "grant_type": "b"}', b'{"grant_type": "a"} trailing'])
def test_strict_json_at_1_8(sandbox_factory, raw):
    server = sandbox_factory("1.8", seed=None)
    response = httpx.post(f"{server.base_url}/oauth2/token", content=raw, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_input"


@pytest.mark.parametrize(
    ("generation", "method", "path", "expected"),
    [
        ("1.8", "PATCH", "/threat_models/abc", ("application/json-patch+json",)),
        ("1.8", "PATCH", "/threat_models/abc/metadata/bulk", ("application/json",)),
        ("1.8", "POST", "/oauth2/token", ("application/json", "application/x-www-form-urlencoded")),
        ("1.8", "PUT", "/threat_models/abc/diagrams/def", ("application/json",)),
        ("0.217", "POST", "/oauth2/token", ("application/json",)),
        ("0.217", "PATCH", "/threat_models/abc", ("application/json-patch+json",)),
    ],
)
def test_content_types_come_from_the_generation_spec(generation, method, path, expected):
    assert allowed_types(generation, method, path) == expected


def test_patch_needs_json_patch_before_authentication(sandbox, generation):
    """The content-type check runs before the JWT check, so no token is needed to see it."""
    path = f"{sandbox.base_url}/threat_models/00000000-0000-4000-8000-000000000000"
    response = httpx.patch(path, json=[{"op": "replace", "path": "/name", "value": "x"}])
    assert response.status_code == (400 if generation == "0.217" else 415)
    unauthenticated = httpx.patch(
        path,
        content=b'[{"op": "replace", "path": "/name", "value": "x"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert unauthenticated.status_code == 401


# -- seen on the real 1.8.22 (PROTOCOL.md 12) ---------------------------------------------------
def _a_diagram(server) -> tuple[str, str]:
    tm = next(tm for tm in server.state.threat_models.values() if tm.get("diagrams"))
    return tm["id"], tm["diagrams"][0]["id"]


def test_authentication_comes_before_the_method_check_at_18(sandbox_factory):
    server = sandbox_factory("1.8")
    tm, diagram = _a_diagram(server)
    collaborate = f"{server.base_url}/threat_models/{tm}/diagrams/{diagram}/collaborate"
    anonymous = httpx.patch(collaborate)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized" and "allow" not in anonymous.headers
    signed_in = httpx.patch(
        collaborate, headers=bearer(server.state.issue_tokens(seed.ensure_user(server.state, "alice")))
    )
    assert signed_in.status_code == 405 and signed_in.json()["error"] == "method_not_allowed"
    assert "GET" in signed_in.headers["allow"]
    malformed = httpx.put(f"{server.base_url}/threat_models", content=b'{"name": ', headers=JSON)
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_input"
    well_formed = httpx.put(f"{server.base_url}/threat_models", json={"name": "x"})
    assert well_formed.status_code == 401
    assert httpx.delete(f"{server.base_url}/oauth2/token").status_code == 405  # a public path has no token to check


def test_a_trailing_slash_on_threat_models_is_a_redirect_at_18(sandbox_factory):
    server = sandbox_factory("1.8")
    response = httpx.get(f"{server.base_url}/threat_models/", params={"limit": 5})
    assert response.status_code == 301
    assert response.headers["location"] == "/threat_models?limit=5"
    # Go's http.Redirect: a small HTML body, and no Cache-Control (the real 1.8.22)
    assert response.headers["content-type"] == "text/html; charset=utf-8" and "cache-control" not in response.headers
    assert response.text == '<a href="/threat_models?limit=5">Moved Permanently</a>.\n\n'
    assert (
        httpx.get(f"{server.base_url}/threat_models/", follow_redirects=False).headers["location"] == "/threat_models"
    )


def test_every_get_says_no_store_and_sends_no_validators_at_18(sandbox_factory):
    server = sandbox_factory("1.8")
    tokens = server.state.issue_tokens(seed.ensure_user(server.state, "alice"))
    tm = next(iter(server.state.threat_models))
    conditional = {**bearer(tokens), "If-None-Match": '"1"', "If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}
    for path in ("/threat_models", f"/threat_models/{tm}", f"/threat_models/{tm}/threats", "/oauth2/userinfo"):
        response = httpx.get(f"{server.base_url}{path}", headers=conditional)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store, no-cache, must-revalidate", path
        assert "etag" not in response.headers and "last-modified" not in response.headers, path
    missing = httpx.get(f"{server.base_url}/threat_models/{seed.sid('missing')}", headers=bearer(tokens))
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store, no-cache, must-revalidate"


def test_rest_calls_are_not_rate_limited_per_user_at_18(sandbox_factory):
    """1,001 calls in well under a minute, past the documented 1,000 a minute: all answered, with no
    X-RateLimit headers (PROTOCOL.md 2.5, 12.12)."""
    server = sandbox_factory("1.8")
    tokens = server.state.issue_tokens(seed.ensure_user(server.state, "alice"))
    with httpx.Client(base_url=server.base_url, headers=bearer(tokens), timeout=10) as client:
        answers = [client.get("/threat_models", params={"limit": 1}) for _ in range(1001)]
    assert {a.status_code for a in answers} == {200}
    assert not [h for a in answers for h in a.headers if h.lower().startswith("x-ratelimit")]


def test_an_http_request_to_a_socket_path_is_401(sandbox):
    """Both real servers: GET .../ws without an upgrade is 401 "Authentication required" (token or not)."""
    tm, diagram = _a_diagram(sandbox)
    path = f"{sandbox.base_url}/threat_models/{tm}/diagrams/{diagram}/ws"
    tokens = sandbox.state.issue_tokens(seed.ensure_user(sandbox.state, "alice"))
    for headers in ({}, bearer(tokens)):
        response = httpx.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error_description"] == "Authentication required"


def test_the_sign_in_redirect_has_go_s_html_body(sandbox):
    with httpx.Client(base_url=sandbox.base_url) as client:
        response = authorize(client, sandbox.state.config.test_idp, "alice", challenge=pkce_pair()[1])
    assert response.status_code == 302 and response.headers["content-type"] == "text/html; charset=utf-8"
    location = response.headers["location"]
    assert "&" in location and response.text == f'<a href="{location.replace("&", "&amp;")}">Found</a>.\n\n'


def test_every_answer_says_no_store_and_0217_204s_say_json(sandbox, generation):
    """Both real servers send `Cache-Control: no-store, no-cache, must-revalidate` on POST and DELETE answers
    too (a route's own Cache-Control wins); 0.217.8's 204s carry a JSON Content-Type."""
    alice = bearer(sandbox.state.issue_tokens(seed.ensure_user(sandbox.state, "alice")))
    created = httpx.post(f"{sandbox.base_url}/threat_models", headers=alice, json={"name": "Cache"})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store, no-cache, must-revalidate"
    deleted = httpx.delete(f"{sandbox.base_url}/threat_models/{created.json()['id']}", headers=alice)
    assert deleted.status_code == 204 and deleted.headers["cache-control"] == "no-store, no-cache, must-revalidate"
    assert deleted.headers.get("content-type") == ("application/json; charset=utf-8" if generation == "0.217" else None)
