"""Who is calling: the sandbox's one way to read credentials off an HTTP request (PROTOCOL.md 3.11, 9.2).

REST, collaboration and OAuth routes all import `authenticate` and `unauthorized` from here, so
the Bearer and cookie rules of both generations live in one place.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from portal.sandbox.errors import tmi_error
from portal.sandbox.state import SandboxState, SandboxUser

ACCESS_COOKIE = "tmi_access_token"
REFRESH_COOKIE = "tmi_refresh_token"


def bearer_token(state: SandboxState, request: HTTPConnection) -> str | None:
    """The presented access token, unverified. 1.8: case-insensitive scheme word, then the
    access cookie; 0.217: exactly `Bearer`, and no cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if state.config.is_legacy:
        return token or None if scheme == "Bearer" else None
    if scheme.lower() == "bearer" and token:
        return token
    if header:  # a malformed Authorization header is not rescued by the cookie
        return None
    return request.cookies.get(ACCESS_COOKIE) or None


def authenticate(state: SandboxState, request: HTTPConnection) -> SandboxUser | None:
    """The caller, or None when the token is missing, invalid, expired or revoked."""
    token = bearer_token(state, request)
    return state.user_from_access_token(token) if token else None


def unauthorized(state: SandboxState) -> JSONResponse:
    """The JWT middleware's 401: TMI's error body and no WWW-Authenticate header (PROTOCOL.md 2.2)."""
    return tmi_error(state, 401, "unauthorized", "Authentication required")


def _cookie(name: str, value: str, *, path: str, max_age: int, samesite: str) -> str:
    """A Set-Cookie value as Go's net/http writes it (the real 1.8.22): no quotes, Max-Age, no Expires."""
    return f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={samesite}"


def set_token_cookies(response: Response, tokens: dict[str, Any], *, refresh_seconds: int = 7 * 86400) -> None:
    """1.8 sets both tokens as cookies on every token response (PROTOCOL.md 3.5); the refresh cookie lives as
    long as the refresh token (Max-Age=604800 on the real 1.8.22)."""
    response.headers.append(
        "set-cookie",
        _cookie(ACCESS_COOKIE, tokens["access_token"], path="/", max_age=tokens["expires_in"], samesite="Lax"),
    )
    response.headers.append(
        "set-cookie",
        _cookie(REFRESH_COOKIE, tokens["refresh_token"], path="/oauth2", max_age=refresh_seconds, samesite="Strict"),
    )


def clear_token_cookies(response: Response) -> None:
    """`name=; ...; Max-Age=0`, as the real 1.8.22 clears them."""
    response.headers.append("set-cookie", _cookie(ACCESS_COOKIE, "", path="/", max_age=0, samesite="Lax"))
    response.headers.append("set-cookie", _cookie(REFRESH_COOKIE, "", path="/oauth2", max_age=0, samesite="Strict"))
