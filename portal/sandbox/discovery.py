"""Public discovery endpoints: `GET /`, `/.well-known/openid-configuration`, and at 1.8 `/config`
(PROTOCOL.md 1, 9.1). The real 1.8.22 has no `/api/server-info` (404), whatever PROTOCOL.md 1.3 says."""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from portal.sandbox.config import SERVER_BUILDS
from portal.sandbox.state import SandboxState

SPEC_URLS = {
    "1.8": "https://github.com/ericfitz/tmi/blob/main/api-schema/tmi-openapi.json",
    "0.217": "https://github.com/ericfitz/tmi/blob/main/docs/reference/apis/tmi-openapi.json",
}
API_VERSIONS = {"1.8": SERVER_BUILDS["1.8"], "0.217": "1.0.0"}


def api_info(state: SandboxState) -> dict[str, Any]:
    generation = state.config.generation
    info: dict[str, Any] = {
        "status": {"code": "OK" if state.config.is_legacy else "ok", "time": state.timestamp()},
        "service": {"name": "TMI", "build": SERVER_BUILDS[generation]},
        "api": {"version": API_VERSIONS[generation], "specification": SPEC_URLS[generation]},
    }
    if state.config.is_legacy:  # always present at 0.217; 1.8 sends it only when an operator is configured
        info["operator"] = {"name": "", "contact": ""}
    return info


def client_config() -> dict[str, Any]:
    return {
        "features": {
            "websocket_enabled": True,
            "saml_enabled": False,
            "webhooks_enabled": True,
            "timmy_enabled": False,
        },
        "operator": {},
        "limits": {"max_file_upload_mb": 10, "max_diagram_participants": 10},
        "ui": {"default_theme": "auto"},
        # the real 1.8.22's default: documents fetched directly over https
        "content_providers": [{"id": "http", "kind": "direct", "name": "HTTP", "icon": "fa-solid fa-globe"}],
    }


def html_page(info: dict[str, Any]) -> str:
    body = html.escape(json.dumps(info, indent=2))
    return (
        f"<!DOCTYPE html><html><head><title>TMI</title></head><body><h1>TMI</h1>"
        f'<pre id="api-info">{body}</pre></body></html>'
    )


def routes(state: SandboxState) -> list[Route]:
    async def root(request: Request) -> Response:
        if state.config.root_delay_ms:
            await asyncio.sleep(state.config.root_delay_ms / 1000)
        info = api_info(state)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(html_page(info))
        return JSONResponse(info)

    async def config(request: Request) -> Response:
        return JSONResponse(client_config(), headers={"Cache-Control": "public, max-age=300", "Vary": "Accept"})

    async def openid_configuration(request: Request) -> Response:
        return JSONResponse(openid_configuration_body(state), headers={"Cache-Control": "public, max-age=3600"})

    found = [
        Route("/", root, methods=["GET"]),
        Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    ]
    if not state.config.is_legacy:
        found.append(Route("/config", config, methods=["GET"]))
    return found


def openid_configuration_body(state: SandboxState) -> dict[str, Any]:
    """What both real servers publish (2026-12-04); only 1.8 lists the client_credentials grant."""
    base = state.config.base_url.rstrip("/")
    grants = ["authorization_code", "refresh_token"] + ([] if state.config.is_legacy else ["client_credentials"])
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userinfo",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "scopes_supported": ["openid", "profile", "email"],
        "response_types_supported": ["code"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "email",
            "email_verified",
            "name",
            "given_name",
            "family_name",
            "picture",
            "locale",
        ],
        "code_challenge_methods_supported": ["S256"],
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "revocation_endpoint": f"{base}/oauth2/revoke",
    }
