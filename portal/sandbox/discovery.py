"""Public discovery endpoints: `GET /`, and at 1.8 `/config` and `/api/server-info` (PROTOCOL.md 1, 9.1)."""

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
        "content_providers": [],
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

    async def server_info(request: Request) -> Response:
        host = request.headers.get("host", request.url.netloc)
        return JSONResponse({"tls_enabled": False, "tls_subject_name": "", "websocket_base_url": f"ws://{host}/ws"})

    found = [Route("/", root, methods=["GET"])]
    if not state.config.is_legacy:
        found += [Route("/config", config, methods=["GET"]), Route("/api/server-info", server_info, methods=["GET"])]
    return found
