"""GET /, /config and /api/server-info of both generations (PROTOCOL.md 1, 9.1)."""
from __future__ import annotations

from datetime import datetime

import httpx
import pytest


def test_root_reports_the_generation(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/")
    assert response.status_code == 200
    info = response.json()
    assert info["service"]["name"] == "TMI"
    datetime.fromisoformat(info["status"]["time"].replace("Z", "+00:00"))
    if generation == "1.8":
        assert info["status"]["code"] == "ok"
        assert info["service"]["build"] == "1.8.22"
        assert info["api"]["version"] == "1.8.22"
        assert info["api"]["specification"].endswith("/api-schema/tmi-openapi.json")
        assert "operator" not in info  # only when an operator is configured
    else:
        assert info["status"]["code"] == "OK"
        assert info["service"]["build"] == "0.217.1-development"
        assert info["api"]["version"] == "1.0.0"
        assert info["operator"] == {"name": "", "contact": ""}
    assert "health" not in info


def test_root_serves_html_to_browsers(sandbox):
    response = httpx.get(f"{sandbox.base_url}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "service" in response.text and "TMI" in response.text


@pytest.mark.parametrize("path", ["/", "/oauth2/providers"])
def test_head_is_accepted_on_get_routes(sandbox, path):
    response = httpx.head(f"{sandbox.base_url}{path}")
    assert response.status_code == 200
    assert response.content == b""


def test_config_is_1_8_only(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/config")
    if generation == "0.217":
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        return
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept"
    body = response.json()
    assert body["features"]["websocket_enabled"] is True
    assert body["ui"]["default_theme"] in ("auto", "light", "dark")
    assert set(body) == {"features", "operator", "limits", "ui", "content_providers"}


def test_server_info_is_1_8_only(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/api/server-info")
    if generation == "0.217":
        assert response.status_code == 404
        return
    host = sandbox.base_url.removeprefix("http://")
    assert response.json() == {"tls_enabled": False, "tls_subject_name": "", "websocket_base_url": f"ws://{host}/ws"}


def test_every_get_route_takes_head(sandbox):
    get_routes = [route for route in sandbox.app.routes if "GET" in (getattr(route, "methods", None) or ())]
    assert get_routes
    assert all("HEAD" in route.methods for route in get_routes)
