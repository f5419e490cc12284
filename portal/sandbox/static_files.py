"""The files TMI embeds and serves under `/static/` (PROTOCOL.md 3.1): the sign-in provider logos
that `GET /oauth2/providers` points at (`/static/provider-logos/signin/<id>.svg`, or `oauth.svg`).

The sandbox ships small hand-drawn SVGs for its test IdPs (`tmi` at 1.8, `test` at 0.217) and the
generic `oauth.svg` in `portal/sandbox/static/`. These routes go through the app-wide request rules
like every other: at 1.8 a browser's image Accept (`image/avif,...,*/*;q=0.8`) includes `*/*`, so it
passes the 406 check. An unknown file is a 404 with TMI's error body.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.sandbox.errors import tmi_error
from portal.sandbox.state import SandboxState

STATIC = Path(__file__).parent / "static"
SIGNIN_LOGOS = STATIC / "provider-logos" / "signin"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.svg$")


def signin_logo(name: str) -> bytes | None:
    """The embedded logo file `name` (e.g. `tmi.svg`), or None when there is none."""
    if not _NAME.match(name):
        return None
    path = SIGNIN_LOGOS / name
    return path.read_bytes() if path.is_file() else None


def routes(state: SandboxState) -> list[Route]:
    async def logo(request: Request) -> Response:
        name = request.path_params["name"]
        body = signin_logo(name)
        if body is None:
            return tmi_error(state, 404, "not_found", f"Static file 'provider-logos/signin/{name}' not found")
        return Response(
            body,
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    return [Route("/static/provider-logos/signin/{name}", logo, methods=["GET"])]
