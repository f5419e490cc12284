"""App-wide request checks: 404, 405, 406, Content-Type and strict JSON (PROTOCOL.md 2.1-2.3)."""

from __future__ import annotations

import httpx
import pytest

from portal.sandbox.http_rules import accept_ok, allowed_types

JSON = {"Content-Type": "application/json"}


def test_unknown_route_is_tmi_not_found(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/no/such/thing")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["error_description"].startswith("The endpoint 'GET /no/such/thing' is not defined")
    assert ("details" in body) == (generation == "0.217")


def test_trailing_slash_is_a_different_route(sandbox):
    response = httpx.get(f"{sandbox.base_url}/oauth2/providers/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/oauth2/token", "POST"),
        ("POST", "/", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(sandbox, method, path, allow):
    response = httpx.request(method, f"{sandbox.base_url}{path}")
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"] == "method_not_allowed"
    assert method in response.json()["error_description"]


def test_wrong_method_wins_over_wrong_content_type(sandbox):
    response = httpx.put(f"{sandbox.base_url}/oauth2/token", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 405


def test_unacceptable_accept_is_406_at_1_8_only(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/oauth2/providers", headers={"Accept": "application/xml"})
    if generation == "0.217":
        assert response.status_code == 200
        return
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


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


def test_wrong_content_type_is_415_at_1_8(sandbox, generation):
    response = httpx.post(
        f"{sandbox.base_url}/oauth2/refresh", content=b"refresh_token=x", headers={"Content-Type": "text/plain"}
    )
    if generation == "0.217":  # no 415 at 0.217: the OpenAPI validator answers 400
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_input"
        return
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert response.headers["accept"] == "application/json"


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
