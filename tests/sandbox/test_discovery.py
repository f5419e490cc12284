"""GET /, /config, /.well-known/openid-configuration of both generations (PROTOCOL.md 1, 9.1)."""

from __future__ import annotations

import time
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


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_root_serves_html_to_browsers(sandbox):
    """A browser's Accept (it allows */*) gets the page; `text/html` alone is 406 (test_http_rules)."""
    response = httpx.get(f"{sandbox.base_url}/", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "service" in response.text and "TMI" in response.text


@pytest.mark.parametrize("path", ["/", "/oauth2/providers"])
def test_head_is_accepted_on_get_routes_at_18(sandbox, generation, path):
    response = httpx.head(f"{sandbox.base_url}{path}")
    assert response.content == b""
    # the real 0.217.8's router has no HEAD: a wrong method there, 400 (test_http_rules)
    assert response.status_code == (400 if generation == "0.217" else 200)


def test_config_is_1_8_only(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/config")
    if generation == "0.217":  # no such path: 401 without a token, as every unknown path there
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        return
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept"
    body = response.json()
    assert body["features"]["websocket_enabled"] is True
    assert body["ui"]["default_theme"] in ("auto", "light", "dark")
    assert set(body) == {"features", "operator", "limits", "ui", "content_providers"}
    assert body["content_providers"] == [{"id": "http", "kind": "direct", "name": "HTTP", "icon": "fa-solid fa-globe"}]


def test_there_is_no_server_info(sandbox):
    """The real 1.8.22 answers /api/server-info 404, as 0.217.8 does (PROTOCOL.md 1.3 said it existed)."""
    response = httpx.get(f"{sandbox.base_url}/api/server-info")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_openid_configuration(sandbox, generation):
    response = httpx.get(f"{sandbox.base_url}/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=3600"
    body = response.json()
    base = sandbox.state.config.base_url.rstrip("/")
    assert body["issuer"] == base and body["token_endpoint"] == f"{base}/oauth2/token"
    assert body["code_challenge_methods_supported"] == ["S256"]
    grants = ["authorization_code", "refresh_token"] + ([] if generation == "0.217" else ["client_credentials"])
    assert body["grant_types_supported"] == grants


def test_every_get_route_takes_head(sandbox):
    get_routes = [route for route in sandbox.app.routes if "GET" in (getattr(route, "methods", None) or ())]
    assert get_routes
    assert all("HEAD" in route.methods for route in get_routes)


BROWSER_IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def test_provider_icons_resolve_to_svg(sandbox, generation):
    """The icon /oauth2/providers names is served by the server itself (PROTOCOL.md 3.1), to a browser's <img>."""
    providers = httpx.get(f"{sandbox.base_url}/oauth2/providers").json()["providers"]
    assert providers
    for provider in providers:
        assert provider["icon"] == f"/static/provider-logos/signin/{provider['id']}.svg"
        response = httpx.get(f"{sandbox.base_url}{provider['icon']}", headers={"Accept": BROWSER_IMAGE_ACCEPT})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.content.lstrip().startswith(b"<svg")
    assert {p["id"] for p in providers} == {"tmi" if generation == "1.8" else "test"}


def test_generic_oauth_icon_is_served(sandbox):
    response = httpx.get(f"{sandbox.base_url}/static/provider-logos/signin/oauth.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize("name", ["nobody.svg", "tmi.png", "..%2Fsecret.svg"])
def test_unknown_icon_is_a_tmi_404(sandbox, generation, name):
    response = httpx.get(f"{sandbox.base_url}/static/provider-logos/signin/{name}")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert body["error_description"]
    if generation == "0.217":
        assert body["details"] is None


def test_icon_files_ship_with_the_package():
    import tomllib
    from pathlib import Path

    from portal.sandbox import static_files

    root = Path(__file__).resolve().parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(pattern.startswith("static/") for pattern in package_data["portal.sandbox"])
    for name in ("tmi.svg", "test.svg", "oauth.svg"):
        assert static_files.signin_logo(name).lstrip().startswith(b"<svg")


def test_get_root_can_be_made_as_slow_as_a_real_servers_health_checks(sandbox_factory):
    """root_delay_ms: a real GET / runs TMI's database and Redis checks (hundreds of ms); data calls do not."""
    server = sandbox_factory("1.8", seed=None, root_delay_ms=300)
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        started = time.monotonic()
        assert client.get("/").status_code == 200
        assert time.monotonic() - started >= 0.3
        assert client.get("/oauth2/providers").elapsed.total_seconds() < 0.3
